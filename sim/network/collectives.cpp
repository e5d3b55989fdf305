#include "sim/network/collectives.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

namespace clustercost {

namespace {

constexpr int kNone = -1;

void check_size(Bytes size) {
  if (!std::isfinite(size.value) || size.value < 0.0)
    throw std::invalid_argument("collective size must be finite and >= 0 bytes");
}

void check_chunks(int chunks) {
  if (chunks < 1) throw std::invalid_argument("collective chunks must be >= 1");
}

void check_distinct(std::span<const int> group) {
  if (group.empty()) throw std::invalid_argument("collective group is empty");
  std::vector<int> sorted(group.begin(), group.end());
  std::sort(sorted.begin(), sorted.end());
  if (sorted.front() < 0) throw std::invalid_argument("collective group has a negative GPU id");
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw std::invalid_argument("collective group has GPU " +
                                std::to_string(*std::adjacent_find(sorted.begin(), sorted.end())) +
                                " twice");
}

std::uint32_t add(TransferDag& dag, int src, int dst, Bytes bytes, int step,
                  std::vector<std::uint32_t> deps) {
  const auto id = static_cast<std::uint32_t>(dag.transfers.size());
  dag.transfers.push_back(Transfer{src, dst, bytes, step, std::move(deps)});
  dag.steps = std::max(dag.steps, step + 1);
  return id;
}

// `steps` ring steps over `ring` (position i sends to i+1), each send carrying `chunk`.
// A send at step k needs the previous step's receive (the data it forwards) and the rank's own
// previous send (a rank works through its steps in order; this also chains every step to
// ready[i], the transfer after which the rank's input for this phase is complete, or kNone).
// Returns, per position, the index of its last receive (ready[i] when there was none).
std::vector<int> append_ring(TransferDag& dag, const std::vector<int>& ring, Bytes chunk, int steps,
                             int step_offset, const std::vector<int>& ready) {
  const int n = static_cast<int>(ring.size());
  std::vector<int> last_recv = ready;
  if (n < 2 || steps <= 0) return last_recv;
  std::vector<int> prev_send(static_cast<std::size_t>(n), kNone);
  std::vector<int> prev_recv(static_cast<std::size_t>(n), kNone);
  for (int k = 0; k < steps; ++k) {
    std::vector<int> recv(static_cast<std::size_t>(n), kNone);
    for (int i = 0; i < n; ++i) {
      const auto ui = static_cast<std::size_t>(i);
      std::vector<std::uint32_t> deps;
      if (k == 0) {
        if (ready[ui] != kNone) deps.push_back(static_cast<std::uint32_t>(ready[ui]));
      } else {
        deps.push_back(static_cast<std::uint32_t>(prev_recv[ui]));
        deps.push_back(static_cast<std::uint32_t>(prev_send[ui]));
      }
      const int next = (i + 1) % n;
      const auto id = add(dag, ring[ui], ring[static_cast<std::size_t>(next)], chunk,
                          step_offset + k, std::move(deps));
      prev_send[ui] = static_cast<int>(id);
      recv[static_cast<std::size_t>(next)] = static_cast<int>(id);
    }
    prev_recv = recv;
  }
  for (int i = 0; i < n; ++i)
    last_recv[static_cast<std::size_t>(i)] = prev_recv[static_cast<std::size_t>(i)];
  return last_recv;
}

TransferDag ring_collective(std::span<const int> group, Bytes size, int steps_per_chunk_round) {
  check_size(size);
  const std::vector<int> ring = ring_order(group);
  const int n = static_cast<int>(ring.size());
  TransferDag dag;
  if (n < 2) return dag;
  append_ring(dag, ring, size / n, steps_per_chunk_round * (n - 1), 0,
              std::vector<int>(static_cast<std::size_t>(n), kNone));
  return dag;
}

// Balanced in-order binary tree over [lo, hi), positions mapped through `pos`.
int build_subtree(BinaryTree& t, int lo, int hi, int parent, int depth,
                  const std::function<int(int)>& pos) {
  if (lo >= hi) return kNone;
  const int mid = lo + (hi - lo) / 2;
  const int v = pos(mid);
  const auto uv = static_cast<std::size_t>(v);
  t.parent[uv] = parent;
  t.depth[uv] = depth;
  t.height = std::max(t.height, depth);
  t.children[uv][0] = build_subtree(t, lo, mid, v, depth + 1, pos);
  t.children[uv][1] = build_subtree(t, mid + 1, hi, v, depth + 1, pos);
  return v;
}

}  // namespace

const char* to_string(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::AllReduce: return "all-reduce";
    case CollectiveKind::ReduceScatter: return "reduce-scatter";
    case CollectiveKind::AllGather: return "all-gather";
    case CollectiveKind::Broadcast: return "broadcast";
    case CollectiveKind::SendRecv: return "send-recv";
    case CollectiveKind::AllToAll: return "all-to-all";
  }
  return "unknown";
}

double bus_bandwidth_factor(CollectiveKind kind, int n) {
  if (n < 1) throw std::invalid_argument("bus_bandwidth_factor: n must be >= 1");
  const double nn = n;
  switch (kind) {
    case CollectiveKind::AllReduce: return 2.0 * (nn - 1.0) / nn;
    case CollectiveKind::ReduceScatter:
    case CollectiveKind::AllGather:
    case CollectiveKind::AllToAll: return (nn - 1.0) / nn;
    case CollectiveKind::Broadcast:
    case CollectiveKind::SendRecv: return 1.0;
  }
  return 1.0;
}

Bytes TransferDag::total_bytes() const {
  Bytes b;
  for (const Transfer& t : transfers) b += t.bytes;
  return b;
}

Bytes TransferDag::bytes_sent_by(int gpu) const {
  Bytes b;
  for (const Transfer& t : transfers)
    if (t.src == gpu) b += t.bytes;
  return b;
}

Bytes TransferDag::bytes_received_by(int gpu) const {
  Bytes b;
  for (const Transfer& t : transfers)
    if (t.dst == gpu) b += t.bytes;
  return b;
}

std::vector<int> ring_order(std::span<const int> group) {
  check_distinct(group);
  std::vector<int> ring(group.begin(), group.end());
  std::sort(ring.begin(), ring.end());
  return ring;
}

TransferDag ring_all_reduce(std::span<const int> group, Bytes size) {
  return ring_collective(group, size, 2);
}

TransferDag ring_reduce_scatter(std::span<const int> group, Bytes size) {
  return ring_collective(group, size, 1);
}

TransferDag ring_all_gather(std::span<const int> group, Bytes size) {
  return ring_collective(group, size, 1);
}

std::array<BinaryTree, 2> double_binary_tree(int n) {
  if (n < 1) throw std::invalid_argument("double_binary_tree: n must be >= 1");
  std::array<BinaryTree, 2> trees;
  for (int t = 0; t < 2; ++t) {
    BinaryTree& tree = trees[static_cast<std::size_t>(t)];
    const auto un = static_cast<std::size_t>(n);
    tree.parent.assign(un, kNone);
    tree.children.assign(un, {kNone, kNone});
    tree.depth.assign(un, 0);
    const int shift = t;
    tree.root = build_subtree(tree, 0, n, kNone, 0, [&](int p) { return (p + shift) % n; });
  }
  return trees;
}

TransferDag tree_all_reduce(std::span<const int> group, Bytes size, int chunks) {
  check_size(size);
  check_chunks(chunks);
  const std::vector<int> ring = ring_order(group);
  const int n = static_cast<int>(ring.size());
  TransferDag dag;
  if (n < 2) return dag;
  const auto trees = double_binary_tree(n);
  const Bytes piece = size / (2.0 * chunks);
  const auto un = static_cast<std::size_t>(n);
  auto gpu = [&](int p) { return ring[static_cast<std::size_t>(p)]; };
  for (const BinaryTree& tree : trees) {
    // Positions by depth: deepest first for the reduction, root first for the broadcast.
    std::vector<int> by_depth(un);
    for (int p = 0; p < n; ++p) by_depth[static_cast<std::size_t>(p)] = p;
    std::stable_sort(by_depth.begin(), by_depth.end(), [&](int a, int b) {
      return tree.depth[static_cast<std::size_t>(a)] > tree.depth[static_cast<std::size_t>(b)];
    });
    std::vector<int> up_prev(un, kNone), down_prev(un, kNone);  // same edge, previous piece
    for (int c = 0; c < chunks; ++c) {
      std::vector<int> up(un, kNone), down(un, kNone);  // transfer into parent / from parent
      for (int p : by_depth) {
        const auto pu = static_cast<std::size_t>(p);
        if (tree.parent[pu] == kNone) continue;
        std::vector<std::uint32_t> deps;
        for (int ch : tree.children[pu])
          if (ch != kNone)
            deps.push_back(static_cast<std::uint32_t>(up[static_cast<std::size_t>(ch)]));
        if (up_prev[pu] != kNone) deps.push_back(static_cast<std::uint32_t>(up_prev[pu]));
        up[pu] = static_cast<int>(add(dag, gpu(p), gpu(tree.parent[pu]), piece,
                                      c + tree.height - tree.depth[pu], std::move(deps)));
        up_prev[pu] = up[pu];
      }
      for (auto it = by_depth.rbegin(); it != by_depth.rend(); ++it) {
        const int p = *it;
        const auto pu = static_cast<std::size_t>(p);
        for (int ch : tree.children[pu]) {
          if (ch == kNone) continue;
          const auto uc = static_cast<std::size_t>(ch);
          std::vector<std::uint32_t> deps;
          if (tree.parent[pu] == kNone) {
            // The root holds the reduced piece once all its children have sent theirs.
            for (int rc : tree.children[pu])
              if (rc != kNone)
                deps.push_back(static_cast<std::uint32_t>(up[static_cast<std::size_t>(rc)]));
          } else {
            deps.push_back(static_cast<std::uint32_t>(down[pu]));
          }
          if (down_prev[uc] != kNone) deps.push_back(static_cast<std::uint32_t>(down_prev[uc]));
          down[uc] = static_cast<int>(
              add(dag, gpu(p), gpu(ch), piece, c + tree.height + tree.depth[pu], std::move(deps)));
          down_prev[uc] = down[uc];
        }
      }
    }
  }
  return dag;
}

TransferDag hierarchical_all_reduce(std::span<const int> group, Bytes size, int local_size) {
  check_size(size);
  if (local_size < 1)
    throw std::invalid_argument("hierarchical_all_reduce: local_size must be >= 1");
  const std::vector<int> ring = ring_order(group);
  std::map<int, std::vector<int>> locals;  // local group key → GPUs, sorted
  for (int g : ring) locals[g / local_size].push_back(g);
  const std::size_t m = locals.begin()->second.size();
  for (const auto& [key, gpus] : locals)
    if (gpus.size() != m)
      throw std::invalid_argument("hierarchical_all_reduce: local groups of unequal size (" +
                                  std::to_string(gpus.size()) + " vs " + std::to_string(m) + ")");
  const auto k = locals.size();
  TransferDag dag;
  if (ring.size() < 2) return dag;
  const int mi = static_cast<int>(m);
  const int ki = static_cast<int>(k);

  // ready[g]: the transfer after which g holds this phase's input (kNone at the start).
  std::map<int, int> ready;
  for (int g : ring) ready[g] = kNone;
  auto run_ring = [&](const std::vector<int>& r, Bytes chunk, int steps, int offset) {
    std::vector<int> start;
    start.reserve(r.size());
    for (int g : r) start.push_back(ready[g]);
    const std::vector<int> done = append_ring(dag, r, chunk, steps, offset, start);
    for (std::size_t i = 0; i < r.size(); ++i) ready[r[i]] = done[i];
  };

  // 1. Reduce-scatter inside each local group: each GPU ends with size/m reduced over it.
  for (const auto& [key, gpus] : locals) run_ring(gpus, size / mi, mi - 1, 0);
  // 2. For each local position j, all-reduce its size/m shard across the local groups.
  for (std::size_t j = 0; j < m; ++j) {
    std::vector<int> r;
    r.reserve(k);
    for (const auto& [key, gpus] : locals) r.push_back(gpus[j]);
    run_ring(r, size / (mi * ki), 2 * (ki - 1), mi - 1);
  }
  // 3. All-gather the shards inside each local group.
  for (const auto& [key, gpus] : locals) run_ring(gpus, size / mi, mi - 1, (mi - 1) + 2 * (ki - 1));
  return dag;
}

TransferDag broadcast(std::span<const int> group, int root, Bytes size, int chunks) {
  check_size(size);
  check_chunks(chunks);
  std::vector<int> ring = ring_order(group);
  const auto it = std::find(ring.begin(), ring.end(), root);
  if (it == ring.end())
    throw std::invalid_argument("broadcast: root GPU " + std::to_string(root) +
                                " is not in the group");
  std::rotate(ring.begin(), it, ring.end());
  const int n = static_cast<int>(ring.size());
  TransferDag dag;
  if (n < 2) return dag;
  const Bytes piece = size / chunks;
  // hop[h] = transfer of the previous piece over hop h (the sender forwards pieces in order).
  std::vector<int> prev_piece(static_cast<std::size_t>(n - 1), kNone);
  for (int c = 0; c < chunks; ++c) {
    int prev_hop = kNone;
    for (int h = 0; h + 1 < n; ++h) {
      const auto uh = static_cast<std::size_t>(h);
      std::vector<std::uint32_t> deps;
      if (prev_hop != kNone) deps.push_back(static_cast<std::uint32_t>(prev_hop));
      if (prev_piece[uh] != kNone) deps.push_back(static_cast<std::uint32_t>(prev_piece[uh]));
      const auto id = add(dag, ring[uh], ring[uh + 1], piece, c + h, std::move(deps));
      prev_hop = static_cast<int>(id);
      prev_piece[uh] = static_cast<int>(id);
    }
  }
  return dag;
}

TransferDag send_recv(int src, int dst, Bytes size) {
  check_size(size);
  const int pair[2] = {src, dst};
  check_distinct(pair);
  TransferDag dag;
  add(dag, src, dst, size, 0, {});
  return dag;
}

TransferDag all_to_all(std::span<const int> group, Bytes size) {
  check_size(size);
  const std::vector<int> ranks = ring_order(group);
  const int n = static_cast<int>(ranks.size());
  TransferDag dag;
  if (n < 2) return dag;
  dag.transfers.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(n - 1));
  const Bytes share = size / n;
  for (int src : ranks)
    for (int dst : ranks)
      if (src != dst) add(dag, src, dst, share, 0, {});
  return dag;
}

TransferDag all_to_all_v(std::span<const int> group, std::span<const double> bytes) {
  check_distinct(group);
  const std::size_t n = group.size();
  if (bytes.size() != n * n)
    throw std::invalid_argument("all_to_all_v: expected an n x n byte matrix (" +
                                std::to_string(n * n) + " entries), got " +
                                std::to_string(bytes.size()));
  TransferDag dag;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const double b = bytes[i * n + j];
      if (!std::isfinite(b) || b < 0.0)
        throw std::invalid_argument("all_to_all_v: byte counts must be finite and >= 0");
      if (i != j && b > 0.0) add(dag, group[i], group[j], Bytes(b), 0, {});
    }
  }
  return dag;
}

}  // namespace clustercost

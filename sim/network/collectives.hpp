#pragma once
/// Collective algorithms decomposed into point-to-point transfers.
///
/// A collective over a group of GPU ids becomes a TransferDag: transfers {src, dst, bytes,
/// step, deps}, where `deps` are the transfers whose data must have arrived before this one can
/// start (a ring forwards what it just received; a tree parent sends up once all its children
/// have). `step` is the algorithm's round, for traces and for the lock-step α-β view; the DAG
/// itself only needs `deps`. Executing the DAG on the network (sim/step, flow_model) gives the
/// collective's time under contention; analytical.hpp gives the closed-form α-β time.
///
/// Conventions:
///  - `size` is the nccl-tests "size": the whole buffer of one rank (all-reduce, broadcast,
///    send/recv), the full gathered / scattered buffer (all-gather, reduce-scatter: n chunks of
///    size/n), the send buffer of one rank (all-to-all: size/n to each peer, one share to self).
///  - Rings visit the group in increasing GPU id. GPU ids are node-major (topology.hpp), so the
///    GPUs of a node are contiguous in the ring and a ring over k full nodes crosses the network
///    k times, as NCCL's rings do.
///  - Groups must hold distinct, non-negative GPU ids; violations are programming errors
///    (std::invalid_argument), not user input. A group of one GPU gives an empty DAG.

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "sim/common/units.hpp"

namespace clustercost {

enum class CollectiveKind : unsigned char {
  AllReduce,
  ReduceScatter,
  AllGather,
  Broadcast,
  SendRecv,
  AllToAll,
};

/// "all-reduce", "reduce-scatter", "all-gather", "broadcast", "send-recv", "all-to-all".
const char* to_string(CollectiveKind kind);

/// nccl-tests bus-bandwidth factor (doc/PERFORMANCE.md of nccl-tests): 2(n−1)/n for all-reduce,
/// (n−1)/n for all-gather, reduce-scatter and all-to-all, 1 for broadcast and send/recv, so
/// busbw = algbw · factor is comparable with the link rate whatever n is.
double bus_bandwidth_factor(CollectiveKind kind, int n);

struct Transfer {
  int src = 0;  ///< GPU id
  int dst = 0;  ///< GPU id
  Bytes bytes;
  int step = 0;
  std::vector<std::uint32_t> deps;  ///< indices of transfers that must complete first
};

struct TransferDag {
  std::vector<Transfer> transfers;
  int steps = 0;  ///< 1 + the largest step index (0 when empty)

  Bytes total_bytes() const;
  Bytes bytes_sent_by(int gpu) const;
  Bytes bytes_received_by(int gpu) const;
};

/// The group sorted by GPU id (the ring order); checks it (std::invalid_argument).
std::vector<int> ring_order(std::span<const int> group);

/// Ring all-reduce: reduce-scatter then all-gather, 2(n−1) steps of size/n per rank.
TransferDag ring_all_reduce(std::span<const int> group, Bytes size);
/// Ring reduce-scatter of a `size` buffer: n−1 steps of size/n per rank.
TransferDag ring_reduce_scatter(std::span<const int> group, Bytes size);
/// Ring all-gather into a `size` buffer: n−1 steps of size/n per rank.
TransferDag ring_all_gather(std::span<const int> group, Bytes size);

/// A binary tree over positions 0..n−1 of a group.
struct BinaryTree {
  int root = -1;
  std::vector<int> parent;                   ///< −1 at the root
  std::vector<std::array<int, 2>> children;  ///< −1 where absent
  std::vector<int> depth;                    ///< root 0
  int height = 0;                            ///< largest depth
};

/// NCCL's double binary tree (Sanders, Speck, Träff, "Two-tree algorithms for full bandwidth
/// broadcast, reduction and scan", Parallel Computing 2009; NCCL ≥ 2.4): tree 0 is the
/// balanced in-order binary tree over positions 0..n−1 (its leaves are every other position);
/// tree 1 is tree 0 with every position shifted by one, so a rank that is a leaf in one tree is
/// an inner node in the other and every rank's sending load is balanced.
std::array<BinaryTree, 2> double_binary_tree(int n);

/// Tree all-reduce on the double binary tree: each tree reduces then broadcasts half of the
/// buffer; each half is cut into `chunks` pieces that are pipelined (a node forwards piece c
/// as soon as it has it). Depends on the tree positions of the ring order.
TransferDag tree_all_reduce(std::span<const int> group, Bytes size, int chunks = 1);

/// Hierarchical all-reduce: the group is cut into local groups of GPUs with the same
/// gpu / local_size (a node, or a scale-up domain); all local groups must be the same size m.
/// Intra-local ring reduce-scatter of `size` → m concurrent inter-local ring all-reduces of
/// size/m among the GPUs at the same local position → intra-local ring all-gather.
TransferDag hierarchical_all_reduce(std::span<const int> group, Bytes size, int local_size);

/// Pipelined chain broadcast from `root` (a member of the group) along the ring order rotated
/// to start at the root, `size` cut into `chunks` pieces: piece c leaves hop h at step c + h.
TransferDag broadcast(std::span<const int> group, int root, Bytes size, int chunks = 1);

/// One point-to-point transfer.
TransferDag send_recv(int src, int dst, Bytes size);

/// Direct all-to-all: every rank sends size/n to every other rank, all at step 0.
TransferDag all_to_all(std::span<const int> group, Bytes size);

/// Direct all-to-all with per-pair sizes: `bytes` is n×n row-major, bytes[i·n + j] from
/// group[i] to group[j] (the diagonal stays local; zero entries make no transfer). Entries must
/// be finite and ≥ 0. Pairs are in the group's given order (not sorted).
TransferDag all_to_all_v(std::span<const int> group, std::span<const double> bytes);

}  // namespace clustercost

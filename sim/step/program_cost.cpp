#include "sim/step/program_cost.hpp"

#include <algorithm>
#include <tuple>

#include "hardware/efficiency/grouped_gemm.hpp"
#include "sim/step/fabric_efficiency.hpp"
#include "sim/network/analytical.hpp"
#include "sim/network/collective_runs.hpp"
#include "sim/workload/rank_layout.hpp"

namespace clustercost {

namespace {

/// The GPUs of each parallel group of a stage (replica 0, rank 0 in the other dimensions).
struct Groups {
  std::vector<int> tp, cp, dp, dp_expert;
  int gpu = 0, next_stage_gpu = -1;
};

Groups groups_of(const Scenario& s, const RankLayout& layout, int stage) {
  const auto& par = s.parallelism;
  Groups g;
  for (int t = 0; t < par.tp; ++t) g.tp.push_back(static_cast<int>(layout.gpu({t, 0, 0, stage})));
  for (int c = 0; c < par.cp; ++c) g.cp.push_back(static_cast<int>(layout.gpu({0, c, 0, stage})));
  for (std::int64_t d = 0; d < par.dp; ++d)
    for (int c = 0; c < par.cp; ++c) {
      const int gpu = static_cast<int>(layout.gpu({0, c, d, stage}));
      g.dp.push_back(gpu);
      // The expert-data-parallel group of EP rank 0: every ep-th rank of the cp·dp ranks.
      if ((c + static_cast<std::int64_t>(par.cp) * d) % par.ep == 0) g.dp_expert.push_back(gpu);
    }
  g.gpu = static_cast<int>(layout.gpu({0, 0, 0, stage}));
  if (stage + 1 < par.pp) g.next_stage_gpu = static_cast<int>(layout.gpu({0, 0, 0, stage + 1}));
  return g;
}

/// Prices collectives of one stage, memoised by (kind, group, bytes).
class CollectivePricer {
 public:
  CollectivePricer(const Scenario& s, const Topology& topo, const MoeCosts* moe, Groups g)
      : s_(s), topo_(topo), moe_(moe), g_(std::move(g)) {
    eff_ = fabric_efficiency(s);
  }

  Seconds time(const Op& op, int moe_index) {
    if (op.collective == OpCollective::None) return Seconds(0);
    if (op.group == ParallelGroup::Ep) return ep_time(op, moe_index);
    const std::vector<int>* group = nullptr;
    switch (op.group) {
      case ParallelGroup::Tp: group = &g_.tp; break;
      case ParallelGroup::Cp: group = &g_.cp; break;
      case ParallelGroup::Dp: group = &g_.dp; break;
      case ParallelGroup::DpExpert: group = &g_.dp_expert; break;
      default: break;
    }
    if (op.collective == OpCollective::SendRecv) {
      if (g_.next_stage_gpu < 0) return Seconds(0);
      return send_recv_cost(topo_, g_.gpu, g_.next_stage_gpu, op.comm_bytes, eff_).time;
    }
    if (!group || group->size() < 2) return Seconds(0);
    const auto key = std::make_tuple(static_cast<int>(op.collective), static_cast<int>(op.group),
                                     op.comm_bytes.value);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    Seconds t(0);
    switch (op.collective) {
      // NCCL picks ring, tree or NVLS by size (sim/network/collective_runs.hpp owns the choice).
      case OpCollective::AllReduce:
        t = nccl_algorithm(topo_, CollectiveKind::AllReduce, *group, op.comm_bytes, eff_).cost.time;
        break;
      case OpCollective::ReduceScatter:
        t = nccl_algorithm(topo_, CollectiveKind::ReduceScatter, *group, op.comm_bytes, eff_).cost.time;
        break;
      case OpCollective::AllGather:
        t = nccl_algorithm(topo_, CollectiveKind::AllGather, *group, op.comm_bytes, eff_).cost.time;
        break;
      case OpCollective::RingExchange: {
        // Each rank passes its K/V chunk around the ring: the traffic of an all-gather of
        // cp chunks (op.comm_bytes holds the cp−1 chunks a rank receives).
        const double n = static_cast<double>(group->size());
        t = ring_all_gather_cost(topo_, *group, op.comm_bytes * (n / (n - 1.0)), eff_).time;
        break;
      }
      default: break;
    }
    memo_.emplace(key, t);
    return t;
  }

 private:
  Seconds ep_time(const Op& op, int moe_index) const { return ep_collective_time(op, moe_index, moe_); }

  const Scenario& s_;
  const Topology& topo_;
  const MoeCosts* moe_;
  Groups g_;
  FabricEfficiency eff_;
  std::map<std::tuple<int, int, double>, Seconds> memo_;
};

std::string category_key(const Op& op) {
  std::string key = op_category_name(op.category);
  if (op.kernel.op_class == OpClass::Gemm || op.kernel.op_class == OpClass::GroupedGemm)
    key += std::string(".") + op.kernel.precision + "." + gemm_role_name(op.kernel.role);
  return key;
}

}  // namespace

double program_compute_fraction(const Scenario& s) {
  return s.parallelism.comm_sms > 0
             ? sm_compute_fraction(static_cast<int>(s.gpu.sms.get()), s.parallelism.comm_sms)
             : 1.0;
}

Seconds compute_op_time(const Scenario& s, const Op& op, double compute_fraction) {
  if (op.is_collective()) return Seconds(0);
  return kernel_cost(s.gpu, s.profile, op.kernel, compute_fraction);
}

Seconds ep_collective_time(const Op& op, int moe_index, const MoeCosts* moe) {
  if (!moe || moe->samples.empty() || moe_index < 0) return Seconds(0);
  const std::size_t k = static_cast<std::size_t>(moe_index) % moe->samples.size();
  const MoeLayerSample& smp = moe->samples[k];
  const MoeCosts::LayerCost& c = moe->cost[k];
  if (op.pass == Pass::Forward || op.pass == Pass::Recompute)
    return op.collective == OpCollective::AllToAllDispatch ? smp.dispatch : smp.combine;
  return c.ep_bwd * 0.5;  // the gradients of dispatch and combine, one each
}

RoutedLoad routed_load(const MoeCosts* moe) {
  RoutedLoad l;
  if (!moe) return l;
  for (const auto& smp : moe->samples) {
    l.busiest_rank_copies.push_back(smp.max_rank_tokens);
  }
  return l;
}

ProgramPrice price_program(const Scenario& s, const StepProgram& program, const Topology& topo,
                           const MoeCosts* moe) {
  ProgramPrice out;
  out.compute_fraction = program_compute_fraction(s);
  const double cf = out.compute_fraction;
  const RankLayout layout = RankLayout::from(s.parallelism, s.cluster.gpus_per_node);
  const bool tp_overlap = s.software.overlap.tp_comm;
  for (const StageProgram& sp : program.stages) {
    StagePrice st;
    CollectivePricer pricer(s, topo, moe, groups_of(s, layout, sp.stage));
    for (std::size_t li : sp.layers) {
      const LayerProgram& lp = program.layers[li];
      Seconds async_bwd(0), dgrad(0), cp_fwd(0), cp_bwd(0), attn_fwd(0), attn_bwd(0);
      Seconds tp_fwd(0), tp_bwd(0), comp_fwd(0), comp_bwd(0);
      for (const Op& op : lp.ops) {
        if (op.is_collective()) {
          const Seconds t = pricer.time(op, lp.moe_index);
          const bool fwd = op.pass == Pass::Forward;
          switch (op.group) {
            case ParallelGroup::Tp:
              if (op.async) async_bwd += t;
              else if (fwd) tp_fwd += t;
              else tp_bwd += t;
              break;
            case ParallelGroup::Ep:
              (fwd ? st.ep_forward : st.ep_backward) += t;
              break;
            case ParallelGroup::Cp:
              (fwd ? cp_fwd : cp_bwd) += t;
              break;
            case ParallelGroup::Dp:
            case ParallelGroup::DpExpert:
              (fwd ? st.zero3_forward : st.zero3_backward) += t;
              break;
            default: break;
          }
          continue;
        }
        const Seconds t = compute_op_time(s, op, cf);
        st.by_category[category_key(op)] += t.value;
        st.hw_flops += op.kernel.flops.value;
        switch (op.pass) {
          case Pass::Forward: st.forward += t, comp_fwd += t; break;
          case Pass::Recompute: st.recompute += t, comp_bwd += t; break;
          case Pass::InputGrad: st.input_grad += t, comp_bwd += t; break;
          case Pass::WeightGrad: st.weight_grad += t, comp_bwd += t; break;
        }
        if (op.pass == Pass::InputGrad && op.kernel.role == GemmRole::Dgrad) dgrad += t;
        if (op.category == OpCategory::Attention)
          (op.pass == Pass::Forward ? attn_fwd : attn_bwd) += t;
      }
      // SP re-gathers overlap the layer's input-gradient GEMMs; CP's ring overlaps attention.
      st.tp_hidden_exposed += Seconds(std::max(0.0, (async_bwd - dgrad).value));
      st.cp_exposed += Seconds(std::max(0.0, (cp_fwd - attn_fwd).value)) +
                       Seconds(std::max(0.0, (cp_bwd - attn_bwd).value));
      if (tp_overlap) {
        // Userbuffers-style overlap (Transformer Engine): TP collectives behind the layer's GEMMs.
        tp_fwd = Seconds(std::max(0.0, (tp_fwd - comp_fwd).value));
        tp_bwd = Seconds(std::max(0.0, (tp_bwd - comp_bwd).value));
      }
      st.tp_forward += tp_fwd;
      st.tp_backward += tp_bwd;
    }
    if (sp.send_forward.collective == OpCollective::SendRecv)
      st.pp_send = pricer.time(sp.send_forward, -1);
    for (const Op& op : sp.step_ops) {
      if (op.is_collective()) {
        const Seconds t = pricer.time(op, -1);
        if (op.collective == OpCollective::AllGather) st.dp_gather += t, st.dp_gather_async = op.async;
        else st.dp_reduce += t, st.dp_reduce_async = op.async;
      } else {
        st.optimizer += compute_op_time(s, op, 1.0);
      }
    }
    out.stages.push_back(std::move(st));
  }
  return out;
}

}  // namespace clustercost

#pragma once
// The cluster the topology and all-to-all tests and the microbenchmarks (tests/bench) share, so
// a figure is written once.

#include "hardware/topology/topology.hpp"

namespace clustercost::test {

/// HGX-like nodes: 8 GPUs on an NVSwitch, one NIC per GPU; NVLink latency 3.33 µs, IB 2.8 µs on
/// the same leaf, 450 ns per switch hop (arXiv 2505.09343 Table 5). Above 2,048 GPUs a fat-tree
/// of 64-port switches needs a third tier.
inline TopologyConfig hgx_cluster(int gpus, double scale_up_gbs, double nic_gbps,
                                  ScaleOutKind kind, double oversubscription = 1.0,
                                  int leaf_radix = 64) {
  TopologyConfig c;
  c.gpus = gpus;
  c.gpus_per_node = 8;
  c.scale_up.gbs_uni_per_gpu = scale_up_gbs;
  c.scale_up.domain_size = 8;
  c.scale_up.latency_us = 3.33;
  c.scale_out.kind = kind;
  c.scale_out.nics_per_node = 8;
  c.scale_out.nic_gbps = nic_gbps;
  c.scale_out.oversubscription = oversubscription;
  c.scale_out.leaf_radix = leaf_radix;
  c.scale_out.nic_latency_us = 2.8;
  c.scale_out.switch_hop_latency_ns = 450.0;
  if (gpus > 2048) c.scale_out.tiers = 3;
  return c;
}

}  // namespace clustercost::test

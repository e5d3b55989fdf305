#pragma once
/// Chrome trace-event export of a DES step (`clustercost trace`), for Perfetto / chrome://tracing.
///
/// The document is the JSON Object Format of the Trace Event Format (Google, "Trace Event
/// Format", docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU):
/// `{"traceEvents": [...], "displayTimeUnit": "ms"}`. One process per simulated GPU ("pid" = GPU
/// id, named "GPU <id> (stage <s>)", sorted by stage then GPU), one thread per stream of that GPU
/// ("tid" = StreamLane: 0 compute, 1 send forward, 2 send backward, 3 data-parallel,
/// 4 comm (TP/CP/EP collectives), 5 wgrad (weight-gradient kernels of the second compute
/// stream), 6 comm async (collectives overlapped with compute), each named by a "thread_name" metadata event; only the lanes a GPU uses), one
/// complete event ("ph": "X", "ts"/"dur" in microseconds) per op task named as in the op program
/// with its micro-batch ("attn.qkv mb3", "moe.dispatch mb3", "pp.send_forward mb3",
/// "dp.dense.reduce_scatter", "optimizer.adam"; " c<k>" for the model chunk when a stage holds
/// several; the zero-length pass markers of the simulation are left out), and one flow arrow per
/// pipeline transfer ("ph": "s" on the sender's send task, "ph": "f" with "bp": "e" on the
/// receiver at the time its pass starts, same "id", "cat": "transfer").
///
/// The optimizer is a task of the compute stream, so the last event ends at the step time.

#include <string>
#include <vector>

#include "sim/common/json_reader.hpp"
#include "sim/workload/des_step.hpp"

namespace clustercost {

struct TraceOptions {
  /// Pipeline stages (0..pp−1) to keep; empty keeps all. Flow arrows are kept only when both
  /// ends are.
  std::vector<int> stages;
  /// GPU ids (global ranks) to keep, of those simulated; empty keeps all.
  std::vector<int> ranks;
};

/// Builds the trace of `step`, which must have been simulated with DesOptions::record_tasks.
/// Throws std::invalid_argument when it was not, when a stage in `options` is out of range or a
/// rank is not a simulated GPU.
Json build_chrome_trace(const DesStep& step, const TraceOptions& options = {});

/// The event name of a task record without an op name ("F mb3", "send act mb3 c1",
/// "dp reduce-scatter"...).
/// `chunked`: append the model chunk (stages hold several chunks).
std::string trace_event_name(const TaskRecord& record, bool chunked);

}  // namespace clustercost

#pragma once
/// Chrome trace-event export of a DES step (`clustercost trace`), for Perfetto / chrome://tracing.
///
/// The document is the JSON Object Format of the Trace Event Format (Google, "Trace Event
/// Format", docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU):
/// `{"traceEvents": [...], "displayTimeUnit": "ms"}`. One process per simulated GPU ("pid" = GPU
/// id, named "GPU <id> (stage <s>)"), one thread per stream of that GPU ("tid" 0 compute, 1 send
/// forward, 2 send backward, 3 data-parallel, each named by a "thread_name" metadata event),
/// one complete event ("ph": "X", "ts"/"dur" in microseconds) per task, named "F mb3", "B mb3",
/// "W mb3", "send act mb3", "send grad mb3", "tp comm mb3", "ep all-to-all mb3",
/// "dp reduce-scatter", "dp all-gather", "optimizer" (with " c<k>" for the model chunk when a
/// stage holds several), and one flow arrow per pipeline transfer ("ph": "s" on the sender's
/// send task, "ph": "f" with "bp": "e" on the receiver's task that consumes the message, same
/// "id", "cat": "transfer").
///
/// The optimizer is a task of the compute stream, so the last event ends at the step time.

#include <string>
#include <vector>

#include "sim/common/json_reader.hpp"
#include "sim/workload/des_step.hpp"

namespace clustercost {

struct TraceOptions {
  /// Pipeline stages (ranks in the pipeline, 0..pp−1) to keep; empty keeps all. Flow arrows are
  /// kept only when both ends are.
  std::vector<int> stages;
};

/// Builds the trace of `step`, which must have been simulated with DesOptions::record_tasks.
/// Throws std::invalid_argument when it was not, or when a stage in `options` is out of range.
Json build_chrome_trace(const DesStep& step, const TraceOptions& options = {});

/// The event name of a task record ("F mb3", "send act mb3 c1", "dp reduce-scatter"...).
/// `chunked`: append the model chunk (stages hold several chunks).
std::string trace_event_name(const TaskRecord& record, bool chunked);

}  // namespace clustercost

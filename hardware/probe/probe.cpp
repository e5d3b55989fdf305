#include "hardware/probe/probe.hpp"

#include <exception>
#include <filesystem>
#include <new>
#include <sstream>

#include "hardware/probe/cpu_probe.hpp"
#include "hardware/probe/cuda_probe.hpp"
#include "hardware/probe/measurement.hpp"
#include "hardware/probe/scenario_ops.hpp"
#include "hardware/probe/system_info.hpp"

namespace clustercost {

namespace {

// Limits that keep a typo from asking for hours of work or absurd thread counts.
constexpr int kMaxThreads = 1024;
constexpr int kMaxRepetitions = 100000;

// Warm-up and timed calls per measurement when the caller did not choose: MAMF used 50 warm-up
// and 100 timed calls on GPUs (published-runs.md D1); a median of 30 is as stable for our
// purpose. CPU calls are long, so fewer.
probe::RunSettings default_settings(const ProbeOptions& o) {
  probe::RunSettings s;
  s.quick = o.quick;
  s.threads = o.threads;
  if (o.device == "cuda") {
    s.warmup = o.quick ? 2 : 5;
    s.repetitions = o.quick ? 5 : 30;
  } else {
    s.warmup = 1;
    s.repetitions = o.quick ? 3 : 5;
  }
  if (o.repetitions > 0) s.repetitions = o.repetitions;
  return s;
}

/// The checks every probe run makes on its options (exit code, or kProbeOk).
int check_options(const ProbeOptions& o, std::ostream& log) {
  namespace fs = std::filesystem;
  if (o.device != "cpu" && o.device != "cuda") {
    log << "probe: --device must be cpu or cuda, not \"" << o.device << "\"\n";
    return kProbeUsage;
  }
  if (o.threads < 1 || o.threads > kMaxThreads) {
    log << "probe: --threads must be between 1 and " << kMaxThreads << ", not " << o.threads
        << '\n';
    return kProbeUsage;
  }
  if (o.repetitions < 0 || o.repetitions > kMaxRepetitions) {
    log << "probe: repetitions must be between 0 (automatic) and " << kMaxRepetitions << ", not "
        << o.repetitions << '\n';
    return kProbeUsage;
  }
  if (o.output_path.empty()) {
    log << "probe: an output file is required (-o FILE)\n";
    return kProbeUsage;
  }
  const fs::path out(o.output_path);
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    log << "probe: the directory of the output file, " << dir.string() << ", does not exist\n";
    return kProbeUsage;
  }
  if (fs::is_directory(out, ec)) {
    log << "probe: the output path " << out.string() << " is a directory\n";
    return kProbeUsage;
  }
  return kProbeOk;
}

/// Writes the document and reports check failures (shared by the sweep and --scenario).
int write_doc(const ProbeOptions& o, probe::MeasurementDoc& doc, std::ostream& log) {
  const std::filesystem::path out(o.output_path);
  doc.device.host = probe::host_name();

  std::ostringstream json;
  probe::write_measurements_json(doc, json);
  if (const auto err = probe::write_file_atomically(out, json.str())) {
    log << "probe: " << *err << '\n';
    return kProbeCheckFailed;
  }
  log << "probe: wrote " << doc.records.size() << " measurements to " << out.string() << '\n';
  if (!doc.all_ok()) {
    for (const std::string& e : doc.errors) log << "probe: ERROR: " << e << '\n';
    for (const probe::Measurement& m : doc.records) {
      if (!m.ok) {
        log << "probe: CHECK FAILED: " << m.kind << " " << m.dtype << " " << m.name << " (error "
            << m.check_rel_error << ")\n";
      }
    }
    return kProbeCheckFailed;
  }
  return kProbeOk;
}

int run_probe_unchecked(const ProbeOptions& o, std::ostream& log) {
  if (const int rc = check_options(o, log); rc != kProbeOk) return rc;
  probe::MeasurementDoc doc;
  doc.settings = default_settings(o);
  doc.device.date = probe::iso8601_utc_now();
  if (o.device == "cpu") {
    probe::run_cpu_probe(doc.settings, doc, log);
  } else {
    const int rc = probe::run_cuda_probe(doc.settings, doc, log);
    if (rc != kProbeOk) return rc;
  }
  return write_doc(o, doc, log);
}

int run_scenario_probe_unchecked(const ProbeOptions& o, const probe::ScenarioProbePlan& plan,
                                 std::ostream& log) {
  if (const int rc = check_options(o, log); rc != kProbeOk) return rc;
  probe::MeasurementDoc doc;
  doc.settings = default_settings(o);
  doc.device.date = probe::iso8601_utc_now();
  doc.scenario = plan.scenario;
  if (o.device == "cpu") {
    probe::run_cpu_scenario_probe(doc.settings, plan, doc, log);
  } else {
    const int rc = probe::run_cuda_scenario_probe(doc.settings, plan, doc, log);
    if (rc != kProbeOk) return rc;
  }
  for (const std::string& s : doc.skipped) log << "probe: not measured: " << s << '\n';
  return write_doc(o, doc, log);
}

template <class F>
int guarded_probe(std::ostream& log, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    log << "probe failed: out of memory\n";
  } catch (const std::exception& e) {
    log << "probe failed: " << e.what() << '\n';
  } catch (...) {
    log << "probe failed: unknown error\n";
  }
  return kProbeCheckFailed;
}

}  // namespace

int run_scenario_probe(const ProbeOptions& options, const probe::ScenarioProbePlan& plan,
                       std::ostream& log) {
  return guarded_probe(log, [&] { return run_scenario_probe_unchecked(options, plan, log); });
}

int run_probe(const ProbeOptions& options, std::ostream& log) {
  return guarded_probe(log, [&] { return run_probe_unchecked(options, log); });
}

}  // namespace clustercost

// The plan document (schema clustercost.plan/1) and its text summary.
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "sim/plan/plan.hpp"
#include "sim/report/report.hpp"

namespace clustercost {

namespace {

// Six significant digits, as the report does, so documents are stable across libm versions.
double sig(double v) { return round_significant6(v); }

Json estimate_json(const PlanEstimate& e) {
  return {{"fidelity", e.fidelity},
          {"step_time_s", sig(e.step_time_s)},
          {"mfu", sig(e.mfu)},
          {"wall_days", sig(e.wall_days)},
          {"gpu_hours", sig(e.gpu_hours)},
          {"total_usd", sig(e.total_usd)}};
}

Json candidate_json(const PlanCandidate& c) {
  const auto& l = c.layout;
  const auto& p = l.parallelism;
  Json j;
  j["gpu"] = l.gpu;
  j["gpus"] = l.gpus;
  j["nodes"] = (l.gpus + l.gpus_per_node - 1) / l.gpus_per_node;
  j["layout"] = l.label();
  j["parallelism"] = {{"tp", p.tp},
                      {"cp", p.cp},
                      {"pp", p.pp},
                      {"dp", p.dp},
                      {"ep", p.ep},
                      {"vpp", p.vpp},
                      {"schedule", schedule_name(p.schedule)},
                      {"micro_batch", p.micro_batch},
                      {"zero", p.zero},
                      {"recompute", recompute_name(p.recompute)},
                      {"sequence_parallel", p.sequence_parallel}};
  j["set"] = l.sets;
  const PlanEstimate& b = c.best();
  j["fidelity"] = b.fidelity;
  j["step_time_s"] = sig(b.step_time_s);
  j["mfu"] = sig(b.mfu);
  j["wall_days"] = sig(b.wall_days);
  j["gpu_hours"] = sig(b.gpu_hours);
  j["total_usd"] = sig(b.total_usd);
  j["memory"] = {{"peak_gib_per_gpu", sig(c.peak_gib)}, {"capacity_gib", sig(c.capacity_gib)}};
  j["analytical"] = estimate_json(c.analytical);
  j["des"] = c.des ? estimate_json(*c.des) : Json(nullptr);
  if (!c.des_error.empty()) j["des_error"] = c.des_error;
  return j;
}

Json optional_candidate(const std::optional<PlanCandidate>& c) {
  return c ? candidate_json(*c) : Json(nullptr);
}

Json counts_json(const PlanCounts& c) {
  return {{"generated", c.generated},   {"divisible", c.divisible}, {"memory_pruned", c.memory_pruned},
          {"dominated", c.dominated},   {"evaluated", c.evaluated}, {"fits", c.fits},
          {"confirmed", c.confirmed}};
}

template <typename T, typename F>
Json list_json(const std::vector<T>& v, F f) {
  Json a = Json::array();
  for (const auto& x : v) a.push_back(f(x));
  return a;
}

Json optional_number(const std::optional<double>& v) { return v ? Json(sig(*v)) : Json(nullptr); }

std::string fixed(double v, int prec) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

std::string money(double usd) {
  if (usd >= 1e6) return "$" + fixed(usd / 1e6, 2) + "M";
  if (usd >= 1e3) return "$" + fixed(usd / 1e3, 1) + "K";
  return "$" + fixed(usd, 0);
}

std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

std::string candidate_line(const PlanCandidate& c) {
  const PlanEstimate& b = c.best();
  return c.layout.gpu + " x" + std::to_string(c.layout.gpus) + "  " + c.layout.label() + "  " +
         fixed(b.step_time_s, 3) + " s/step, " + fixed(b.wall_days, 1) + " days, " +
         money(b.total_usd) + " (" + b.fidelity + ")";
}

}  // namespace

std::string objective_name(PlanObjective o) { return o == PlanObjective::Time ? "time" : "cost"; }

PlanObjective parse_objective(const std::string& text) {
  if (text == "time") return PlanObjective::Time;
  if (text == "cost") return PlanObjective::Cost;
  throw InputError("--objective", "", "expected \"time\" or \"cost\", got \"" + text + "\"");
}

Schedule parse_schedule_name(const std::string& text, const std::string& what) {
  for (Schedule s : {Schedule::GPipe, Schedule::OneFOneB, Schedule::Interleaved, Schedule::ZbH1,
                     Schedule::DualPipe})
    if (schedule_name(s) == text) return s;
  throw InputError(what, "", "expected gpipe, 1f1b, interleaved, zb-h1 or dualpipe, got \"" + text + "\"");
}

Recompute parse_recompute_name(const std::string& text, const std::string& what) {
  for (Recompute r : {Recompute::None, Recompute::Selective, Recompute::Full})
    if (recompute_name(r) == text) return r;
  throw InputError(what, "", "expected none, selective or full, got \"" + text + "\"");
}

Json plan_to_json(const PlanResult& r) {
  Json j;
  j["schema"] = "clustercost.plan/1";
  j["scenario"] = {{"name", r.scenario}, {"file", r.file}};
  j["objective"] = objective_name(r.objective);
  j["deadline_days"] = optional_number(r.deadline_days);
  const auto& a = r.axes;
  auto ints = [](const std::vector<int>& v) { return v.empty() ? Json("generated") : Json(v); };
  Json sched = a.schedule.empty() ? Json("generated")
                                  : list_json(a.schedule, [](Schedule s) { return schedule_name(s); });
  Json rec = a.recompute.empty() ? Json("generated")
                                 : list_json(a.recompute, [](Recompute x) { return recompute_name(x); });
  j["axes"] = {{"tp", ints(a.tp)},   {"cp", ints(a.cp)},     {"pp", ints(a.pp)},
               {"ep", ints(a.ep)},   {"vpp", ints(a.vpp)},   {"micro_batch", ints(a.micro_batch)},
               {"zero", ints(a.zero)}, {"recompute", rec},   {"schedule", sched}};
  j["counts"] = counts_json(r.counts);
  j["baseline"] = optional_candidate(r.baseline);
  if (!r.baseline_note.empty()) j["baseline_note"] = r.baseline_note;
  j["ranked"] = list_json(r.ranked, candidate_json);
  j["types"] = list_json(r.types, [](const PlanTypeResult& t) {
    Json tj;
    tj["gpu"] = t.gpu;
    tj["capacity_gib"] = sig(t.capacity_gib);
    tj["notes"] = t.notes;
    tj["counts"] = list_json(t.counts, [](const PlanCountSummary& c) {
      return Json{{"gpus", c.gpus},
                  {"fitting", c.fitting},
                  {"fastest_days", optional_number(c.fastest_days)},
                  {"cheapest_usd", optional_number(c.cheapest_usd)}};
    });
    tj["stats"] = counts_json(t.stats);
    tj["best"] = optional_candidate(t.best);
    tj["cheapest"] = optional_candidate(t.cheapest);
    tj["smallest_footprint_gib"] = optional_number(t.smallest_footprint_gib);
    if (t.deadline) {
      tj["deadline"] = {{"days", sig(t.deadline->days)},
                        {"fewest_gpus", t.deadline->fewest_gpus ? Json(*t.deadline->fewest_gpus)
                                                                : Json(nullptr)},
                        {"layout", optional_candidate(t.deadline->layout)},
                        {"reason", t.deadline->reason}};
    } else {
      tj["deadline"] = nullptr;
    }
    tj["reason"] = t.reason;
    return tj;
  });
  j["cheapest"] = optional_candidate(r.cheapest);
  j["wall_s"] = sig(r.wall_seconds);
  return j;
}

std::string plan_to_text(const PlanResult& r) {
  std::ostringstream os;
  os << "Plan for " << r.scenario << " (objective: " << objective_name(r.objective);
  if (r.deadline_days) os << ", deadline " << fixed(*r.deadline_days, 1) << " days";
  os << ")\n";
  const auto& c = r.counts;
  os << "  layouts: " << c.generated << " generated, " << c.divisible << " divide, "
     << c.memory_pruned << " pruned by memory, " << c.dominated << " dominated, " << c.evaluated
     << " evaluated, " << c.fits << " fit, " << c.confirmed << " confirmed with des\n\n";

  os << "  #  " << pad("GPUs", 18) << pad("layout", 52) << pad("step s", 10) << pad("MFU", 7)
     << pad("days", 9) << pad("cost", 10) << "GiB   fidelity\n";
  int i = 0;
  for (const auto& cand : r.ranked) {
    const PlanEstimate& b = cand.best();
    std::ostringstream n;
    n << ++i;
    os << "  " << pad(n.str(), 3) << pad(cand.layout.gpu + " x" + std::to_string(cand.layout.gpus), 18)
       << pad(cand.layout.label(), 52) << pad(fixed(b.step_time_s, 3), 10)
       << pad(fixed(100 * b.mfu, 1) + "%", 7) << pad(fixed(b.wall_days, 1), 9)
       << pad(money(b.total_usd), 10) << pad(fixed(cand.peak_gib, 1), 6) << b.fidelity << "\n";
  }
  if (!r.ranked.empty()) {
    os << "\n  reproduce #1: clustercost run " << r.file;
    for (const auto& s : r.ranked.front().layout.sets) os << " --set '" << s << "'";
    os << "\n";
  }
  os << "\n  scenario's layout: ";
  if (r.baseline) os << candidate_line(*r.baseline) << "\n";
  else os << "not a candidate\n";
  if (!r.baseline_note.empty()) os << "    (" << r.baseline_note << ")\n";

  for (const auto& t : r.types) {
    os << "\n  " << t.gpu << " (" << fixed(t.capacity_gib, 1) << " GiB usable)\n";
    for (const auto& n : t.notes) os << "    note: " << n << "\n";
    if (!t.reason.empty()) os << "    " << t.reason << "\n";
    if (t.best) os << "    best:     " << candidate_line(*t.best) << "\n";
    if (t.cheapest) os << "    cheapest: " << candidate_line(*t.cheapest) << "\n";
    if (t.deadline) {
      if (t.deadline->fewest_gpus)
        os << "    within " << fixed(t.deadline->days, 1) << " days: " << *t.deadline->fewest_gpus
           << " GPUs: " << candidate_line(*t.deadline->layout) << "\n";
      else
        os << "    within " << fixed(t.deadline->days, 1) << " days: " << t.deadline->reason << "\n";
    }
    os << "    per count:";
    for (const auto& s : t.counts) {
      os << " " << s.gpus << ":";
      if (s.fastest_days) os << fixed(*s.fastest_days, 1) << "d";
      else os << "-";
    }
    os << "\n";
  }
  if (r.cheapest) os << "\n  cheapest type: " << candidate_line(*r.cheapest) << "\n";
  return os.str();
}

}  // namespace clustercost

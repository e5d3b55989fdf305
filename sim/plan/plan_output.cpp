// The plan document (schema clustercost.plan/1) and its text summary.
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <iomanip>
#include <optional>
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

Json candidate_json(const PlanCandidate& c, std::optional<double> deadline) {
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
  const auto meets = meets_deadline(c, deadline);
  j["meets_deadline"] = meets ? Json(*meets) : Json(nullptr);
  j["memory"] = {{"peak_gib_per_gpu", sig(c.peak_gib)}, {"capacity_gib", sig(c.capacity_gib)}};
  j["analytical"] = estimate_json(c.analytical);
  j["des"] = c.des ? estimate_json(*c.des) : Json(nullptr);
  if (!c.des_error.empty()) j["des_error"] = c.des_error;
  return j;
}

Json optional_candidate(const std::optional<PlanCandidate>& c, std::optional<double> deadline) {
  return c ? candidate_json(*c, deadline) : Json(nullptr);
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

/// A text table whose columns are as wide as their widest cell (layout labels vary from "tp1
/// cp1 pp1 ..." to "tp8 cp1 pp4 ... interleaved vpp5 ... sp": a fixed width lets the long ones
/// run into the next column). Numbers align right, words left.
class TextTable {
 public:
  enum class Align { Left, Right };
  void column(std::string header, Align align) {
    headers_.push_back(std::move(header));
    aligns_.push_back(align);
  }
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string render(const std::string& indent) const {
    std::vector<std::size_t> width(headers_.size());
    for (std::size_t c = 0; c < headers_.size(); ++c) {
      width[c] = display_width(headers_[c]);
      for (const auto& r : rows_) width[c] = std::max(width[c], display_width(r[c]));
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
      std::string l = indent;
      for (std::size_t c = 0; c < cells.size(); ++c) {
        const std::string fill(width[c] - display_width(cells[c]), ' ');
        if (c > 0) l += "  ";
        l += aligns_[c] == Align::Left ? cells[c] + fill : fill + cells[c];
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();
      out += l + "\n";
    };
    line(headers_);
    for (const auto& r : rows_) line(r);
    return out;
  }

 private:
  // Code points, not bytes: labels may hold "×" or "·".
  static std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  std::vector<std::string> headers_;
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string gpus_of(const PlanLayout& l) { return l.gpu + " x" + std::to_string(l.gpus); }

std::string candidate_line(const PlanCandidate& c) {
  const PlanEstimate& b = c.best();
  return gpus_of(c.layout) + "  " + c.layout.label() + "  " + fixed(b.step_time_s, 3) +
         " s/step, " + fixed(b.wall_days, 1) + " days, " + money(b.total_usd) + " (" +
         b.fidelity + ")";
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

std::optional<bool> meets_deadline(const PlanCandidate& c, std::optional<double> deadline_days) {
  if (!deadline_days) return std::nullopt;
  return c.best().wall_days <= *deadline_days;
}

Json plan_to_json(const PlanResult& r) {
  const std::optional<double> dl = r.deadline_days;
  auto candidate = [dl](const PlanCandidate& c) { return candidate_json(c, dl); };
  Json j;
  j["schema"] = "clustercost.plan/1";
  j["scenario"] = {{"name", r.scenario}, {"file", r.file}};
  j["objective"] = objective_name(r.objective);
  j["deadline_days"] = optional_number(r.deadline_days);
  if (dl) {
    j["deadline_met"] = !r.ranked.empty() && *meets_deadline(r.ranked.front(), dl);
    j["meeting_deadline"] = r.meeting_deadline ? Json(*r.meeting_deadline) : Json(nullptr);
  } else {
    j["deadline_met"] = nullptr;
    j["meeting_deadline"] = nullptr;
  }
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
  j["baseline"] = optional_candidate(r.baseline, dl);
  if (!r.baseline_note.empty()) j["baseline_note"] = r.baseline_note;
  j["ranked"] = list_json(r.ranked, candidate);
  j["types"] = list_json(r.types, [dl](const PlanTypeResult& t) {
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
    tj["counts_fidelity"] = "analytical";
    tj["stats"] = counts_json(t.stats);
    tj["best"] = optional_candidate(t.best, dl);
    tj["cheapest"] = optional_candidate(t.cheapest, dl);
    tj["closest"] = optional_candidate(t.closest, dl);
    tj["smallest_footprint_gib"] = optional_number(t.smallest_footprint_gib);
    if (t.deadline) {
      tj["deadline"] = {{"days", sig(t.deadline->days)},
                        {"fewest_gpus", t.deadline->fewest_gpus ? Json(*t.deadline->fewest_gpus)
                                                                : Json(nullptr)},
                        {"layout", optional_candidate(t.deadline->layout, dl)},
                        {"reason", t.deadline->reason}};
    } else {
      tj["deadline"] = nullptr;
    }
    tj["reason"] = t.reason;
    return tj;
  });
  j["cheapest"] = optional_candidate(r.cheapest, dl);
  j["wall_s"] = sig(r.wall_seconds);
  return j;
}

std::string plan_to_text(const PlanResult& r) {
  std::ostringstream os;
  const std::optional<double> dl = r.deadline_days;
  os << "Plan for " << r.scenario << " (objective: " << objective_name(r.objective);
  if (dl) os << ", deadline " << fixed(*dl, 1) << " days";
  os << ")\n";
  const auto& c = r.counts;
  os << "  layouts: " << c.generated << " generated, " << c.divisible << " divide, "
     << c.memory_pruned << " pruned by memory, " << c.dominated << " dominated, " << c.evaluated
     << " evaluated, " << c.fits << " fit, " << c.confirmed << " confirmed with des\n";
  const bool met = dl && !r.ranked.empty() && *meets_deadline(r.ranked.front(), dl);
  if (dl && !met) {
    os << "\n  No layout finishes within " << fixed(*dl, 1) << " days: the closest (fastest) "
       << "are ranked below instead.\n  More GPUs (--max-gpus), other GPU types (--gpu-types) "
       << "or a later deadline may meet it.\n";
  } else if (dl) {
    os << "  " << (r.meeting_deadline ? std::to_string(*r.meeting_deadline) : std::string("some"))
       << " fitting layouts finish within " << fixed(*dl, 1) << " days (analytical); they rank "
       << "first, by " << (r.objective == PlanObjective::Cost ? "cost" : "time") << ".\n";
  }
  os << "\n";

  // One order, over each row's own figures; the fidelity column says which they are.
  using A = TextTable::Align;
  TextTable table;
  table.column("#", A::Right);
  table.column("GPUs", A::Left);
  table.column("layout", A::Left);
  table.column("step s", A::Right);
  table.column("MFU", A::Right);
  table.column("days", A::Right);
  table.column("cost", A::Right);
  table.column("GiB", A::Right);
  if (dl) table.column("in time", A::Left);
  table.column("fidelity", A::Left);
  int i = 0;
  for (const auto& cand : r.ranked) {
    const PlanEstimate& b = cand.best();
    std::vector<std::string> row = {std::to_string(++i), gpus_of(cand.layout), cand.layout.label(),
                                    fixed(b.step_time_s, 3), fixed(100 * b.mfu, 1) + "%",
                                    fixed(b.wall_days, 1), money(b.total_usd), fixed(cand.peak_gib, 1)};
    if (dl) row.push_back(*meets_deadline(cand, dl) ? "yes" : "no");
    row.push_back(b.fidelity);
    table.row(std::move(row));
  }
  os << table.render("  ");
  os << "  (des: confirmed with the discrete-event step; analytical: the closed-form model, "
        "not confirmed)\n";
  if (!r.ranked.empty()) {
    os << "\n  reproduce #1: clustercost run " << r.file;
    for (const auto& s : r.ranked.front().layout.sets) os << " --set '" << s << "'";
    os << "\n";
  }
  os << "\n  scenario's layout: ";
  if (r.baseline) {
    os << candidate_line(*r.baseline);
    if (dl) os << (*meets_deadline(*r.baseline, dl) ? ", in time" : ", not in time");
    os << "\n";
  } else {
    os << "not a candidate\n";
  }
  if (!r.baseline_note.empty()) os << "    (" << r.baseline_note << ")\n";

  const std::string within = dl ? " within " + fixed(*dl, 1) + " days" : std::string();
  for (const auto& t : r.types) {
    os << "\n  " << t.gpu << " (" << fixed(t.capacity_gib, 1) << " GiB usable)\n";
    for (const auto& n : t.notes) os << "    note: " << n << "\n";
    if (!t.reason.empty()) os << "    " << t.reason << "\n";
    const bool same = t.best && t.cheapest && t.best->layout.key() == t.cheapest->layout.key();
    if (t.best)
      os << "    " << (same ? "best and cheapest" : "best") << within << ": " << candidate_line(*t.best) << "\n";
    if (t.cheapest && !same) os << "    cheapest" << within << ": " << candidate_line(*t.cheapest) << "\n";
    if (t.closest)
      os << "    nothing" << within << "; closest: " << candidate_line(*t.closest) << "\n";
    if (t.deadline) {
      if (t.deadline->fewest_gpus)
        os << "    fewest GPUs" << within << ": " << *t.deadline->fewest_gpus << ": "
           << candidate_line(*t.deadline->layout) << "\n";
      else
        os << "    fewest GPUs" << within << ": none: " << t.deadline->reason << "\n";
    }
    os << "    fastest days per GPU count (analytical):";
    for (const auto& s : t.counts) {
      os << " " << s.gpus << ":";
      if (s.fastest_days) os << fixed(*s.fastest_days, 1);
      else os << "-";
    }
    os << "\n";
  }
  if (r.cheapest) os << "\n  cheapest type" << within << ": " << candidate_line(*r.cheapest) << "\n";
  return os.str();
}

}  // namespace clustercost

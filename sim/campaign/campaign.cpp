#include "sim/campaign/campaign.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "sim/common/random.hpp"

namespace clustercost {

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

using portable_random::mix_seed;
using portable_random::Rng;

/// Refuses a compute time the campaign clock cannot hold (found by fuzzing: 1e16 tokens on 64
/// GPUs overflowed steps × step nanoseconds).
void check_compute_fits_horizon(const Scenario& s, double compute_s, double steps,
                                Seconds step_time) {
  constexpr double kYear = 365.0 * 86400.0;
  if (compute_s <= kCampaignHorizonYears * kYear) return;
  std::ostringstream os;
  os << s.training.tokens << " tokens take " << steps << " steps of " << step_time.value
     << " s: " << compute_s / kYear << " years of compute, over the " << kCampaignHorizonYears
     << "-year horizon of a campaign";
  throw InfeasibleError(s.file, "training.tokens", os.str());
}

}  // namespace

Seconds StepTimeCurve::at(double batch) const {
  const double proportional = time_a.value * batch / batch_a;
  if (batch_b <= 0 || batch_b == batch_a) return Seconds(proportional);
  const double slope = (time_b.value - time_a.value) / (batch_b - batch_a);
  const double t = time_a.value + slope * (batch - batch_a);
  return Seconds(std::max(t, 0.01 * proportional));
}

ComputePlan plan_compute(const Scenario& s, const StepTimeCurve& curve) {
  ComputePlan p;
  const double full_batch = static_cast<double>(s.training.global_batch);
  p.step_time = curve.at(full_batch);
  const SimTime step_ns = SimTime::from_seconds(p.step_time);
  const auto& ramp = s.training.batch_ramp;
  if (!ramp) {
    p.steps = s.steps();
    check_compute_fits_horizon(s, p.step_time.value * static_cast<double>(p.steps),
                               static_cast<double>(p.steps), p.step_time);
    p.compute = SimTime{step_ns.ns * p.steps};
    p.compute_time = p.compute.seconds();
    return p;
  }
  const double seq = s.training.seq_len;
  const double b0 = static_cast<double>(ramp->start_batch), b1 = full_batch, x = ramp->tokens;
  // Over the ramp, dsteps = dx / (B(x)·seq) with B linear in x.
  const double ramp_steps = x * std::log(b1 / b0) / ((b1 - b0) * seq);
  // ∫T(B)/(B·seq) dx: with T affine (a + k·B) it is a·steps + k·(sequences); evaluate a and k
  // from the curve at the two ends (exact for the affine curve, and the proportional one).
  const double t0 = curve.at(b0).value, t1 = curve.at(b1).value;
  const double k = (t1 - t0) / (b1 - b0);
  const double a = t1 - k * b1;
  const double ramp_time = a * ramp_steps + k * x / seq;
  const double rest_tokens = std::max(0.0, s.training.tokens - x);
  const auto rest_steps = static_cast<std::int64_t>(std::ceil(rest_tokens / (b1 * seq)));
  p.ramp_steps = static_cast<std::int64_t>(std::ceil(ramp_steps));
  p.ramp_time = Seconds(ramp_time);
  p.steps = p.ramp_steps + rest_steps;
  check_compute_fits_horizon(s, ramp_time + p.step_time.value * static_cast<double>(rest_steps),
                             static_cast<double>(p.steps), p.step_time);
  p.compute = SimTime{SimTime::from_seconds(p.ramp_time).ns + step_ns.ns * rest_steps};
  p.compute_time = p.compute.seconds();
  return p;
}

std::optional<std::int64_t> ramp_probe_batch(const Scenario& s) {
  const auto& ramp = s.training.batch_ramp;
  if (!ramp) return std::nullopt;
  const auto& par = s.parallelism;
  std::int64_t unit = par.dp * par.micro_batch;   // sequences per micro-batch round
  std::int64_t min_m = 1;
  if (par.schedule == Schedule::Interleaved) unit *= par.pp;
  if (par.schedule == Schedule::DualPipe) min_m = 2 * static_cast<std::int64_t>(par.pp);
  const std::int64_t rounds = std::max((ramp->start_batch + unit - 1) / unit, min_m);
  const std::int64_t b = rounds * unit;
  if (b >= s.training.global_batch) return std::nullopt;
  return b;
}

double CampaignParams::total_rate_per_hour() const {
  double sum = 0;
  for (double r : job_rate_per_hour) sum += r;
  return sum;
}

CampaignParams campaign_params(const Scenario& s, const ComputePlan& plan) {
  CampaignParams p;
  const auto& rel = s.reliability;
  p.compute = plan.compute;
  p.steps = plan.steps;
  p.gpus = s.cluster.gpus;
  for (int c = 0; c < kFailureClassCount; ++c) {
    const auto fc = static_cast<FailureClass>(c);
    const double units = std::string(failure_class_unit(fc)) == "node"
                             ? static_cast<double>(s.nodes())
                             : static_cast<double>(s.cluster.gpus);
    p.job_rate_per_hour[static_cast<std::size_t>(c)] =
        rel.failure_rates_per_hour[static_cast<std::size_t>(c)] * units;
  }
  p.checkpoint_write = SimTime::from_seconds(Seconds(rel.checkpoint_write_min * 60.0));
  p.restart = SimTime::from_seconds(Seconds(rel.restart_min * 60.0));
  p.repair = SimTime::from_seconds(hours(rel.repair_hours));
  p.spare_nodes = rel.spare_nodes;
  p.replicas = rel.replicas;
  p.seed = s.simulation.seed;
  const double lambda = p.total_rate_per_hour() / 3600.0;  // per second
  double tau = rel.checkpoint_interval_min * 60.0;
  if (tau <= 0) {
    // Young's optimum; checkpoints cannot be more frequent than steps; none if nothing fails.
    tau = lambda > 0 ? std::max(std::sqrt(2.0 * p.checkpoint_write.seconds().value / lambda),
                                plan.step_time.value)
                     : 0.0;
  }
  p.checkpoint_interval = tau > 0 ? SimTime::from_seconds(Seconds(tau)) : SimTime::zero();
  return p;
}

ReplicaOutcome simulate_replica(const CampaignParams& p, std::uint64_t replica) {
  ReplicaOutcome o;
  // One independent stream per replica: a replica's outcome does not depend on the count.
  Rng rng(mix_seed(p.seed, replica));
  const double rate_per_s = p.total_rate_per_hour() / 3600.0;
  const double mean_gap_s = rate_per_s > 0 ? 1.0 / rate_per_s : 0.0;
  // Class choice by cumulative share of the total rate.
  std::array<double, kFailureClassCount> cumulative{};
  double acc = 0;
  for (std::size_t c = 0; c < cumulative.size(); ++c) {
    acc += p.job_rate_per_hour[c];
    cumulative[c] = acc;
  }
  const std::int64_t tau = p.checkpoint_interval.ns > 0 ? p.checkpoint_interval.ns : kNever;
  const std::int64_t delta = p.checkpoint_write.ns;
  const std::int64_t cycle = tau == kNever ? kNever : tau + delta;
  const std::int64_t work = p.compute.ns;
  std::int64_t t = 0, committed = 0, spares = p.spare_nodes;
  // Nodes in repair, by completion time: the repair time is constant, so completions come in
  // failure order and a FIFO suffices.
  std::vector<std::int64_t> repairs;
  std::size_t head = 0;

  while (true) {
    const std::int64_t rem = work - committed;
    // From a checkpoint (or the start), up-time to the end: the remaining work plus a write after
    // each full interval that is not the last segment.
    const std::int64_t writes = tau == kNever || rem <= 0 ? 0 : (rem - 1) / tau;
    // Checked in floating point first: tiny intervals with long writes would overflow the clock.
    if (static_cast<double>(rem) + static_cast<double>(writes) * static_cast<double>(delta) >
        static_cast<double>(p.horizon.ns)) {
      std::ostringstream os;
      os << "checkpoint writes of " << p.checkpoint_write.seconds().value << " s every "
         << p.checkpoint_interval.seconds().value << " s of work: " << writes
         << " writes do not finish within the " << kCampaignHorizonYears
         << "-year horizon of a campaign";
      throw InfeasibleError("", "reliability", os.str());
    }
    const std::int64_t finish = rem + writes * delta;
    double gap_s = rate_per_s > 0 ? rng.exponential(mean_gap_s) : 0.0;
    if (rate_per_s <= 0 || gap_s * 1e9 >= static_cast<double>(finish)) {
      t += finish;
      o.checkpoints += writes;
      o.checkpointing.ns += writes * delta;
      break;
    }
    const std::int64_t gap = SimTime::from_seconds(Seconds(gap_s)).ns;
    const std::int64_t cycles = cycle == kNever ? 0 : gap / cycle;
    const std::int64_t lost = gap - cycles * (cycle == kNever ? 0 : cycle);
    committed += cycles * tau;
    o.checkpoints += cycles;
    o.checkpointing.ns += cycles * delta;
    o.lost_work.ns += lost;
    t += gap;
    ++o.interruptions;

    const double pick = rng.uniform() * acc;
    std::size_t cls = 0;
    while (cls + 1 < cumulative.size() && pick >= cumulative[cls]) ++cls;
    ++o.by_class[cls];

    std::int64_t wait = 0;
    if (failure_class_needs_spare(static_cast<FailureClass>(cls))) {
      while (head < repairs.size() && repairs[head] <= t) {
        ++head;
        ++spares;
      }
      repairs.push_back(t + p.repair.ns);
      if (spares > 0) {
        --spares;
      } else {
        wait = repairs[head] - t;  // the earliest repaired node replaces the failed one
        ++head;
      }
    }
    o.waiting.ns += wait;
    o.restarting.ns += p.restart.ns;
    t += wait + p.restart.ns;
    if (t > p.horizon.ns) {
      std::ostringstream os;
      os << "the campaign has not finished after " << p.horizon.seconds().value / 86400.0 / 365.0
         << " years (replica " << replica << ", " << o.interruptions
         << " interruptions): failures arrive faster than the job makes progress";
      throw InfeasibleError("", "reliability", os.str());
    }
  }
  o.wall = SimTime{t};
  return o;
}

RunResult simulate_campaign(const CampaignParams& p) {
  RunResult r;
  r.steps = p.steps;
  r.compute_time = p.compute.seconds();
  r.replicas = p.replicas;
  r.model = "monte-carlo (" + std::to_string(p.replicas) + " replicas)";
  r.checkpoint_interval = p.checkpoint_interval.seconds();
  r.checkpoint_write = p.checkpoint_write.seconds();
  const double rate = p.total_rate_per_hour();
  r.job_mtbf = rate > 0 ? hours(1.0 / rate) : Seconds(std::numeric_limits<double>::infinity());
  if (p.replicas <= 0) return r;
  r.outcomes.reserve(static_cast<std::size_t>(p.replicas));
  std::vector<double> wall_days, gpu_hours, interruptions, goodput;
  double lost = 0, ckpt = 0, restart = 0, wait = 0, wall = 0;
  std::int64_t total_interruptions = 0;
  const double gpus = static_cast<double>(p.gpus);
  for (int i = 0; i < p.replicas; ++i) {
    ReplicaOutcome o = simulate_replica(p, static_cast<std::uint64_t>(i));
    const double wall_s = o.wall.seconds().value;
    wall_days.push_back(wall_s / 86400.0);
    gpu_hours.push_back(gpus * wall_s / 3600.0);
    interruptions.push_back(static_cast<double>(o.interruptions));
    goodput.push_back(wall_s > 0 ? r.compute_time.value / wall_s : 1.0);
    // Sum of differences from the first replica: exact when all replicas agree (no failures).
    wall += static_cast<double>(o.wall.ns - (r.outcomes.empty() ? o.wall.ns : r.outcomes.front().wall.ns));
    lost += o.lost_work.seconds().value;
    ckpt += o.checkpointing.seconds().value;
    restart += o.restarting.seconds().value;
    wait += o.waiting.seconds().value;
    total_interruptions += o.interruptions;
    for (std::size_t c = 0; c < o.by_class.size(); ++c)
      r.mean_by_class[c] += static_cast<double>(o.by_class[c]) / p.replicas;
    r.outcomes.push_back(o);
  }
  const double n = p.replicas;
  r.wall_days_dist = summarize(wall_days);
  r.gpu_hours_dist = summarize(gpu_hours);
  r.interruptions_dist = summarize(interruptions);
  r.goodput_dist = summarize(goodput);
  r.wall_days = r.wall_days_dist.mean;
  r.wall_time = r.outcomes.front().wall.seconds() + Seconds(wall / n * 1e-9);
  r.gpu_hours = r.gpu_hours_dist.mean;
  r.interruptions = r.interruptions_dist.mean;
  r.goodput = r.goodput_dist.mean;
  r.mean_lost_work = Seconds(lost / n);
  r.mean_checkpointing = Seconds(ckpt / n);
  r.mean_restarting = Seconds(restart / n);
  r.mean_waiting = Seconds(wait / n);
  r.lost_work_per_interruption =
      Seconds(total_interruptions > 0 ? lost / static_cast<double>(total_interruptions) : 0.0);
  return r;
}

RunResult expected_run(const Scenario& s, const ComputePlan& plan, const CampaignParams& p) {
  RunResult r;
  r.steps = plan.steps;
  r.compute_time = plan.compute_time;
  r.ramp_steps = plan.ramp_steps;
  r.ramp_time = plan.ramp_time;
  const double gpus = static_cast<double>(s.cluster.gpus);
  const double lambda = p.total_rate_per_hour() / 3600.0;  // failures per second
  r.job_mtbf = lambda > 0 ? Seconds(1.0 / lambda) : Seconds(std::numeric_limits<double>::infinity());
  const double delta = p.checkpoint_write.seconds().value;
  const double restart = p.restart.seconds().value;
  const double tau = p.checkpoint_interval.seconds().value;  // 0: never
  r.checkpoint_interval = Seconds(tau);
  r.checkpoint_write = Seconds(delta);
  r.checkpoint_gb = s.reliability.checkpoint_gb;
  const double loss_rate = lambda * (tau / 2.0 + restart);
  if (loss_rate >= 1.0) {
    std::ostringstream os;
    os << "the job cannot make progress: " << gpus << " GPUs fail every "
       << r.job_mtbf.value / 60.0 << " min (GPU MTBF " << s.reliability.gpu_mtbf_hours
       << " h, failure_rates_per_hour), less than the half checkpoint interval plus restart ("
       << (tau / 2.0 + restart) / 60.0 << " min)";
    throw InfeasibleError(s.file, "reliability", os.str());
  }
  const double overhead = tau > 0 ? 1.0 + delta / tau : 1.0;
  r.wall_time = Seconds(r.compute_time.value * overhead / (1.0 - loss_rate));
  r.wall_days = r.wall_time.value / 86400.0;
  r.gpu_hours = gpus * r.wall_time.value / 3600.0;
  r.interruptions = lambda * r.wall_time.value;
  r.goodput = r.compute_time / r.wall_time;
  return r;
}

RunResult run_campaign(const Scenario& s, const StepResult& step, const StepResult* ramp_probe) {
  StepTimeCurve curve{static_cast<double>(s.training.global_batch), step.step_time, 0, Seconds()};
  if (ramp_probe && ramp_probe->tokens > 0 && s.training.seq_len > 0) {
    curve.batch_b = ramp_probe->tokens / s.training.seq_len;
    curve.time_b = ramp_probe->step_time;
  }
  const ComputePlan plan = plan_compute(s, curve);
  const CampaignParams params = campaign_params(s, plan);
  // The expected-value model first: it refuses, in closed form, jobs that cannot make progress.
  RunResult r = expected_run(s, plan, params);
  if (params.replicas > 0) {
    try {
      r = simulate_campaign(params);
    } catch (const InfeasibleError& e) {
      throw InfeasibleError(s.file, e.json_path(), e.message());
    }
    r.ramp_steps = plan.ramp_steps;
    r.ramp_time = plan.ramp_time;
  }
  r.checkpoint_gb = s.reliability.checkpoint_gb;
  for (const auto& pool : s.cluster.pools) {
    if (pool.gpu != s.cluster.gpu || pool.available_from.empty()) continue;
    if (auto start = iso_date_to_days(pool.available_from)) {
      r.start_date = days_to_iso_date(*start);
      const double p50 = r.replicas > 0 ? r.wall_days_dist.p50 : r.wall_days;
      const double p90 = r.replicas > 0 ? r.wall_days_dist.p90 : r.wall_days;
      r.end_date_p50 = days_to_iso_date(*start + static_cast<std::int64_t>(std::ceil(p50)));
      r.end_date_p90 = days_to_iso_date(*start + static_cast<std::int64_t>(std::ceil(p90)));
    }
    break;
  }
  return r;
}

}  // namespace clustercost

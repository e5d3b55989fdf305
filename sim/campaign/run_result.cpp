#include "sim/campaign/run_result.hpp"

#include <cmath>
#include <sstream>

namespace clustercost {

RunResult estimate_run(const Scenario& s, const StepResult& step) {
  RunResult r;
  r.steps = s.steps();
  r.compute_time = step.step_time * static_cast<double>(r.steps);
  const double gpus = static_cast<double>(s.cluster.gpus);
  const double lambda = gpus / (s.reliability.gpu_mtbf_hours * 3600.0);  // failures per second
  r.job_mtbf = Seconds(1.0 / lambda);
  const double delta = s.reliability.checkpoint_write_min * 60.0;
  const double restart = s.reliability.restart_min * 60.0;
  double tau = s.reliability.checkpoint_interval_min * 60.0;
  if (tau <= 0) tau = delta > 0 ? std::sqrt(2.0 * delta / lambda) : r.job_mtbf.value;
  r.checkpoint_interval = Seconds(tau);
  const double loss_rate = lambda * (tau / 2.0 + restart);
  if (loss_rate >= 1.0) {
    std::ostringstream os;
    os << "the job cannot make progress: " << gpus << " GPUs at a GPU MTBF of "
       << s.reliability.gpu_mtbf_hours << " h fail every " << r.job_mtbf.value / 60.0
       << " min, less than the half checkpoint interval plus restart ("
       << (tau / 2.0 + restart) / 60.0 << " min)";
    throw InfeasibleError(s.file, "reliability", os.str());
  }
  const double overhead = delta > 0 ? 1.0 + delta / tau : 1.0;
  r.wall_time = Seconds(r.compute_time.value * overhead / (1.0 - loss_rate));
  r.wall_days = r.wall_time.value / 86400.0;
  r.gpu_hours = gpus * r.wall_time.value / 3600.0;
  r.interruptions = lambda * r.wall_time.value;
  r.goodput = r.compute_time / r.wall_time;
  return r;
}

}  // namespace clustercost

// clustercost-mpi: a sweep across MPI ranks (Open MPI; optional build, see CMakeLists.txt).
//
//   mpirun -np N clustercost-mpi SWEEP.json [-o results.jsonl] [--resume] [-q]
//
// Rank 0 reads the results file (resume), hands out point indices one at a time to the ranks
// that ask (dynamic scheduling: points differ in cost by orders of magnitude) and appends each
// returned line with the same whole-line write (synced once a second) as `clustercost sweep`; ranks 1..N-1
// evaluate. With one rank, rank 0 evaluates too. Lines are byte-identical to `clustercost
// sweep`'s and the finished file is put in point order the same way, so it equals a threaded
// run byte for byte. Exit codes as the CLI's: 0 every point reported, 2 bad input or usage or a
// point that failed on bad input (each printed on stderr), 1 anything else.
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_common.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/sweep/sweep.hpp"

namespace {

using namespace clustercost;

constexpr int kTagResult = 1;  // worker → rank 0: a results line (empty: the first request)
constexpr int kTagWork = 2;    // rank 0 → worker: a point index, or -1 to stop

struct Options {
  std::string sweep;
  std::string output = "results.jsonl";
  bool resume = false;
  bool quiet = false;
};

std::optional<Options> parse_args(int argc, char** argv, std::string& error) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-o" || a == "--output") && i + 1 < argc) o.output = argv[++i];
    else if (a == "--resume") o.resume = true;
    else if (a == "-q" || a == "--quiet") o.quiet = true;
    else if (!a.empty() && a[0] != '-' && o.sweep.empty()) o.sweep = a;
    else {
      error = "unexpected argument \"" + a + "\"";
      return std::nullopt;
    }
  }
  if (o.sweep.empty()) {
    error = "usage: clustercost-mpi SWEEP.json [-o results.jsonl] [--resume] [-q]";
    return std::nullopt;
  }
  return o;
}

// Runs `body` and maps exceptions to the CLI's exit codes, printing the message.
template <class F>
int guarded_code(F&& body) {
  return clustercost::cli::guarded([&]() {
    body();
    return 0;
  });
}

void send_line(const std::string& line) {
  MPI_Send(line.data(), static_cast<int>(line.size()), MPI_CHAR, 0, kTagResult, MPI_COMM_WORLD);
}

int worker(const SweepPlan& plan, const Catalog& catalog, const DataDirs& dirs) {
  send_line("");  // ask for the first point
  for (;;) {
    std::int64_t index = -1;
    MPI_Recv(&index, 1, MPI_INT64_T, 0, kTagWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (index < 0) return 0;
    send_line(evaluate_point(plan, plan.point(static_cast<std::size_t>(index)), catalog, dirs));
  }
}

void coordinator(const SweepPlan& plan, const Catalog& catalog, const DataDirs& dirs,
                 const std::vector<std::size_t>& todo, const Options& opt, int size) {
  ResultsAppender out(opt.output);
  std::size_t next = 0, done = 0;
  auto report = [&](bool final) {
    if (!opt.quiet && (final || done % 100 == 0))
      std::cerr << "clustercost-mpi: " << done << "/" << todo.size() << " points\n";
  };
  if (size == 1) {
    for (std::size_t i : todo) {
      out.append(evaluate_point(plan, plan.point(i), catalog, dirs));
      ++done;
      report(false);
    }
    out.close();
    report(true);
    return;
  }
  int active = size - 1;
  std::string buf;
  while (active > 0) {
    MPI_Status st;
    MPI_Probe(MPI_ANY_SOURCE, kTagResult, MPI_COMM_WORLD, &st);
    int count = 0;
    MPI_Get_count(&st, MPI_CHAR, &count);
    buf.resize(static_cast<std::size_t>(count));
    MPI_Recv(buf.data(), count, MPI_CHAR, st.MPI_SOURCE, kTagResult, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    if (!buf.empty()) {
      out.append(buf);
      ++done;
      report(false);
    }
    std::int64_t index = -1;
    if (next < todo.size()) index = static_cast<std::int64_t>(todo[next++]);
    else --active;
    MPI_Send(&index, 1, MPI_INT64_T, st.MPI_SOURCE, kTagWork, MPI_COMM_WORLD);
  }
  out.close();
  report(true);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  // Every rank reads the sweep and the catalogue; a failure anywhere stops all of them.
  std::string usage_error;
  const auto opt = parse_args(argc, argv, usage_error);
  std::optional<SweepPlan> plan;
  std::optional<Catalog> catalog;
  DataDirs dirs;
  int status = 0;
  if (!opt) {
    if (rank == 0) std::cerr << "clustercost-mpi: " << usage_error << "\n";
    status = 2;
  } else {
    status = guarded_code([&]() {
      dirs = clustercost::cli::data_dirs();
      plan = SweepPlan::load(opt->sweep);
      catalog = Catalog::load(dirs.catalog());
    });
  }
  int worst = 0;
  MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (worst != 0) {
    MPI_Finalize();
    return worst;
  }

  // Rank 0 prepares the results file (resume) and the list of points; then the run.
  std::vector<std::size_t> todo;
  if (rank == 0) {
    status = guarded_code([&]() {
      const ResumeState state = prepare_results(opt->output, opt->resume);
      if (state.repaired_bytes && !opt->quiet)
        std::cerr << "clustercost-mpi: repaired a torn last line (" << state.repaired_bytes
                  << " bytes cut)\n";
      todo = select_points(*plan, Shard{}, state.done);
      if (!opt->quiet)
        std::cerr << "clustercost-mpi: sweep " << plan->name() << ": " << plan->size()
                  << " points, " << todo.size() << " to run on " << size << " rank"
                  << (size == 1 ? "" : "s") << " → " << opt->output << "\n";
    });
  }
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (status != 0) {
    MPI_Finalize();
    return status;
  }
  if (rank == 0) {
    std::vector<SweepFailure> failures;
    status = guarded_code([&]() {
      coordinator(*plan, *catalog, dirs, todo, *opt, size);
      failures = order_results(*plan, opt->output).failures;
    });
    if (status != 0) MPI_Abort(MPI_COMM_WORLD, status);  // workers may be waiting for work
    status = clustercost::cli::report_sweep_failures(opt->sweep, opt->output, failures);
  } else {
    status = worker(*plan, *catalog, dirs);
  }
  MPI_Finalize();
  return status;
}

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/engine/engine.hpp"
#include "sim/engine/task_graph.hpp"

using namespace clustercost;

namespace {

SimTime us(std::int64_t n) { return SimTime::microseconds(n); }

/// Completes each external task `tag` microseconds after it starts, through an engine event,
/// the way the flow model completes transfer tasks; tag 0 completes synchronously.
struct DelayRunner : ExternalTaskRunner, EventHandler {
  EventKind kind = 0;
  TaskExecutor* executor = nullptr;
  std::vector<TaskId> started;
  void start_external(TaskId task, std::uint64_t tag, TaskExecutor& exec, Engine& engine) override {
    started.push_back(task);
    executor = &exec;
    if (tag == 0) {
      exec.complete(task);
    } else {
      engine.schedule_in(us(static_cast<std::int64_t>(tag)), kind, task);
    }
  }
  void handle(const Event& e, Engine&) override { executor->complete(e.target); }
};

}  // namespace

TEST(TaskGraph, ChainOnOneStreamRunsBackToBack) {
  TaskGraph g;
  const StreamId s = g.add_stream("compute");
  const TaskId a = g.add_task(s, us(10));
  const TaskId b = g.add_task(s, us(20), {a});
  const TaskId c = g.add_task(s, us(30));  // stream order alone keeps it after b
  Engine engine;
  TaskExecutor exec(engine, g);
  exec.start();
  engine.run();
  ASSERT_TRUE(exec.finished());
  EXPECT_EQ(exec.start_time(a), us(0));
  EXPECT_EQ(exec.end_time(a), us(10));
  EXPECT_EQ(exec.start_time(b), us(10));
  EXPECT_EQ(exec.end_time(b), us(30));
  EXPECT_EQ(exec.start_time(c), us(30));
  EXPECT_EQ(exec.end_time(c), us(60));
  EXPECT_EQ(exec.makespan(), us(60));
  EXPECT_EQ(exec.stream_busy_time(s), us(60));
  EXPECT_EQ(exec.critical_path(), (std::vector<TaskId>{a, b, c}));
}

TEST(TaskGraph, TwoStreamsOverlap) {
  TaskGraph g;
  const StreamId compute = g.add_stream("compute");
  const StreamId comm = g.add_stream("comm");
  const TaskId a = g.add_task(compute, us(100));
  const TaskId b = g.add_task(compute, us(100));
  const TaskId c = g.add_task(comm, us(150));
  Engine engine;
  TaskExecutor exec(engine, g);
  exec.start();
  engine.run();
  EXPECT_EQ(exec.start_time(c), us(0));
  EXPECT_EQ(exec.end_time(c), us(150));
  EXPECT_EQ(exec.start_time(b), us(100));
  // Overlapped: 200 us, not 350 us as it would be serialised.
  EXPECT_EQ(exec.makespan(), us(200));
  EXPECT_EQ(exec.stream_busy_time(compute), us(200));
  EXPECT_EQ(exec.stream_busy_time(comm), us(150));
  EXPECT_EQ(exec.critical_path(), (std::vector<TaskId>{a, b}));
}

TEST(TaskGraph, DependenciesAcrossStreamsAndInOrderStreams) {
  // compute: A(100) then B(30, after C) then D(10); comm: C(50, after A).
  // D has no dependency but waits behind B: streams are in order, like CUDA streams.
  TaskGraph g;
  const StreamId compute = g.add_stream("compute");
  const StreamId comm = g.add_stream("comm");
  const TaskId a = g.add_task(compute, us(100));
  const TaskId c = g.add_task(comm, us(50), {a});
  const TaskId b = g.add_task(compute, us(30), {c});
  const TaskId d = g.add_task(compute, us(10));
  Engine engine;
  TaskExecutor exec(engine, g);
  exec.start();
  engine.run();
  EXPECT_EQ(exec.start_time(c), us(100));
  EXPECT_EQ(exec.end_time(c), us(150));
  EXPECT_EQ(exec.start_time(b), us(150));
  EXPECT_EQ(exec.end_time(b), us(180));
  EXPECT_EQ(exec.start_time(d), us(180));
  EXPECT_EQ(exec.end_time(d), us(190));
  EXPECT_EQ(exec.critical_path(), (std::vector<TaskId>{a, c, b, d}));
  // The compute stream idled 50 us waiting for the transfer.
  EXPECT_EQ(exec.stream_busy_time(compute), us(140));
}

TEST(TaskGraph, CriticalPathOfADiamondEqualsTheLongestChain) {
  // Forward/backward-like diamond over three streams:
  //   s0: X(20)            s1: L(70, after X)   s2: R(40, after X)
  //   s0: J(10, after L and R)  s2: T(5, after R)
  // Longest chain X-L-J = 20 + 70 + 10 = 100; X-R-J = 70; X-R-T = 65.
  TaskGraph g;
  const StreamId s0 = g.add_stream("s0");
  const StreamId s1 = g.add_stream("s1");
  const StreamId s2 = g.add_stream("s2");
  const TaskId x = g.add_task(s0, us(20));
  const TaskId l = g.add_task(s1, us(70), {x});
  const TaskId r = g.add_task(s2, us(40), {x});
  const TaskId j = g.add_task(s0, us(10), {l, r});
  const TaskId t = g.add_task(s2, us(5), {r});
  Engine engine;
  TaskExecutor exec(engine, g);
  exec.start();
  engine.run();
  const std::vector<TaskId> path = exec.critical_path();
  EXPECT_EQ(path, (std::vector<TaskId>{x, l, j}));
  SimTime length = SimTime::zero();
  for (TaskId p : path) length += g.duration(p);
  EXPECT_EQ(length, us(100));
  EXPECT_EQ(exec.makespan(), us(100));
  EXPECT_EQ(exec.end_time(t), us(65));
}

TEST(TaskGraph, StartsAtTheEngineClockOfStart) {
  TaskGraph g;
  const StreamId s = g.add_stream("s");
  const TaskId a = g.add_task(s, us(5));
  Engine engine;
  engine.run_until(us(1000));
  TaskExecutor exec(engine, g);
  exec.start();
  engine.run();
  EXPECT_EQ(exec.start_time(a), us(1000));
  EXPECT_EQ(exec.makespan(), us(5));
}

TEST(TaskGraph, ExternalTasksAreCompletedByAnotherComponent) {
  TaskGraph g;
  const StreamId compute = g.add_stream("compute");
  const StreamId comm = g.add_stream("comm");
  const TaskId a = g.add_task(compute, us(10));
  const TaskId x = g.add_external_task(comm, 25, {a});  // completes 25 us after it starts
  const TaskId z = g.add_external_task(comm, 0);        // completes at once, behind x
  const TaskId b = g.add_task(compute, us(5), {x});
  Engine engine;
  DelayRunner runner;
  runner.kind = engine.register_handler(runner, "delay");
  TaskExecutor exec(engine, g, &runner);
  exec.start();
  EXPECT_EQ(exec.state(x), TaskState::kWaiting);
  engine.run();
  ASSERT_TRUE(exec.finished());
  EXPECT_EQ(runner.started, (std::vector<TaskId>{x, z}));
  EXPECT_EQ(exec.start_time(x), us(10));
  EXPECT_EQ(exec.end_time(x), us(35));
  EXPECT_EQ(exec.start_time(z), us(35));
  EXPECT_EQ(exec.end_time(z), us(35));
  EXPECT_EQ(exec.start_time(b), us(35));
  EXPECT_EQ(exec.end_time(b), us(40));
  EXPECT_THROW(exec.complete(x), std::logic_error) << "already done";
  EXPECT_THROW(exec.complete(a), std::logic_error) << "not external";
}

TEST(TaskGraph, CompletionSinkTokenIsTheTask) {
  TaskGraph g;
  const StreamId s = g.add_stream("s");
  const TaskId x = g.add_external_task(s, 0);
  Engine engine;
  TaskExecutor exec(engine, g);
  exec.start();
  EXPECT_EQ(exec.state(x), TaskState::kRunning);
  CompletionSink& sink = exec;
  EXPECT_THROW(sink.on_complete(7, engine), std::logic_error);
  sink.on_complete(x, engine);
  EXPECT_TRUE(exec.finished());
}

TEST(TaskGraph, LongZeroDurationCascadeDoesNotRecurse) {
  TaskGraph g;
  const StreamId s0 = g.add_stream("a");
  const StreamId s1 = g.add_stream("b");
  TaskId prev = g.add_task(s0, SimTime::zero());
  const int n = 200000;
  for (int i = 1; i < n; ++i) prev = g.add_task(i % 2 == 0 ? s0 : s1, SimTime::zero(), {prev});
  Engine engine;
  TaskExecutor exec(engine, g);
  exec.start();
  engine.run();
  EXPECT_TRUE(exec.finished());
  EXPECT_EQ(exec.makespan(), SimTime::zero());
  EXPECT_EQ(exec.critical_path().size(), static_cast<std::size_t>(n));
}

TEST(TaskGraph, RejectsCyclesIncludingThroughStreamOrder) {
  {
    TaskGraph g;
    const StreamId s0 = g.add_stream("s0");
    const StreamId s1 = g.add_stream("s1");
    const TaskId a = g.add_task(s0, us(1));
    const TaskId b = g.add_task(s1, us(1), {a});
    g.add_dependency(b, a);
    Engine engine;
    EXPECT_THROW(TaskExecutor exec(engine, g), std::invalid_argument);
  }
  {
    // a then b on one stream, and a after b: a waits for b, queued behind a: deadlock.
    TaskGraph g;
    const StreamId s = g.add_stream("s");
    const TaskId a = g.add_task(s, us(1));
    const TaskId b = g.add_task(s, us(1));
    g.add_dependency(b, a);
    try {
      g.validate();
      FAIL() << "stream-order cycle accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
    }
  }
}

TEST(TaskGraph, TheExecutorNamesTheSameBlockedTaskAsValidate) {
  // x runs; a waits for c, which waits for b, queued behind a on its stream: a, b, c never
  // run, and both checks name a (the smallest such id), in the same words.
  TaskGraph g;
  const StreamId s0 = g.add_stream("s0");
  const StreamId s1 = g.add_stream("s1");
  const TaskId x = g.add_task(s1, us(1));
  const TaskId a = g.add_task(s0, us(1), {x});
  const TaskId b = g.add_task(s0, us(1));
  const TaskId c = g.add_task(s1, us(1), {b});
  g.add_dependency(c, a);
  std::string from_validate, from_executor;
  try {
    g.validate();
  } catch (const std::invalid_argument& e) {
    from_validate = e.what();
  }
  try {
    Engine engine;
    TaskExecutor exec(engine, g);
  } catch (const std::invalid_argument& e) {
    from_executor = e.what();
  }
  EXPECT_NE(from_validate.find("task " + std::to_string(a) + " (stream \"s0\")"), std::string::npos)
      << from_validate;
  EXPECT_EQ(from_executor, from_validate);
}

TEST(TaskGraph, RejectsBadArguments) {
  TaskGraph g;
  const StreamId s = g.add_stream("s");
  EXPECT_THROW(g.add_task(s + 1, us(1)), std::invalid_argument);
  EXPECT_THROW(g.add_task(s, SimTime{-1}), std::invalid_argument);
  EXPECT_THROW(g.add_task(s, us(1), {0}), std::invalid_argument) << "dependency on a future task";
  const TaskId a = g.add_task(s, us(1));
  EXPECT_THROW(g.add_dependency(a, a), std::invalid_argument);
  EXPECT_THROW(g.add_dependency(a, 5), std::invalid_argument);
}

TEST(TaskGraph, ExecutionIsDeterministic) {
  auto build_and_run = [](std::vector<SimTime>& ends) {
    TaskGraph g;
    std::vector<StreamId> streams;
    for (int i = 0; i < 4; ++i) streams.push_back(g.add_stream("s" + std::to_string(i)));
    std::vector<TaskId> tasks;
    for (int i = 0; i < 400; ++i) {
      std::vector<TaskId> deps;
      if (i >= 3) deps = {static_cast<TaskId>(i - 3), static_cast<TaskId>(i / 2)};
      // Many equal durations: lots of simultaneous completions to order.
      tasks.push_back(g.add_task(streams[static_cast<std::size_t>(i % 4)], us(10 + i % 3), deps));
    }
    Engine engine;
    TaskExecutor exec(engine, g);
    exec.start();
    engine.run();
    for (TaskId t : tasks) ends.push_back(exec.end_time(t));
    return engine.fingerprint();
  };
  std::vector<SimTime> ends1;
  std::vector<SimTime> ends2;
  EXPECT_EQ(build_and_run(ends1), build_and_run(ends2));
  EXPECT_EQ(ends1, ends2);
}

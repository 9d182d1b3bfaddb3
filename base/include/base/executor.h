// The one thread pool: a fixed set of worker threads running submitted
// tasks in the order they were submitted, and groups of tasks waited for
// together.
//
//   Executor pool(3);
//   TaskGroup group(&pool);
//   for (auto& x : items) group.Submit([&x] { Work(x); });
//   group.Wait();  // every task of the group has returned
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/thread_annotations.h"

namespace cfs {

struct ExecutorOptions {
  // Worker threads, started by the constructor. Values below 1 mean 1.
  // Default: 1.
  int threads = 1;
  // Most tasks waiting for a worker; 0 is no bound. When the queue is full,
  // Submit first runs the oldest waiting task on the calling thread (a
  // producer that outruns the workers lends them its time instead of
  // growing the queue or blocking). Default: 0.
  size_t max_queued = 0;
  // The workers' thread name (pthread_setname_np; at most 15 bytes are
  // kept), shown by ps and gdb. Default: none.
  std::string name;
};

// Thread-safe: any thread may Submit. A task must not throw and must not
// wait for a task submitted after it to the same executor when every worker
// may be busy with such waits (the pool has a fixed size).
class Executor {
 public:
  explicit Executor(ExecutorOptions o);
  // `threads` workers, other options at their defaults.
  explicit Executor(int threads);
  // Runs every task submitted before it (queued ones too: each submitted
  // task runs exactly once), then joins the workers. Tasks that should end
  // early check their owner's cancel flag. REQUIRES: no Submit during or
  // after destruction, and no task of this executor calls it.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues task for a worker (see ExecutorOptions::max_queued for a full
  // queue). It runs on a worker thread, or on a thread calling Submit.
  void Submit(std::function<void()> task) EXCLUDES(mu_);

  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  void WorkerLoop(const std::string& name) EXCLUDES(mu_);

  const size_t max_queued_;
  Mutex mu_;
  std::condition_variable work_;  // a task was queued, or stop_
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;  // fixed after the constructor
};

// Tasks submitted to an executor through a group, waited for together.
// Thread-safe. Several groups may share one executor.
class TaskGroup {
 public:
  // REQUIRES: executor outlives the group.
  explicit TaskGroup(Executor* executor) : executor_(executor) {}
  // Waits for the group's tasks.
  ~TaskGroup() { Wait(); }
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void Submit(std::function<void()> task) EXCLUDES(mu_);
  // Blocks until every task submitted through the group so far has
  // returned. REQUIRES: not called from one of the group's tasks.
  void Wait() EXCLUDES(mu_);

 private:
  Executor* const executor_;
  Mutex mu_;
  std::condition_variable done_;  // pending_ reached 0
  size_t pending_ GUARDED_BY(mu_) = 0;
};

}  // namespace cfs

#include "base/executor.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace cfs {

Executor::Executor(ExecutorOptions o) : max_queued_(o.max_queued) {
  const int n = std::max(1, o.threads);
  workers_.reserve(n);
  for (int i = 0; i < n; i++) workers_.emplace_back([this, name = o.name] { WorkerLoop(name); });
}

namespace {
ExecutorOptions WithThreads(int threads) {
  ExecutorOptions o;
  o.threads = threads;
  return o;
}
}  // namespace

Executor::Executor(int threads) : Executor(WithThreads(threads)) {}

Executor::~Executor() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  work_.notify_all();
  for (auto& t : workers_) t.join();
}

void Executor::Submit(std::function<void()> task) {
  mu_.Lock();
  while (max_queued_ > 0 && queue_.size() >= max_queued_) {
    std::function<void()> oldest = std::move(queue_.front());
    queue_.pop_front();
    mu_.Unlock();
    oldest();
    mu_.Lock();
  }
  queue_.push_back(std::move(task));
  mu_.Unlock();
  work_.notify_one();
}

void Executor::WorkerLoop(const std::string& name) {
  if (!name.empty()) ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
  for (;;) {
    std::function<void()> task;
    {
      MutexLock l(&mu_);
      l.Wait(work_, [&]() REQUIRES(mu_) { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void TaskGroup::Submit(std::function<void()> task) {
  {
    MutexLock l(&mu_);
    pending_++;
  }
  executor_->Submit([this, task = std::move(task)] {
    task();
    // Notified with mu_ held: Wait cannot return (and the group go away)
    // before this task stops touching it.
    MutexLock l(&mu_);
    if (--pending_ == 0) done_.notify_all();
  });
}

void TaskGroup::Wait() {
  MutexLock l(&mu_);
  l.Wait(done_, [&]() REQUIRES(mu_) { return pending_ == 0; });
}

}  // namespace cfs

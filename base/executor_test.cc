#include "base/executor.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace cfs {
namespace {

// A one-shot event. Wait gives up only after a minute (a hang would
// otherwise block the suite): it reports whether the event happened.
class Event {
 public:
  void Set() {
    std::lock_guard<std::mutex> l(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::minutes(1), [&] { return set_; });
  }
  bool IsSet() {
    std::lock_guard<std::mutex> l(mu_);
    return set_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

TEST(Executor, AGroupWaitsForAllItsTasks) {
  Executor pool(3);
  EXPECT_EQ(pool.threads(), 3);
  std::atomic<int> ran{0};
  TaskGroup group(&pool);
  for (int i = 0; i < 200; i++) group.Submit([&] { ran++; });
  group.Wait();
  EXPECT_EQ(ran.load(), 200);
  group.Submit([&] { ran++; });  // a group can be reused after Wait
  group.Wait();
  EXPECT_EQ(ran.load(), 201);
}

TEST(Executor, RunsTasksOnAllItsThreadsAtOnce) {
  Executor pool(3);
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  bool all_met = true;
  TaskGroup group(&pool);
  // Each task waits until all three are running: only three threads at
  // once let any of them finish.
  for (int i = 0; i < 3; i++)
    group.Submit([&] {
      std::unique_lock<std::mutex> l(mu);
      started++;
      cv.notify_all();
      if (!cv.wait_for(l, std::chrono::minutes(1), [&] { return started == 3; })) all_met = false;
    });
  group.Wait();
  EXPECT_TRUE(all_met);
  EXPECT_EQ(started, 3);
}

TEST(Executor, OneThreadRunsTasksInSubmissionOrder) {
  Executor pool(0);  // below 1 means 1
  EXPECT_EQ(pool.threads(), 1);
  std::vector<int> order;  // only the one worker touches it
  TaskGroup group(&pool);
  for (int i = 0; i < 50; i++) group.Submit([&order, i] { order.push_back(i); });
  group.Wait();
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; i++) EXPECT_EQ(order[i], i);
}

TEST(Executor, DestructorRunsEveryQueuedTask) {
  std::atomic<int> ran{0};
  Event started, gate;
  {
    Executor pool(1);
    pool.Submit([&] {
      started.Set();
      gate.Wait();
    });
    ASSERT_TRUE(started.Wait());
    for (int i = 0; i < 20; i++) pool.Submit([&] { ran++; });
    EXPECT_EQ(ran.load(), 0);  // the only worker is held at the gate
    gate.Set();
  }  // ~Executor: the 20 tasks queued behind the gate still run
  EXPECT_EQ(ran.load(), 20);
}

TEST(Executor, AFullQueueRunsTheOldestTaskOnTheSubmittingThread) {
  ExecutorOptions o;
  o.threads = 1;
  o.max_queued = 2;
  Executor pool(o);
  Event started, gate;
  TaskGroup group(&pool);
  group.Submit([&] {
    started.Set();
    gate.Wait();
  });
  ASSERT_TRUE(started.Wait());  // the worker is busy; the queue is empty
  std::mutex mu;
  std::vector<std::pair<char, std::thread::id>> ran;
  auto task = [&](char name) {
    return [&, name] {
      std::lock_guard<std::mutex> l(mu);
      ran.emplace_back(name, std::this_thread::get_id());
    };
  };
  group.Submit(task('a'));
  group.Submit(task('b'));
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_TRUE(ran.empty());  // both queued
  }
  group.Submit(task('c'));  // full: 'a' runs here first
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_EQ(ran.size(), 1u);
    EXPECT_EQ(ran[0].first, 'a');
    EXPECT_EQ(ran[0].second, std::this_thread::get_id());
  }
  gate.Set();
  group.Wait();
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[1].first, 'b');
  EXPECT_EQ(ran[2].first, 'c');
  EXPECT_NE(ran[1].second, std::this_thread::get_id());
  EXPECT_NE(ran[2].second, std::this_thread::get_id());
}

TEST(Executor, GroupsOnOneExecutorWaitOnlyForTheirOwnTasks) {
  Executor pool(2);
  Event started, gate;
  TaskGroup slow(&pool);
  slow.Submit([&] {
    started.Set();
    gate.Wait();
  });
  ASSERT_TRUE(started.Wait());
  std::atomic<int> ran{0};
  {
    TaskGroup fast(&pool);
    for (int i = 0; i < 10; i++) fast.Submit([&] { ran++; });
  }  // ~TaskGroup waits for its own tasks, not for `slow`'s
  EXPECT_EQ(ran.load(), 10);
  EXPECT_FALSE(gate.IsSet());
  gate.Set();
  slow.Wait();
}

TEST(Executor, WorkersCarryTheGivenName) {
  ExecutorOptions o;
  o.threads = 2;
  o.name = "cfs-executor-test-long";
  Executor pool(o);
  std::mutex mu;
  std::set<std::string> names;
  TaskGroup group(&pool);
  for (int i = 0; i < 4; i++)
    group.Submit([&] {
      char buf[32] = {};
      ::pthread_getname_np(::pthread_self(), buf, sizeof buf);
      std::lock_guard<std::mutex> l(mu);
      names.insert(buf);
    });
  group.Wait();
  EXPECT_EQ(names, std::set<std::string>{"cfs-executor-te"});  // 15 bytes kept
}

}  // namespace
}  // namespace cfs

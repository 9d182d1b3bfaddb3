// Cancellation of network waits: a flag set once (by an unmount) that every
// transfer and every retry delay of a Client watches. Private to registry/.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace cfs::registry {

// Once Cancel() is called, cancelled() is true for good, every SleepUntil()
// returns false at once, and the transfers that check it (curl_transport.cc's progress
// callback, called by curl about once a second) abort. Thread-safe.
class Canceller {
 public:
  using Clock = std::chrono::steady_clock;

  void Cancel() {
    {
      std::lock_guard<std::mutex> l(mu_);
      flag_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
  }
  bool cancelled() const { return flag_.load(std::memory_order_acquire); }

  // Waits until `until`; false when cancelled before (or at) that time.
  bool SleepUntil(Clock::time_point until) {
    std::unique_lock<std::mutex> l(mu_);
    return !cv_.wait_until(l, until, [&] { return cancelled(); });
  }

 private:
  std::atomic<bool> flag_{false};
  std::mutex mu_;  // orders Cancel() with the waits (no lost wake-up)
  std::condition_variable cv_;
};

}  // namespace cfs::registry

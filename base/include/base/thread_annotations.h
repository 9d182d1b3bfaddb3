// Clang thread-safety annotations and an annotated mutex.
//
// Under clang with -Wthread-safety (CMake option CFS_THREAD_SAFETY) the
// compiler checks that every GUARDED_BY member is touched only with its
// mutex held; elsewhere the macros expand to nothing.
#pragma once

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define CFS_TSA(x) __attribute__((x))
#else
#define CFS_TSA(x)
#endif

#define CAPABILITY(x) CFS_TSA(capability(x))
#define SCOPED_CAPABILITY CFS_TSA(scoped_lockable)
#define GUARDED_BY(x) CFS_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) CFS_TSA(pt_guarded_by(x))
#define ACQUIRE(...) CFS_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) CFS_TSA(release_capability(__VA_ARGS__))
#define REQUIRES(...) CFS_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) CFS_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) CFS_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) CFS_TSA(release_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) CFS_TSA(locks_excluded(__VA_ARGS__))
#define RETURN_CAPABILITY(x) CFS_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS CFS_TSA(no_thread_safety_analysis)

namespace cfs {

// std::mutex with capability annotations.
class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  // Waits on cv, releasing the mutex meanwhile (it is held again on return).
  template <typename Pred>
  void Wait(std::condition_variable& cv, Pred pred) NO_THREAD_SAFETY_ANALYSIS {
    std::unique_lock<std::mutex> l(mu_->native(), std::adopt_lock);
    cv.wait(l, pred);
    l.release();
  }

 private:
  Mutex* mu_;
};

// std::shared_mutex with capability annotations.
class CAPABILITY("mutex") SharedMutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  void LockShared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex exclusively for its scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterLock() RELEASE() { mu_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* mu_;
};

// Holds a SharedMutex shared for its scope.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_->LockShared(); }
  ~ReaderLock() RELEASE() { mu_->UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* mu_;
};

}  // namespace cfs

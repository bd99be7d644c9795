#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace adpc {
namespace {

// Long enough to catch the next loop of a layer sequence without a futex wake-up, short
// enough that an idle pool costs nothing measurable next to onnxruntime's sessions.
constexpr std::chrono::microseconds kSpin{50};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

template <class Ready>
bool spin_until(Ready ready) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() - start > kSpin) return false;
  }
}

}  // namespace

struct ThreadPool::State {
  int size = 1;
  std::vector<std::thread> workers;

  std::mutex mu;                     // guards sleeping, stop, error, and the wake-ups
  std::condition_variable wake;      // workers: a new generation (or stop)
  std::condition_variable finished;  // caller: pending reached 0
  bool stop = false;
  std::exception_ptr error;

  std::mutex run_mu;  // one loop at a time
  // The current loop, published before `generation` is bumped (release).
  const std::function<void(size_t, int)>* fn = nullptr;
  size_t tasks = 0;
  std::atomic<size_t> next{0};
  std::atomic<int> pending{0};  // workers that have not finished the current generation
  std::atomic<uint64_t> generation{0};

  void run_tasks(int thread);
  void worker(int thread);
};

namespace {
thread_local const void* inside = nullptr;  // the pool state whose task this thread runs
}

void ThreadPool::State::run_tasks(int thread) {
  const void* outer = inside;
  inside = this;
  for (size_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
    try {
      (*fn)(t, thread);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
      next.store(tasks, std::memory_order_relaxed);
    }
  }
  inside = outer;
}

void ThreadPool::State::worker(int thread) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = 0;
    const auto moved = [&] { return (g = generation.load(std::memory_order_acquire)) != seen; };
    if (!spin_until(moved)) {
      std::unique_lock<std::mutex> lock(mu);
      wake.wait(lock, [&] { return stop || moved(); });
    }
    if (stop) return;
    seen = g;
    run_tasks(thread);
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu);
      finished.notify_one();
    }
  }
}

ThreadPool::ThreadPool(int threads) : state_(new State) {
  if (threads < 1) throw std::invalid_argument("ThreadPool: threads must be >= 1");
  state_->size = threads;
  for (int t = 1; t < threads; ++t) {
    state_->workers.emplace_back([s = state_.get(), t] { s->worker(t); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->wake.notify_all();
  for (std::thread& w : state_->workers) w.join();
}

int ThreadPool::size() const { return state_->size; }

void ThreadPool::parallel_for(size_t tasks, const std::function<void(size_t, int)>& fn) {
  State& s = *state_;
  if (tasks == 0) return;
  if (s.workers.empty() || tasks == 1 || inside == &s) {
    for (size_t t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  std::lock_guard<std::mutex> run_lock(s.run_mu);
  s.fn = &fn;
  s.tasks = tasks;
  s.next.store(0, std::memory_order_relaxed);
  s.pending.store(static_cast<int>(s.workers.size()), std::memory_order_relaxed);
  {
    // Under the mutex, so a worker between its check and its sleep cannot miss it.
    std::lock_guard<std::mutex> lock(s.mu);
    s.generation.fetch_add(1, std::memory_order_release);
  }
  s.wake.notify_all();
  s.run_tasks(0);
  const auto done = [&] { return s.pending.load(std::memory_order_acquire) == 0; };
  if (!spin_until(done)) {
    std::unique_lock<std::mutex> lock(s.mu);
    s.finished.wait(lock, done);
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    std::swap(error, s.error);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace adpc

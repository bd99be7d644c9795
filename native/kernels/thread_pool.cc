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

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

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

// The job word: generation in the high 32 bits, then a closed flag, then the number of
// workers inside the job. A worker joins by a compare-exchange that fails once the caller
// has closed the job or started the next one, so a worker that wakes late never holds the
// caller up: the caller runs whatever tasks nobody else claimed.
constexpr uint64_t kClosed = uint64_t{1} << 31;
constexpr uint64_t kInside = kClosed - 1;
constexpr uint64_t generation_of(uint64_t job) { return job >> 32; }

thread_local const void* inside = nullptr;  // the pool state whose task this thread runs

#if defined(__linux__)
// The CPUs this process may run on, in order (empty if that cannot be read).
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

// Best effort: a CPU set that changed under us (a container's cpuset) leaves the thread where it was.
void pin_thread(pthread_t thread, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(thread, sizeof set, &set);
}
#endif

}  // namespace

struct ThreadPool::State {
  int size = 1;
  std::vector<std::thread> workers;
  std::vector<int> cpus;  // pinned: the CPUs, in order; else empty
  // pinned: per thread, the index in `cpus` of its CPU, which is also the block of every
  // loop it takes first (so a CPU computes the same part of each map, whichever thread is
  // on it); else thread t takes block t first
  std::vector<int> home;

  std::mutex mu;                   // guards stop, error, and the sleeps on the two conditions
  std::condition_variable wake;    // workers: a new generation (or stop)
  std::condition_variable drained; // caller: no worker inside the job
  bool stop = false;
  std::exception_ptr error;

  std::mutex run_mu;  // one loop at a time
  // The current loop, written before the job word announces it (release) and read only by
  // workers that joined it (acquire). The tasks are cut into one contiguous block per
  // thread: each thread claims its own block first, then what is left of the others'. So the
  // same thread takes the same part of every loop over a map, and finds in its own cache
  // what it wrote there in the loop before.
  const std::function<void(size_t, int)>* fn = nullptr;
  struct alignas(64) Block {
    std::atomic<size_t> next{0};
    size_t end = 0;
  };
  std::unique_ptr<Block[]> blocks;
  std::atomic<uint64_t> job{kClosed};
  // post(): the task for the first worker, and whether it is still to run (true from post
  // until the worker has run it; guarded by mu, read by the spinning worker without it)
  std::function<void()> posted;
  std::atomic<bool> posted_pending{false};
  std::condition_variable posted_done;
  std::atomic<uint64_t> nudges{0};  // nudge(): sleeping workers wake and spin again

  void run_tasks(int thread);
  void worker(int thread);
};

void ThreadPool::State::run_tasks(int thread) {
  const void* outer = inside;
  inside = this;
  for (int k = 0; k < size; ++k) {
    Block& b = blocks[(home[static_cast<size_t>(thread)] + k) % size];
    for (size_t t; (t = b.next.fetch_add(1, std::memory_order_relaxed)) < b.end;) {
      try {
        (*fn)(t, thread);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        for (int j = 0; j < size; ++j) blocks[j].next.store(blocks[j].end, std::memory_order_relaxed);
      }
    }
  }
  inside = outer;
}

void ThreadPool::State::worker(int thread) {
  uint64_t seen = 0;  // the last generation this worker joined or found closed
  uint64_t seen_nudges = 0;
  for (;;) {
    const auto announced = [&] { return generation_of(job.load(std::memory_order_acquire)) != seen; };
    const auto has_post = [&] { return thread == 1 && posted_pending.load(std::memory_order_acquire); };
    if (!spin_until([&] { return announced() || has_post(); })) {
      std::unique_lock<std::mutex> lock(mu);
      wake.wait(lock, [&] { return stop || announced() || has_post() || nudges.load(std::memory_order_relaxed) != seen_nudges; });
      if (stop) return;
      seen_nudges = nudges.load(std::memory_order_relaxed);
      if (!announced() && !has_post()) continue;  // nudged: spin again
    }
    if (has_post()) {
      posted();
      std::lock_guard<std::mutex> lock(mu);
      posted = nullptr;
      posted_pending.store(false, std::memory_order_release);
      posted_done.notify_all();
      continue;
    }
    uint64_t j = job.load(std::memory_order_acquire);
    seen = generation_of(j);
    bool joined = false;
    while (!joined && (j & kClosed) == 0 && generation_of(j) == seen) {
      joined = job.compare_exchange_weak(j, j + 1, std::memory_order_acquire, std::memory_order_acquire);
    }
    if (!joined) continue;
    run_tasks(thread);
    if ((job.fetch_sub(1, std::memory_order_acq_rel) & kInside) == 1) {
      std::lock_guard<std::mutex> lock(mu);
      drained.notify_one();
    }
  }
}

ThreadPool::ThreadPool(int threads) : state_(new State) {
  if (threads < 1) throw std::invalid_argument("ThreadPool: threads must be >= 1");
  state_->size = threads;
  state_->blocks.reset(new State::Block[static_cast<size_t>(threads)]);
#if defined(__linux__)
  if (threads > 1) {
    std::vector<int> cpus = allowed_cpus();
    if (cpus.size() == static_cast<size_t>(threads)) state_->cpus = std::move(cpus);
  }
#endif
  state_->home.resize(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) state_->home[static_cast<size_t>(t)] = t;
  for (int t = 1; t < threads; ++t) {
    state_->workers.emplace_back([s = state_.get(), t] { s->worker(t); });
#if defined(__linux__)
    if (!state_->cpus.empty()) pin_thread(state_->workers.back().native_handle(), state_->cpus[static_cast<size_t>(t)]);
#endif
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

void ThreadPool::post(std::function<void()> fn) {
  State& s = *state_;
  if (s.workers.empty()) {
    fn();
    return;
  }
  settle();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.posted = std::move(fn);
    s.posted_pending.store(true, std::memory_order_release);
  }
  s.wake.notify_all();
}

void ThreadPool::settle() {
  State& s = *state_;
  if (!s.posted_pending.load(std::memory_order_acquire)) return;
  std::unique_lock<std::mutex> lock(s.mu);
  s.posted_done.wait(lock, [&] { return !s.posted_pending.load(std::memory_order_acquire); });
}

void ThreadPool::nudge() {
  State& s = *state_;
  if (s.workers.empty()) return;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.nudges.fetch_add(1, std::memory_order_relaxed);
  }
  s.wake.notify_all();
}

bool ThreadPool::pinned() const { return !state_->cpus.empty(); }

#if defined(__linux__)
struct ThreadPool::Caller::Saved {
  cpu_set_t set;
};

ThreadPool::Caller::Caller(const ThreadPool& pool) {
  if (!pool.pinned()) return;
  State& s = *pool.state_;
  auto saved = std::make_unique<Saved>();
  if (pthread_getaffinity_np(pthread_self(), sizeof saved->set, &saved->set) != 0) return;
  // The caller stays on the CPU it runs on: moving it would take that CPU from whatever runs
  // there (the event loop handing the last stage's exit out, say). The worker homed on it
  // moves to the CPU the caller's slot had, and the blocks follow the CPUs.
  const int cpu = sched_getcpu();
  int at = 0;
  for (size_t i = 0; i < s.cpus.size(); ++i) if (s.cpus[i] == cpu) at = static_cast<int>(i);
  {
    std::lock_guard<std::mutex> lock(s.run_mu);  // no loop of another caller reads the homes meanwhile
    if (s.home[0] != at) {
      for (size_t t = 1; t < s.home.size(); ++t) {
        if (s.home[t] != at) continue;
        s.home[t] = s.home[0];
        pin_thread(s.workers[t - 1].native_handle(), s.cpus[static_cast<size_t>(s.home[t])]);
      }
      s.home[0] = at;
    }
  }
  pin_thread(pthread_self(), s.cpus[static_cast<size_t>(at)]);
  saved_ = std::move(saved);
}

ThreadPool::Caller::~Caller() {
  if (saved_) pthread_setaffinity_np(pthread_self(), sizeof saved_->set, &saved_->set);
}
#else
struct ThreadPool::Caller::Saved {};
ThreadPool::Caller::Caller(const ThreadPool&) {}
ThreadPool::Caller::~Caller() = default;
#endif

void ThreadPool::parallel_for(size_t tasks, const std::function<void(size_t, int)>& fn) {
  State& s = *state_;
  if (tasks == 0) return;
  if (s.workers.empty() || tasks == 1 || inside == &s) {
    for (size_t t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  std::lock_guard<std::mutex> run_lock(s.run_mu);
  s.fn = &fn;
  for (int b = 0; b < s.size; ++b) {
    s.blocks[b].next.store(tasks * static_cast<size_t>(b) / static_cast<size_t>(s.size), std::memory_order_relaxed);
    s.blocks[b].end = tasks * static_cast<size_t>(b + 1) / static_cast<size_t>(s.size);
  }
  const uint64_t open = (generation_of(s.job.load(std::memory_order_relaxed)) + 1) << 32;
  {
    // Under the mutex, so a worker between its check and its sleep cannot miss it.
    std::lock_guard<std::mutex> lock(s.mu);
    s.job.store(open, std::memory_order_release);
  }
  s.wake.notify_all();
  s.run_tasks(0);
  // Every task is claimed; close the job once the workers inside it have left.
  const auto close = [&] {
    uint64_t j = open;
    while ((j & kInside) == 0) {
      if (s.job.compare_exchange_weak(j, open | kClosed, std::memory_order_acq_rel)) return true;
    }
    return false;
  };
  if (!spin_until(close)) {
    std::unique_lock<std::mutex> lock(s.mu);
    s.drained.wait(lock, close);
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    std::swap(error, s.error);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace adpc

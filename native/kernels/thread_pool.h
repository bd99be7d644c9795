// A persistent pool for data-parallel loops; the calling thread takes part.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace adpc {

class ThreadPool {
 public:
  // threads >= 1 (1 = every loop runs inline, no workers); throws std::invalid_argument else.
  // When the pool takes every CPU the process may run on (Linux; threads = that count > 1),
  // each thread is pinned to one of them (the caller's through a Caller guard), and block j
  // of every loop goes first to the thread on the j-th CPU.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;

  // Runs fn(task, thread) for every task in [0, tasks), thread in [0, size()) (0 = the
  // caller), tasks claimed dynamically: each thread first from its own contiguous share of
  // [0, tasks), then from the others'; returns when all are done. If fn throws, unclaimed
  // tasks are dropped and the first exception is rethrown here. Calls from several threads
  // run one after another; a call from inside fn runs inline on that thread. Idle workers
  // spin for a few tens of microseconds, then sleep.
  void parallel_for(size_t tasks, const std::function<void(size_t, int)>& fn);

  // Runs fn on the first worker while the caller goes on; settle() waits until it has run.
  // One at a time (post settles the last one first). fn must not throw or use the pool; no
  // loop of the pool may run meanwhile (settle first): the worker is busy with fn. With no
  // workers, fn runs at once on the caller.
  void post(std::function<void()> fn);
  void settle();

  // Wakes sleeping workers to spin as after a loop, from any thread: a loop expected within
  // tens of microseconds then finds them running, not waiting for a futex wake-up inside it.
  void nudge();

  // Whether the workers are pinned (see the constructor).
  bool pinned() const;

  // While it lives (a pinned pool; otherwise it does nothing), the calling thread is pinned to
  // the CPU it is on, and the worker that was pinned there moves to the CPU the caller had
  // before; then the caller gets its own CPU set back. A thread that moved between CPUs in
  // a sequence of loops would leave its part of the data in the other CPU's cache, and two
  // of the pool's threads could contend for one CPU while another idles.
  class Caller {
   public:
    explicit Caller(const ThreadPool& pool);
    ~Caller();
    Caller(const Caller&) = delete;
    Caller& operator=(const Caller&) = delete;

   private:
    struct Saved;
    std::unique_ptr<Saved> saved_;
  };

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace adpc

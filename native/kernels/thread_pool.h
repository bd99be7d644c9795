// A persistent pool for data-parallel loops; the calling thread takes part.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace adpc {

class ThreadPool {
 public:
  // threads >= 1 (1 = every loop runs inline, no workers); throws std::invalid_argument else.
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

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace adpc

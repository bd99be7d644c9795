// Node-API face of the native executor (src/native/native-executor.ts is its only caller).
//
//   new Executor({stages, weights, classes, isa, threads})
//   executor.isa, executor.threads
//   executor.newRun()                                   -> Run (per frame state)
//   executor.runStage(run, k, threshold, needFeatures, from?, focus?) -> Promise<{labels, confidence, computed}>
//       from = {features: Float32Array[] (NCHW), shapes: [c,h,w][], logits, confidence, labels}:
//       the state of stage k-1 when onnxruntime ran it
//   executor.runStages(run, k, last, threshold, needFeatures[], from?, focus?, onStage)
//       stages k..last back to back on one worker (no hop through the event loop between them);
//       onStage(stage, {labels, confidence, computed, ms}) as each ends, onStage(stage, Error) if
//       it fails, then onStage(0) when the chain is over: the run is free from then on
//   executor.stopStages(run)                            : a chain under way ends after its current stage
//   executor.importState(run, k, from)                  -> Promise: takes stage k's outputs only
//   executor.exportState(run)                           -> Promise<{features: Float32Array[], logits}>
//   executor.fullLabels(run, height, width)             -> Promise<Uint8Array>: labels from the
//       merged logits upsampled bilinearly
// Stages run on a libuv worker thread (the event loop stays free); the compute itself uses
// the executor's own pool of `threads`.
#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <unordered_map>
#include <stdexcept>
#include <string>

#include "kernels/isa.h"
#include "executor.h"
#include "row_ops.h"

namespace {

using adpc::Executor;
using adpc::Op;
using adpc::OpKind;
using adpc::Program;
using adpc::RunState;
using adpc::Shape;

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

Napi::Value field(const Napi::Object& o, const char* name) {
  if (!o.Has(name)) bad(std::string("missing field ") + name);
  return o.Get(name);
}

int integer(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) bad(std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != double(int64_t(d)) || d < -1 || d > 1e9) bad(std::string(what) + " must be an integer");
  return int(d);
}

std::vector<float> floats(const Napi::Value& ref, const uint8_t* weights, size_t bytes, size_t expect) {
  if (ref.IsNull() || ref.IsUndefined()) return std::vector<float>(expect, 0.f);
  if (!ref.IsArray()) bad("a weight reference must be [offset, count]");
  const Napi::Array a = ref.As<Napi::Array>();
  if (a.Length() != 2) bad("a weight reference must be [offset, count]");
  const size_t offset = size_t(integer(a.Get(0u), "weight offset"));
  const size_t count = size_t(integer(a.Get(1u), "weight count"));
  if (count != expect) bad("a weight blob has " + std::to_string(count) + " floats, its op needs " + std::to_string(expect));
  if (offset % 4 != 0 || offset > bytes || count * 4 > bytes - offset) bad("a weight blob lies outside the weights file");
  std::vector<float> out(count);
  std::memcpy(out.data(), weights + offset, count * 4);
  return out;
}

Program parse_program(const Napi::Object& o, const uint8_t* weights, size_t bytes) {
  Program p;
  p.stage = integer(field(o, "stage"), "stage");
  std::unordered_map<std::string, int> index;
  const Napi::Object tensors = field(o, "tensors").As<Napi::Object>();
  const Napi::Array names = tensors.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    const Napi::Value shape = tensors.Get(name);
    if (!shape.IsArray() || shape.As<Napi::Array>().Length() != 3) bad("tensor " + name + " needs a [c, h, w] shape");
    const Napi::Array s = shape.As<Napi::Array>();
    index[name] = int(p.tensors.size());
    p.tensors.push_back(Shape{integer(s.Get(0u), "c"), integer(s.Get(1u), "h"), integer(s.Get(2u), "w")});
  }
  auto tensor = [&](const Napi::Value& v) -> int {
    if (v.IsNull() || v.IsUndefined()) return -1;
    if (!v.IsString()) bad("a tensor reference must be a name");
    const auto it = index.find(v.As<Napi::String>().Utf8Value());
    if (it == index.end()) bad("unknown tensor " + v.As<Napi::String>().Utf8Value());
    return it->second;
  };
  const Napi::Array res = field(o, "resolutions").As<Napi::Array>();
  for (uint32_t i = 0; i < res.Length(); i++) {
    const Napi::Array r = res.Get(i).As<Napi::Array>();
    p.resolutions.emplace_back(integer(r.Get(0u), "resolution"), integer(r.Get(1u), "resolution"));
  }
  const Napi::Array inputs = field(o, "inputs").As<Napi::Array>();
  for (uint32_t i = 0; i < inputs.Length(); i++) p.inputs.push_back(tensor(inputs.Get(i)));
  const Napi::Object outputs = field(o, "outputs").As<Napi::Object>();
  const Napi::Array features = field(outputs, "features").As<Napi::Array>();
  for (uint32_t i = 0; i < features.Length(); i++) p.out_features.push_back(tensor(features.Get(i)));
  p.out_logits = tensor(field(outputs, "logits"));
  const Napi::Array ops = field(o, "ops").As<Napi::Array>();
  for (uint32_t i = 0; i < ops.Length(); i++) {
    const Napi::Object j = ops.Get(i).As<Napi::Object>();
    const std::string kind = field(j, "op").As<Napi::String>().Utf8Value();
    Op op;
    op.out = tensor(field(j, "out"));
    if (op.out < 0) bad("an op needs an output");
    if (kind == "conv") {
      op.kind = OpKind::conv;
      op.in = tensor(field(j, "in"));
      auto& c = op.conv;
      c.kernel = integer(field(j, "kernel"), "kernel");
      c.stride = integer(field(j, "stride"), "stride");
      c.pad = integer(field(j, "pad"), "pad");
      c.cin = integer(field(j, "cin"), "cin");
      c.cout = integer(field(j, "cout"), "cout");
      if (c.kernel < 1 || c.kernel > 3 || c.cin < 1 || c.cout < 1 || c.cin > 65536 || c.cout > 65536) bad("conv sizes out of range");
      c.weight = floats(field(j, "weight"), weights, bytes, size_t(c.cout) * c.cin * c.kernel * c.kernel);
      c.pre_bias = floats(field(j, "pre_bias"), weights, bytes, size_t(c.cout));
      c.post_bias = floats(field(j, "post_bias"), weights, bytes, size_t(c.cout));
      const Napi::Value fill = field(j, "fill");
      if (!fill.IsNull()) {
        const Napi::Object f = fill.As<Napi::Object>();
        c.fill_radius = integer(field(f, "radius"), "fill radius");
        const Napi::Array w = field(f, "weights").As<Napi::Array>();
        for (uint32_t k = 0; k < w.Length(); k++) c.fill.push_back(float(w.Get(k).As<Napi::Number>().DoubleValue()));
      }
      c.residual = tensor(field(j, "residual"));
      c.relu = field(j, "relu").As<Napi::Boolean>().Value();
    } else if (kind == "fuse_sum" || kind == "concat_up") {
      op.kind = kind == "fuse_sum" ? OpKind::fuse_sum : OpKind::concat_up;
      const Napi::Array terms = field(j, kind == "fuse_sum" ? "terms" : "parts").As<Napi::Array>();
      for (uint32_t k = 0; k < terms.Length(); k++) {
        if (op.kind == OpKind::fuse_sum) {
          const Napi::Object t = terms.Get(k).As<Napi::Object>();
          op.terms.push_back({tensor(field(t, "tensor")), field(t, "upsample").As<Napi::Boolean>().Value()});
        } else {
          op.terms.push_back({tensor(terms.Get(k)), k > 0});
        }
      }
      op.relu = op.kind == OpKind::fuse_sum && field(j, "relu").As<Napi::Boolean>().Value();
    } else if (kind == "avgpool2" || kind == "upsample") {
      op.kind = kind == "avgpool2" ? OpKind::avgpool2 : OpKind::upsample;
      op.in = tensor(field(j, "in"));
    } else {
      bad("unknown op " + kind);
    }
    p.ops.push_back(std::move(op));
  }
  // each masked conv's mask is the one at its output size
  for (Op& op : p.ops) {
    if (op.kind != OpKind::conv || op.conv.fill_radius < 0 || op.out >= int(p.tensors.size())) continue;
    const Shape& s = p.tensors[op.out];
    for (size_t r = 0; r < p.resolutions.size(); r++) {
      if (p.resolutions[r].first == s.h && p.resolutions[r].second == s.w) op.mask = int(r);
    }
  }
  p.validate();
  return p;
}

adpc::Isa choose_isa(const std::string& name) {
  const adpc::Isa best = adpc::detect_isa();
  if (name == "auto") return best;
  for (adpc::Isa i : adpc::supported_isas()) if (name == adpc::isa_name(i)) return i;
  bad("instruction set " + name + " is not supported here (best: " + adpc::isa_name(best) + ")");
}

// Per environment (the addon may be loaded by several worker threads).
struct AddonData {
  Napi::FunctionReference run_class;
};

class RunWrap : public Napi::ObjectWrap<RunWrap> {
 public:
  static Napi::Function Define(Napi::Env env) { return DefineClass(env, "Run", {}); }
  explicit RunWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RunWrap>(info) {}
  RunState state;
  bool busy = false;
  // set by stopStages() on the main thread, read by the chain's worker between its stages
  std::atomic<bool> stop_chain{false};
};

// The previous stage's onnxruntime outputs, read in place on the worker thread: the
// references keep them alive and nothing writes them meanwhile.
struct Import {
  std::vector<Napi::Reference<Napi::Value>> keep;
  std::vector<const float*> features;
  std::vector<Shape> shapes;
  const float* logits = nullptr;
  const float* confidence = nullptr;
  const uint8_t* labels = nullptr;
};

// One asynchronous call on a Run: `work` runs on a libuv worker thread (the event loop stays
// free; the executor's own pool does the compute), `result` then builds the promise's value
// on the main thread. The Run stays claimed, and referenced, until then.
class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, RunWrap* run, Napi::Object run_object, std::function<void()> work,
            std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), run_(run),
        run_ref_(Napi::Persistent(run_object)), work_(std::move(work)), result_(std::move(result)) {
    run_->busy = true;
  }

  // Queues the work; the caller returns the promise.
  static Napi::Promise start(Napi::Env env, RunWrap* run, Napi::Object run_object, std::function<void()> work,
                             std::function<Napi::Value(Napi::Env)> result) {
    auto* worker = new RunWorker(env, run, run_object, std::move(work), std::move(result));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    run_->busy = false;
    deferred_.Resolve(result_(Env()));
  }
  void OnError(const Napi::Error& e) override {
    run_->busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  RunWrap* run_;
  Napi::ObjectReference run_ref_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
};

template <typename T, typename Typed>
Typed copy_out(Napi::Env env, const std::vector<T>& v) {
  Typed a = Typed::New(env, v.size());
  std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

// What a stage hands out: its counts, and copies of the run's labels and confidence.
struct StageOutputs {
  adpc::StageResult result;
  std::vector<uint8_t> labels;
  std::vector<float> confidence;
};

// Stage k on the run, on a worker thread; stage k-1's onnxruntime outputs are taken in first when given.
StageOutputs run_one(Executor& ex, RunState& state, int k, float threshold, bool need, const Import* from,
                     const std::vector<uint8_t>* focus, bool next_at_once) {
  if (from) ex.import_state(state, k - 1, from->features, from->shapes, from->logits, from->confidence, from->labels);
  StageOutputs out;
  out.result = ex.run_stage(state, k, threshold, need, focus, next_at_once);
  out.labels = state.labels;
  out.confidence = state.confidence;
  return out;
}

// {labels, confidence, computed} on the main thread
Napi::Object stage_object(Napi::Env env, const StageOutputs& out) {
  Napi::Object o = Napi::Object::New(env);
  const auto& computed = out.result.computed;
  Napi::Array counts = Napi::Array::New(env, computed.size());
  for (size_t i = 0; i < computed.size(); i++) counts.Set(uint32_t(i), Napi::Number::New(env, double(computed[i])));
  o.Set("labels", copy_out<uint8_t, Napi::Uint8Array>(env, out.labels));
  o.Set("confidence", copy_out<float, Napi::Float32Array>(env, out.confidence));
  o.Set("computed", counts);
  return o;
}

// What one stage of a chain hands to the main thread: its outputs, or why it failed, or (stage
// 0) the end of the chain.
struct ChainReport {
  int stage = 0;
  StageOutputs out;
  double ms = 0;
  std::string error;
};

// Stages k..last of one run, one after another on a libuv worker thread, each stage's result
// going to the main thread through a thread-safe function while the next one runs: between
// stages there is no wake-up of the event loop and no hop back to a worker (0.1-0.15 ms a stage
// boundary here). The Run stays claimed until the report of the end has been handed out, which
// comes after every stage's (the function's calls arrive in order).
class ChainWorker : public Napi::AsyncWorker {
 public:
  struct Plan {
    int first = 0, last = 0;
    float threshold = 1.f;
    std::vector<bool> need;  // per stage first..last
    std::shared_ptr<Import> from;
    std::shared_ptr<std::vector<uint8_t>> focus;
  };

  ChainWorker(Napi::Env env, std::shared_ptr<Executor> ex, RunWrap* run, Napi::Object run_object, Plan plan, Napi::Function on_stage)
      : Napi::AsyncWorker(env), ex_(std::move(ex)), run_(run), plan_(std::move(plan)) {
    run_->busy = true;
    run_->stop_chain.store(false);
    auto* keep = new Napi::ObjectReference(Napi::Persistent(run_object));
    tsfn_ = Napi::ThreadSafeFunction::New(env, on_stage, "adpc-native-stages", 0, 1, keep,
                                          [](Napi::Env, Napi::ObjectReference* ref) { delete ref; });
  }

  void Execute() override {
    try {
      for (int k = plan_.first; k <= plan_.last; k++) {
        if (k > plan_.first && run_->stop_chain.load()) break;
        const auto started = std::chrono::steady_clock::now();
        auto report = std::make_unique<ChainReport>();
        report->stage = k;
        try {
          report->out = run_one(*ex_, run_->state, k, plan_.threshold, plan_.need[size_t(k - plan_.first)],
                                k == plan_.first ? plan_.from.get() : nullptr, plan_.focus.get(), k < plan_.last);
        } catch (const std::exception& e) {
          report->error = e.what();
        }
        report->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        const bool failed = !report->error.empty();
        deliver(std::move(report));
        if (failed) break;
      }
    } catch (const std::exception& e) {
      SetError(e.what());
    }
    deliver(std::make_unique<ChainReport>());
    tsfn_.Release();
  }

  // Everything the main thread needs comes through the thread-safe function.
  void OnOK() override {}
  void OnError(const Napi::Error&) override {}

 private:
  void deliver(std::unique_ptr<ChainReport> report) {
    RunWrap* run = run_;
    // queue size 0 (unbounded): a call is refused only once the environment is closing, and then nothing reads it
    const napi_status status = tsfn_.NonBlockingCall(report.get(), [run](Napi::Env env, Napi::Function on_stage, ChainReport* r) {
      std::unique_ptr<ChainReport> owned(r);
      if (env == nullptr) return;
      Napi::Value value = env.Undefined();
      if (r->stage == 0) {
        run->busy = false;
      } else if (!r->error.empty()) {
        value = Napi::Error::New(env, r->error).Value();
      } else {
        Napi::Object o = stage_object(env, r->out);
        o.Set("ms", Napi::Number::New(env, r->ms));
        value = o;
      }
      // the engine's callback does not throw; if it did, the exception could reach no caller
      // here and goes back to JavaScript as the process's uncaught one
      try {
        on_stage.Call({Napi::Number::New(env, r->stage), value});
      } catch (const Napi::Error& e) {
        e.ThrowAsJavaScriptException();
      }
    });
    if (status == napi_ok) report.release();
  }

  std::shared_ptr<Executor> ex_;
  RunWrap* run_;
  Plan plan_;
  Napi::ThreadSafeFunction tsfn_;
};

// v as a typed array of `type`; anything else is refused naming `what`
Napi::TypedArray typed_array(const Napi::Value& v, napi_typedarray_type type, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) bad(std::string(what) + " has the wrong type");
  return v.As<Napi::TypedArray>();
}

// Where a typed array's elements start in its buffer
uint8_t* bytes_of(const Napi::TypedArray& t) { return static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(); }

template <typename T>
const T* typed_view(Import& from, const Napi::Value& v, napi_typedarray_type type, size_t expect, const char* what) {
  const Napi::TypedArray t = typed_array(v, type, what);
  if (t.ElementLength() != expect) bad(std::string(what) + " has " + std::to_string(t.ElementLength()) + " values, expected " + std::to_string(expect));
  from.keep.push_back(Napi::Persistent(v));
  return reinterpret_cast<const T*>(bytes_of(t));
}

// A focus (one byte per 1/4-resolution position) copied for the worker; null when undefined.
std::shared_ptr<std::vector<uint8_t>> focus_of(const Napi::Value& v) {
  if (v.IsUndefined()) return nullptr;
  const Napi::TypedArray f = typed_array(v, napi_uint8_array, "focus");
  return std::make_shared<std::vector<uint8_t>>(bytes_of(f), bytes_of(f) + f.ElementLength());
}

class ExecutorWrap : public Napi::ObjectWrap<ExecutorWrap> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "Executor", {
        InstanceAccessor<&ExecutorWrap::Isa>("isa"),
        InstanceAccessor<&ExecutorWrap::Threads>("threads"),
        InstanceMethod<&ExecutorWrap::NewRun>("newRun"),
        InstanceMethod<&ExecutorWrap::RunStage>("runStage"),
        InstanceMethod<&ExecutorWrap::RunStages>("runStages"),
        InstanceMethod<&ExecutorWrap::StopStages>("stopStages"),
        InstanceMethod<&ExecutorWrap::ImportState>("importState"),
        InstanceMethod<&ExecutorWrap::ExportState>("exportState"),
        InstanceMethod<&ExecutorWrap::FullLabels>("fullLabels"),
        InstanceMethod<&ExecutorWrap::SetProfiling>("setProfiling"),
        InstanceMethod<&ExecutorWrap::Profile>("profile"),
    });
    exports.Set("Executor", f);
    return exports;
  }

  explicit ExecutorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExecutorWrap>(info) {
    Napi::Env env = info.Env();
    try {
      if (info.Length() != 1 || !info[0].IsObject()) bad("new Executor({stages, weights, classes, isa, threads})");
      const Napi::Object o = info[0].As<Napi::Object>();
      const Napi::TypedArray wt = typed_array(field(o, "weights"), napi_uint8_array, "weights");
      const uint8_t* weights = bytes_of(wt);
      std::vector<Program> programs;
      const Napi::Array stages = field(o, "stages").As<Napi::Array>();
      for (uint32_t i = 0; i < stages.Length(); i++) programs.push_back(parse_program(stages.Get(i).As<Napi::Object>(), weights, wt.ByteLength()));
      const int threads = integer(field(o, "threads"), "threads");
      if (threads < 1 || threads > 256) bad("threads must be 1..256");
      ex_ = std::make_shared<Executor>(std::move(programs), integer(field(o, "classes"), "classes"),
                                       choose_isa(field(o, "isa").As<Napi::String>().Utf8Value()), threads);
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
    }
  }

 private:
  Napi::Value Isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), adpc::isa_name(ex_->isa())); }
  Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ex_->threads()); }
  Napi::Value NewRun(const Napi::CallbackInfo& info) { return info.Env().GetInstanceData<AddonData>()->run_class.New({}); }

  RunWrap* claim(const Napi::Value& v) {
    Napi::Env env = v.Env();
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonData>()->run_class.Value())) bad("expected a Run from newRun()");
    RunWrap* run = RunWrap::Unwrap(v.As<Napi::Object>());
    if (run->busy) bad("this Run is already running a stage");
    return run;
  }

  std::shared_ptr<Import> parse_import(const Napi::Value& v) {
    if (!v.IsObject()) return nullptr;
    const Napi::Object f = v.As<Napi::Object>();
    auto from = std::make_shared<Import>();
    const Napi::Array shapes = field(f, "shapes").As<Napi::Array>();
    const Napi::Array features = field(f, "features").As<Napi::Array>();
    if (shapes.Length() != features.Length() || shapes.Length() == 0) bad("from: features and shapes differ");
    for (uint32_t i = 0; i < shapes.Length(); i++) {
      const Napi::Array s = shapes.Get(i).As<Napi::Array>();
      Shape sh{integer(s.Get(0u), "c"), integer(s.Get(1u), "h"), integer(s.Get(2u), "w")};
      if (sh.c < 1 || sh.h < 1 || sh.w < 1) bad("from: bad shape");
      from->shapes.push_back(sh);
      from->features.push_back(typed_view<float>(*from, features.Get(i), napi_float32_array, sh.floats(), "a feature"));
    }
    // the image alone (before stage 1) comes without logits, confidence and labels
    if (!f.Has("logits")) return from;
    const size_t positions = from->shapes[0].positions();
    from->logits = typed_view<float>(*from, field(f, "logits"), napi_float32_array, positions * size_t(ex_->classes()), "logits");
    from->confidence = typed_view<float>(*from, field(f, "confidence"), napi_float32_array, positions, "confidence");
    from->labels = typed_view<uint8_t>(*from, field(f, "labels"), napi_uint8_array, positions, "labels");
    return from;
  }

  // Stage k on the run; `from` (stage k-1's onnxruntime outputs) is taken in first.
  Napi::Value RunStage(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      if (info.Length() < 4) bad("runStage(run, k, threshold, needFeatures, from?, focus?)");
      RunWrap* run = claim(info[0]);
      const int k = integer(info[1], "stage");
      if (!info[2].IsNumber()) bad("threshold must be a number");
      const float threshold = float(info[2].As<Napi::Number>().DoubleValue());
      const bool need = info[3].ToBoolean().Value();
      std::shared_ptr<Import> from = info.Length() > 4 ? parse_import(info[4]) : nullptr;
      std::shared_ptr<std::vector<uint8_t>> focus = info.Length() > 5 ? focus_of(info[5]) : nullptr;
      auto out = std::make_shared<StageOutputs>();
      std::shared_ptr<Executor> ex = ex_;
      // the stage starts after a hop to a libuv thread (25-35 us here): long enough for a
      // sleeping worker to wake meanwhile
      ex->expect_stage();
      return RunWorker::start(env, run, info[0].As<Napi::Object>(), [=] {
        *out = run_one(*ex, run->state, k, threshold, need, from.get(), focus.get(), false);
      }, [=](Napi::Env e) -> Napi::Value { return stage_object(e, *out); });
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  // Stages k..last back to back (see ChainWorker); reports through onStage.
  Napi::Value RunStages(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      if (info.Length() < 8) bad("runStages(run, k, last, threshold, needFeatures, from, focus, onStage)");
      RunWrap* run = claim(info[0]);
      ChainWorker::Plan plan;
      plan.first = integer(info[1], "stage");
      plan.last = integer(info[2], "last stage");
      if (plan.first < 1 || plan.last < plan.first || plan.last > 4) bad("runStages: stages k..last within 1..4");
      if (!info[3].IsNumber()) bad("threshold must be a number");
      plan.threshold = float(info[3].As<Napi::Number>().DoubleValue());
      if (!info[4].IsArray() || info[4].As<Napi::Array>().Length() != uint32_t(plan.last - plan.first + 1)) bad("needFeatures: one flag per stage");
      const Napi::Array need = info[4].As<Napi::Array>();
      for (uint32_t i = 0; i < need.Length(); i++) plan.need.push_back(need.Get(i).ToBoolean().Value());
      plan.from = parse_import(info[5]);
      plan.focus = focus_of(info[6]);
      if (!info[7].IsFunction()) bad("onStage must be a function");
      ex_->expect_stage();
      (new ChainWorker(env, ex_, run, info[0].As<Napi::Object>(), std::move(plan), info[7].As<Napi::Function>()))->Queue();
      return env.Undefined();
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  Napi::Value StopStages(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonData>()->run_class.Value())) {
      Napi::Error::New(env, "stopStages(run): expected a Run from newRun()").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    RunWrap::Unwrap(info[0].As<Napi::Object>())->stop_chain.store(true);
    return env.Undefined();
  }

  // Only takes stage k's outputs in (benchmarks time a stage without its import).
  Napi::Value ImportState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      if (info.Length() < 3) bad("importState(run, stage, from)");
      RunWrap* run = claim(info[0]);
      const int stage = integer(info[1], "stage");
      std::shared_ptr<Import> from = parse_import(info[2]);
      if (!from) bad("importState needs the stage's outputs");
      std::shared_ptr<Executor> ex = ex_;
      return RunWorker::start(env, run, info[0].As<Napi::Object>(), [=] {
        ex->import_state(run->state, stage, from->features, from->shapes, from->logits, from->confidence, from->labels);
      }, [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  Napi::Value ExportState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      RunWrap* run = claim(info[0]);
      auto out = std::make_shared<std::pair<std::vector<std::vector<float>>, std::vector<float>>>();
      std::shared_ptr<Executor> ex = ex_;
      return RunWorker::start(env, run, info[0].As<Napi::Object>(), [=] {
        const RunState& s = run->state;
        if (s.feature_shapes.empty()) throw std::invalid_argument("export: the state holds no features");
        std::vector<float*> f;
        out->first.resize(s.feature_shapes.size());
        for (size_t i = 0; i < s.feature_shapes.size(); i++) {
          out->first[i].resize(s.feature_shapes[i].floats());
          f.push_back(out->first[i].data());
        }
        out->second.resize(s.feature_shapes[0].positions() * size_t(ex->classes()));
        ex->export_nchw(s, f, out->second.data());
      }, [=](Napi::Env e) -> Napi::Value {
        Napi::Object o = Napi::Object::New(e);
        Napi::Array features = Napi::Array::New(e, out->first.size());
        for (size_t i = 0; i < out->first.size(); i++) features.Set(uint32_t(i), copy_out<float, Napi::Float32Array>(e, out->first[i]));
        o.Set("features", features);
        o.Set("logits", copy_out<float, Napi::Float32Array>(e, out->second));
        return o;
      });
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  Napi::Value FullLabels(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      if (info.Length() < 3) bad("fullLabels(run, height, width)");
      RunWrap* run = claim(info[0]);
      const int h = integer(info[1], "height"), w = integer(info[2], "width");
      auto out = std::make_shared<std::vector<uint8_t>>();
      std::shared_ptr<Executor> ex = ex_;
      return RunWorker::start(env, run, info[0].As<Napi::Object>(), [=] {
        out->resize(size_t(h) * size_t(w));
        ex->full_labels(run->state, h, w, out->data());
      }, [=](Napi::Env e) -> Napi::Value { return copy_out<uint8_t, Napi::Uint8Array>(e, *out); });
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  Napi::Value SetProfiling(const Napi::CallbackInfo& info) {
    ex_->set_profiling(info.Length() > 0 && info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }

  // [{ms, calls, positions, op}] per op of stage k, then the mask, needed-set and merge phases
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      const std::vector<adpc::OpTiming> t = ex_->profile(integer(info[0], "stage"));
      Napi::Array out = Napi::Array::New(env, t.size());
      for (size_t i = 0; i < t.size(); i++) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("ms", t[i].ms);
        o.Set("calls", double(t[i].calls));
        o.Set("positions", double(t[i].positions));
        o.Set("op", t[i].op);
        out.Set(uint32_t(i), o);
      }
      return out;
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  std::shared_ptr<Executor> ex_;
};

// rgbPlanes(rgb, tables, out): on the calling thread, synchronously: at 0.11 ms a 512x256 frame,
// a hand-off to a worker and back (two thread wake-ups) would cost about what the work does;
// the JS loop it replaces took 0.7 ms.
Napi::Value RgbPlanes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() < 3) bad("rgbPlanes(rgb, tables, out)");
    const Napi::TypedArray rgb = typed_array(info[0], napi_uint8_array, "rgb");
    const Napi::TypedArray tables = typed_array(info[1], napi_float32_array, "tables");
    const Napi::TypedArray out = typed_array(info[2], napi_float32_array, "out");
    const size_t n = rgb.ElementLength() / 3;
    if (rgb.ElementLength() != 3 * n || tables.ElementLength() != 768 || out.ElementLength() != 3 * n) {
      bad("rgbPlanes: rgb needs 3n bytes, tables 768 values and out 3n values");
    }
    adpc::rgb_planes(bytes_of(rgb), n, reinterpret_cast<const float*>(bytes_of(tables)), reinterpret_cast<float*>(bytes_of(out)));
  } catch (const std::exception& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// cellLuma(rgb, width, height, cell, out): on the calling thread, like rgbPlanes (0.10 ms a
// 512x256 frame against 0.28 ms in JS, on the path to every frame of a stream with reuse).
Napi::Value CellLuma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() < 5) bad("cellLuma(rgb, width, height, cell, out)");
    const Napi::TypedArray rgb = typed_array(info[0], napi_uint8_array, "rgb");
    const int width = integer(info[1], "width"), height = integer(info[2], "height"), cell = integer(info[3], "cell");
    const Napi::TypedArray out = typed_array(info[4], napi_float32_array, "out");
    if (cell < 1 || cell > 64 || width < cell || height < cell || width % cell != 0 || height % cell != 0 || width > 16384 || height > 16384) {
      bad("cellLuma: width and height must be positive multiples of the cell (1..64), at most 16384");
    }
    if (rgb.ElementLength() != size_t(width) * size_t(height) * 3 || out.ElementLength() != size_t(width / cell) * size_t(height / cell)) {
      bad("cellLuma: rgb needs width x height x 3 bytes and out a value per cell");
    }
    adpc::cell_luma(bytes_of(rgb), width, height, cell, reinterpret_cast<float*>(bytes_of(out)));
  } catch (const std::exception& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->run_class = Napi::Persistent(RunWrap::Define(env));
  env.SetInstanceData(data);
  ExecutorWrap::Init(env, exports);
  exports.Set("rgbPlanes", Napi::Function::New(env, RgbPlanes, "rgbPlanes"));
  exports.Set("cellLuma", Napi::Function::New(env, CellLuma, "cellLuma"));
  exports.Set("isas", [&] {
    Napi::Array a = Napi::Array::New(env);
    uint32_t i = 0;
    for (adpc::Isa isa : adpc::supported_isas()) a.Set(i++, Napi::String::New(env, adpc::isa_name(isa)));
    return a;
  }());
  return exports;
}

}  // namespace

NODE_API_MODULE(adpc_native, Init)

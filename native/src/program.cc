#include "program.h"

#include <stdexcept>

namespace adpc {

namespace {

[[noreturn]] void fail(const Program& p, size_t op, const std::string& what) {
  throw std::invalid_argument("native program of stage " + std::to_string(p.stage) + ", op " +
                              std::to_string(op) + ": " + what);
}

int bilinear_ok(const Shape& from, const Shape& to) {
  return from.c == to.c && from.h >= 1 && from.w >= 1 && from.h <= to.h && from.w <= to.w;
}

}  // namespace

void Program::validate() const {
  const int n = int(tensors.size());
  auto valid = [&](int t) { return t >= 0 && t < n; };
  for (const Shape& s : tensors) {
    if (s.c < 1 || s.h < 1 || s.w < 1 || s.c > 65536 || s.h > 65536 || s.w > 65536) {
      throw std::invalid_argument("native program of stage " + std::to_string(stage) + ": a tensor has an invalid shape");
    }
  }
  if (resolutions.empty()) throw std::invalid_argument("native program: no masked resolutions");
  for (int t : inputs) if (!valid(t)) throw std::invalid_argument("native program: bad input tensor");
  for (int t : out_features) if (!valid(t)) throw std::invalid_argument("native program: bad output tensor");
  if (!valid(out_logits)) throw std::invalid_argument("native program: bad logits tensor");
  const Shape& logits = tensors[out_logits];
  if (logits.h != resolutions[0].first || logits.w != resolutions[0].second) {
    throw std::invalid_argument("native program: logits are not at the first masked resolution");
  }
  std::vector<bool> defined(n, false);
  for (int t : inputs) defined[t] = true;
  for (int t : out_features) {
    if (defined[t] || t == out_logits) throw std::invalid_argument("native program: an output is also an input or the logits");
  }
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    if (!valid(op.out)) fail(*this, i, "bad output tensor");
    if (defined[op.out]) fail(*this, i, "writes a tensor that already has a value");
    const Shape& out = tensors[op.out];
    auto need = [&](int t) {
      if (!valid(t) || !defined[t]) fail(*this, i, "reads a tensor before it has a value");
      return tensors[t];
    };
    switch (op.kind) {
      case OpKind::conv: {
        const ConvSpec& c = op.conv;
        const Shape in = need(op.in);
        if (c.kernel != 1 && c.kernel != 3) fail(*this, i, "kernel must be 1 or 3");
        if (c.stride < 1 || c.stride > 2 || c.pad < 0 || c.pad >= c.kernel) fail(*this, i, "bad stride or padding");
        if (c.cin != in.c || c.cout != out.c) fail(*this, i, "channels disagree with the tensors");
        if (out.h != (in.h + 2 * c.pad - c.kernel) / c.stride + 1 || out.w != (in.w + 2 * c.pad - c.kernel) / c.stride + 1) {
          fail(*this, i, "output size disagrees with the input, stride and padding");
        }
        if (c.weight.size() != size_t(c.cout) * c.cin * c.kernel * c.kernel) fail(*this, i, "weight size");
        if (c.pre_bias.size() != size_t(c.cout) || c.post_bias.size() != size_t(c.cout)) fail(*this, i, "bias size");
        if (c.fill_radius >= 0) {
          if (c.fill_radius > 3 || c.fill.size() != size_t((2 * c.fill_radius + 1) * (2 * c.fill_radius + 1))) fail(*this, i, "fill weights");
          if (op.mask < 0 || op.mask >= int(resolutions.size()) || resolutions[op.mask].first != out.h ||
              resolutions[op.mask].second != out.w) {
            fail(*this, i, "masked conv at a size that is not a masked resolution");
          }
        }
        if (c.residual >= 0) {
          const Shape r = need(c.residual);
          if (r.c != out.c || r.h != out.h || r.w != out.w) fail(*this, i, "residual shape");
        }
        break;
      }
      case OpKind::fuse_sum:
      case OpKind::concat_up: {
        if (op.terms.empty()) fail(*this, i, "no terms");
        int channels = 0;
        for (const Term& t : op.terms) {
          const Shape s = need(t.tensor);
          const Shape as_out{op.kind == OpKind::fuse_sum ? out.c : s.c, out.h, out.w};
          if (t.upsample ? !bilinear_ok(s, as_out) : (s.h != out.h || s.w != out.w || s.c != as_out.c)) {
            fail(*this, i, "a term's shape does not fit the output");
          }
          channels += s.c;
        }
        if (op.kind == OpKind::concat_up && channels != out.c) fail(*this, i, "concat channels");
        break;
      }
      case OpKind::avgpool2: {
        const Shape in = need(op.in);
        if (in.c != out.c || out.h != in.h / 2 || out.w != in.w / 2 || out.h < 1 || out.w < 1) fail(*this, i, "pool shape");
        break;
      }
      case OpKind::upsample: {
        const Shape in = need(op.in);
        if (in.c != out.c || out.h != 2 * in.h || out.w != 2 * in.w) fail(*this, i, "upsample shape");
        break;
      }
    }
    defined[op.out] = true;
  }
  for (int t : out_features) if (!defined[t]) throw std::invalid_argument("native program: an output has no value");
  if (!defined[out_logits]) throw std::invalid_argument("native program: the logits have no value");
}

void Program::classify_before_upsampling() {
  int c = -1, u = -1;
  for (size_t i = 0; i < ops.size(); i++) if (ops[i].out == out_logits) c = int(i);
  if (c < 0) return;
  Op& classifier = ops[size_t(c)];
  const ConvSpec& s = classifier.conv;
  if (classifier.kind != OpKind::conv || s.kernel != 1 || s.stride != 1 || s.residual >= 0 || s.relu) return;
  const int upsampled = classifier.in;
  for (size_t i = 0; i < ops.size(); i++) if (ops[i].out == upsampled) u = int(i);
  if (u < 0 || ops[size_t(u)].kind != OpKind::upsample) return;
  // the upsampled map is read by the classifier alone
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    if (int(i) == c) continue;
    if (op.in == upsampled || op.conv.residual == upsampled) return;
    for (const Term& t : op.terms) if (t.tensor == upsampled) return;
  }
  for (int t : out_features) if (t == upsampled) return;
  Op& up = ops[size_t(u)];
  const int low = up.in;
  // the classifier's output at the low resolution takes the upsampled map's place
  tensors[size_t(upsampled)] = Shape{s.cout, tensors[size_t(low)].h, tensors[size_t(low)].w};
  Op first = classifier;
  first.in = low;
  first.out = upsampled;
  first.conv.fill_radius = -1;
  first.conv.fill.clear();
  first.mask = -1;
  Op second = up;
  second.in = upsampled;
  second.out = out_logits;
  up = std::move(first);
  classifier = std::move(second);
  validate();
}

}  // namespace adpc

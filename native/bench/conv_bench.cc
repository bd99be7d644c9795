// GMAC/s of conv_rows on the default bundle's conv shapes (bench/shapes.txt), per ISA, at 1
// and 2 threads, with every output pixel listed and with a random 34% of them. A conv whose
// output shape equals its input shape runs as a chain (each run reads the previous run's
// output), as in ort_conv.py's graphs.
//
//   conv_bench [--shapes FILE] [--min-ms N] [--isa NAME] [--threads N] [--rounds N]   the table
//   conv_bench --serve [--shapes FILE]                     answers stdin lines
//       "time SHAPE ISA THREADS dense|subset MIN_MS" with "MS_PER_RUN RUNS" (ort_conv.mjs)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <tuple>
#include <string>
#include <vector>

#include "../kernels/conv.h"
#include "../kernels/isa.h"
#include "../kernels/thread_pool.h"

using namespace adpc;

namespace {

constexpr double kSubsetShare = 0.34;

struct Shape {
  std::string name;
  int cin, cout, k, stride, oh, ow;
  double macs(size_t npix) const { return static_cast<double>(npix) * cout * cin * k * k; }
};

std::vector<Shape> read_shapes(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "conv_bench: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::vector<Shape> shapes;
  for (std::string line; std::getline(f, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    Shape s;
    if (in >> s.name >> s.cin >> s.cout >> s.k >> s.stride >> s.oh >> s.ow) shapes.push_back(s);
  }
  return shapes;
}

// The indirection of one conv over a list of output pixels.
struct Pass {
  std::vector<const float*> in;
  std::vector<float*> out;
};

// One conv's maps (NHWC), weights and passes over all pixels and over a random subset. A
// conv that maps its input shape onto itself runs as a chain, like onnxruntime's graph of
// five: each run reads the map the previous run wrote.
struct Problem {
  Shape s;
  std::vector<float> input, weight, bias, output;
  std::vector<Pass> all, subset;  // one per map direction: 1, or 2 for a chain
  std::map<Isa, PackedConv> packed;

  explicit Problem(const Shape& shape) : s(shape) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1, 1);
    input.resize(static_cast<size_t>(s.oh) * s.stride * s.ow * s.stride * s.cin);
    weight.resize(static_cast<size_t>(s.cout) * s.cin * s.k * s.k);
    bias.resize(s.cout);
    for (float& x : input) x = u(rng);
    for (float& x : weight) x = u(rng) * 0.1f;
    for (float& x : bias) x = u(rng);
    output.resize(static_cast<size_t>(s.oh) * s.ow * s.cout);
    std::bernoulli_distribution listed(kSubsetShare);
    std::vector<bool> chosen(static_cast<size_t>(s.oh) * s.ow);
    for (size_t i = 0; i < chosen.size(); ++i) chosen[i] = listed(rng);
    add_passes(input.data(), output.data(), chosen);
    if (s.cin == s.cout && s.stride == 1) add_passes(output.data(), input.data(), chosen);
  }

  void add_passes(const float* src, float* dst, const std::vector<bool>& chosen) {
    const int ih = s.oh * s.stride, iw = s.ow * s.stride, pad = s.k / 2;
    Pass a, b;
    for (int oy = 0; oy < s.oh; ++oy) {
      for (int ox = 0; ox < s.ow; ++ox) {
        const size_t px = static_cast<size_t>(oy) * s.ow + ox;
        for (Pass* pass : {&a, &b}) {
          if (pass == &b && !chosen[px]) continue;
          pass->out.push_back(dst + px * s.cout);
          for (int ky = 0; ky < s.k; ++ky) {
            for (int kx = 0; kx < s.k; ++kx) {
              const int y = oy * s.stride + ky - pad, x = ox * s.stride + kx - pad;
              pass->in.push_back(y < 0 || y >= ih || x < 0 || x >= iw
                                     ? zero_row(s.cin)
                                     : src + (static_cast<size_t>(y) * iw + x) * s.cin);
            }
          }
        }
      }
    }
    all.push_back(std::move(a));
    subset.push_back(std::move(b));
  }

  const PackedConv& conv(Isa isa) {
    auto it = packed.find(isa);
    if (it == packed.end()) {
      it = packed.emplace(isa, pack_conv(weight.data(), bias.data(), s.cout, s.cin, s.k * s.k, isa)).first;
    }
    return it->second;
  }
};

// One conv over the listed pixels, split into quantum-aligned pieces, a few per thread.
void run_once(const PackedConv& pc, const Pass& pass, int taps, ThreadPool& pool) {
  const size_t npix = pass.out.size();
  if (pool.size() == 1) {
    conv_rows(pc, ConvJob{pass.in.data(), pass.out.data(), nullptr, true, true, npix});
    return;
  }
  const size_t q = conv_pixel_quantum(pc);
  const size_t want = (npix + 4 * pool.size() - 1) / (4 * pool.size());
  const size_t piece = std::max(q, (want + q - 1) / q * q);
  pool.parallel_for((npix + piece - 1) / piece, [&](size_t t, int) {
    const size_t p0 = t * piece, n = std::min(piece, npix - p0);
    conv_rows(pc, ConvJob{pass.in.data() + p0 * taps, pass.out.data() + p0, nullptr, true, true, n});
  });
}

struct Timing {
  double ms;
  int runs;
};

// Mean time per run over a batch of at least min_ms, after one warm-up run.
Timing time_runs(Problem& p, Isa isa, ThreadPool& pool, bool subset, double min_ms) {
  const PackedConv& pc = p.conv(isa);
  const std::vector<Pass>& passes = subset ? p.subset : p.all;
  const int taps = p.s.k * p.s.k;
  run_once(pc, passes.back(), taps, pool);
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  int runs = 0;
  double elapsed = 0;
  do {
    run_once(pc, passes[runs % passes.size()], taps, pool);
    ++runs;
    elapsed = std::chrono::duration<double, std::milli>(clock::now() - start).count();
  } while (elapsed < min_ms || runs < 3);
  return {elapsed / runs, runs};
}

bool parse_isa(const std::string& name, Isa* isa) {
  for (Isa i : supported_isas()) {
    if (name == isa_name(i)) {
      *isa = i;
      return true;
    }
  }
  return false;
}

int serve(std::vector<std::unique_ptr<Problem>>& problems) {
  std::map<int, std::unique_ptr<ThreadPool>> pools;
  std::cout << "ready " << isa_name(detect_isa()) << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    std::string cmd, name, isa_s, mode;
    int threads = 1;
    double min_ms = 0;
    in >> cmd;
    if (cmd == "quit") break;
    if (cmd != "time" || !(in >> name >> isa_s >> threads >> mode >> min_ms) || threads < 1) {
      std::cout << "error bad request: " << line << std::endl;
      continue;
    }
    Isa isa;
    auto it = std::find_if(problems.begin(), problems.end(), [&](const auto& p) { return p->s.name == name; });
    if (it == problems.end() || !parse_isa(isa_s, &isa) || (mode != "dense" && mode != "subset")) {
      std::cout << "error unknown shape, ISA or mode: " << line << std::endl;
      continue;
    }
    auto& pool = pools[threads];
    if (!pool) pool = std::make_unique<ThreadPool>(threads);
    const Timing t = time_runs(**it, isa, *pool, mode == "subset", min_ms);
    std::printf("%.6f %d\n", t.ms, t.runs);
    std::fflush(stdout);
  }
  return 0;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

// Every (shape, ISA, threads) measured once per round, rounds one after another, so that
// the machine's slow spells spread over all of them; medians over rounds.
int table(std::vector<std::unique_ptr<Problem>>& problems, double min_ms, int rounds,
          const std::vector<Isa>& isas, const std::vector<int>& thread_counts) {
  std::vector<std::unique_ptr<ThreadPool>> pools;
  for (int t : thread_counts) pools.push_back(std::make_unique<ThreadPool>(t));
  std::map<std::tuple<size_t, Isa, size_t>, std::vector<double>> dense, sub;
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < problems.size(); ++k) {
      for (Isa isa : isas) {
        for (size_t t = 0; t < pools.size(); ++t) {
          dense[{k, isa, t}].push_back(time_runs(*problems[k], isa, *pools[t], false, min_ms).ms);
          sub[{k, isa, t}].push_back(time_runs(*problems[k], isa, *pools[t], true, min_ms).ms);
        }
      }
    }
    std::fprintf(stderr, "\rconv_bench: round %d/%d", r + 1, rounds);
  }
  std::fprintf(stderr, "\n");
  std::printf("conv_rows GMAC/s, medians of %d rounds (dense = every output pixel; %.0f%% = a random subset,\n"
              "its time as a share of dense)\n", rounds, kSubsetShare * 100);
  std::printf("%-22s %-7s", "shape", "isa");
  for (int t : thread_counts) std::printf(" %9dt ms %9dt GMAC/s %7dt 34%%", t, t, t);
  std::printf("\n");
  for (size_t k = 0; k < problems.size(); ++k) {
    for (Isa isa : isas) {
      std::printf("%-22s %-7s", problems[k]->s.name.c_str(), isa_name(isa));
      for (size_t t = 0; t < pools.size(); ++t) {
        const double ms = median(dense[{k, isa, t}]);
        std::printf(" %12.4f %18.1f %11.3f", ms, problems[k]->s.macs(problems[k]->all[0].out.size()) / ms * 1e-6,
                    median(sub[{k, isa, t}]) / ms);
      }
      std::printf("\n");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shapes_path = "bench/shapes.txt";
  double min_ms = 20;
  int rounds = 5;
  bool serving = false;
  std::vector<Isa> isas = supported_isas();
  std::vector<int> thread_counts = {1, 2};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--serve") {
      serving = true;
    } else if (a == "--shapes" && i + 1 < argc) {
      shapes_path = argv[++i];
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--min-ms" && i + 1 < argc) {
      min_ms = std::atof(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      thread_counts = {std::max(1, std::atoi(argv[++i]))};
    } else if (a == "--isa" && i + 1 < argc) {
      Isa isa;
      if (!parse_isa(argv[++i], &isa)) {
        std::fprintf(stderr, "conv_bench: ISA %s is not supported here\n", argv[i]);
        return 2;
      }
      isas = {isa};
    } else if (a == "--help") {
      std::printf("usage: conv_bench [--shapes FILE] [--min-ms N] [--isa NAME] [--threads N] [--rounds N] | --serve [--shapes FILE]\n");
      return 0;
    } else {
      std::fprintf(stderr, "usage: conv_bench [--shapes FILE] [--min-ms N] [--isa NAME] [--threads N] [--rounds N] | --serve [--shapes FILE]\n");
      return 2;
    }
  }
  std::vector<std::unique_ptr<Problem>> problems;
  for (const Shape& s : read_shapes(shapes_path)) problems.push_back(std::make_unique<Problem>(s));
  return serving ? serve(problems) : table(problems, min_ms, rounds, isas, thread_counts);
}

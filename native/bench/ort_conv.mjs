// conv_rows against onnxruntime-node's dense Conv on bench/shapes.txt, interleaved.
//
//   node native/bench/ort_conv.mjs [--threads 1,2] [--rounds 15] [--min-ms 30] [--isa NAME] [--only REGEX]
//
// Needs the graphs of ort_conv.py (bench/out/*.onnx) and out/conv_bench (make bench-ort
// does both). Per round, for each thread count and shape, the two programs take turns (the
// order flips each round): onnxruntime runs a five-conv graph, sessions set up as
// src/runtime/onnx.ts does, profiled so that each Conv's own kernel time is known; conv_bench
// (a child process) times conv_rows on the same shape, dense and at a random 34% of pixels.
// Prints medians over rounds and the per-round ratio's median and quartiles.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

const here = dirname(fileURLToPath(import.meta.url));
const native = dirname(here);
const outDir = join(here, 'out');
const CONVS = 5;

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const threadCounts = option('threads', '1,2').split(',').map(Number);
const rounds = Number(option('rounds', '15'));
const minMs = Number(option('min-ms', '30'));

const shapes = readFileSync(join(here, 'shapes.txt'), 'utf8').split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => {
    const [name, ...n] = l.trim().split(/\s+/);
    const [cin, cout, k, stride, oh, ow] = n.map(Number);
    return { name, cin, cout, k, stride, oh, ow, macs: oh * ow * cout * cin * k * k };
  })
  .filter((s) => new RegExp(option('only', '.')).test(s.name));

// conv_bench --serve: one request line, one answer line.
const child = spawn(join(native, 'out', 'conv_bench'), ['--serve', '--shapes', join(here, 'shapes.txt')],
  { stdio: ['pipe', 'pipe', 'inherit'] });
child.on('error', (e) => {
  console.error(`ort_conv: cannot start conv_bench (${e.message}); build it with make -C native out/conv_bench`);
  process.exit(2);
});
const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
async function answer() {
  const { value, done } = await lines.next();
  if (done) throw new Error('conv_bench exited');
  if (value.startsWith('error')) throw new Error(`conv_bench: ${value}`);
  return value;
}
const ready = await answer();
const isa = option('isa', ready.split(' ')[1]);
async function nativeMs(shape, threads, mode) {
  child.stdin.write(`time ${shape.name} ${isa} ${threads} ${mode} ${minMs}\n`);
  return Number((await answer()).split(' ')[0]);
}

function sessionOptions(threads, prefix) {
  return {
    executionProviders: ['cpu'],
    executionMode: 'sequential',
    interOpNumThreads: 1,
    intraOpNumThreads: threads,
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    enableProfiling: true,
    profileFilePrefix: prefix,
  };
}

const sessions = new Map(); // `${threads}/${name}` -> { session, feeds, prefix, batches: [] }
for (const threads of threadCounts) {
  for (const s of shapes) {
    const prefix = join(outDir, `prof-${threads}t-${s.name}`);
    const session = await ort.InferenceSession.create(join(outDir, `${s.name}.onnx`), sessionOptions(threads, prefix));
    const data = Float32Array.from({ length: s.cin * s.oh * s.stride * s.ow * s.stride }, () => Math.random() * 2 - 1);
    const feeds = { x: new ort.Tensor('float32', data, [1, s.cin, s.oh * s.stride, s.ow * s.stride]) };
    sessions.set(`${threads}/${s.name}`, { session, feeds, prefix, batches: [] });
  }
}

// One warm-up run, then runs until minMs; the batch sizes let the profile be cut per round.
async function ortWallMs(entry) {
  await entry.session.run(entry.feeds);
  let runs = 0;
  const start = performance.now();
  do {
    await entry.session.run(entry.feeds);
    runs += 1;
  } while (performance.now() - start < minMs || runs < 3);
  entry.batches.push(1, runs);
  return (performance.now() - start) / runs / CONVS;
}

const results = new Map(); // `${threads}/${name}` -> { wall: [], dense: [], subset: [] }
for (let r = 0; r < rounds; r += 1) {
  for (const threads of threadCounts) {
    for (const s of shapes) {
      const key = `${threads}/${s.name}`;
      const res = results.get(key) ?? { wall: [], dense: [], subset: [] };
      results.set(key, res);
      const ortTurn = async () => res.wall.push(await ortWallMs(sessions.get(key)));
      const nativeTurn = async () => {
        res.dense.push(await nativeMs(s, threads, 'dense'));
        res.subset.push(await nativeMs(s, threads, 'subset'));
      };
      if (r % 2 === 0) {
        await ortTurn();
        await nativeTurn();
      } else {
        await nativeTurn();
        await ortTurn();
      }
    }
  }
  process.stderr.write(`\rort_conv: round ${r + 1}/${rounds}`);
}
process.stderr.write('\n');
child.stdin.end('quit\n');

// Per round, the mean over its timed runs of the Conv kernels' time per conv (profiler, us).
function kernelMsPerRound(entry) {
  entry.session.endProfiling();
  const base = entry.prefix.split('/').pop();
  const file = readdirSync(outDir).find((f) => f.startsWith(`${base}_`) && f.endsWith('.json'));
  const events = JSON.parse(readFileSync(join(outDir, file), 'utf8'));
  rmSync(join(outDir, file));
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const convUs = new Array(runs.length).fill(0);
  const ops = new Set();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    ops.add(e.args.op_name);
    if (!/Conv/.test(e.args.op_name)) continue;
    let i = runs.length - 1;
    while (i > 0 && runs[i].ts > e.ts) i -= 1;
    convUs[i] += e.dur;
  }
  const perRound = [];
  let run = 0;
  for (let b = 0; b < entry.batches.length; b += 2) {
    run += entry.batches[b]; // warm-up
    const n = entry.batches[b + 1];
    perRound.push(convUs.slice(run, run + n).reduce((x, y) => x + y, 0) / n / CONVS / 1000);
    run += n;
  }
  return { perRound, ops: [...ops].sort().join(',') };
}

const median = (xs) => quantile(xs, 0.5);
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
const gmacs = (macs, ms) => macs / ms / 1e6;
const f = (x, d = 3) => x.toFixed(d);

console.log(`conv_rows (${isa}) vs onnxruntime-node ${ort.env.versions?.common ?? ''} Conv, ${rounds} interleaved rounds, >= ${minMs} ms per turn`);
console.log('ORT k = profiled Conv kernel time per conv; ORT run = session.run wall time / 5 (reorders and run overhead included)');
console.log('speed = ORT k time / ours per round (> 1: ours is faster): median [quartiles]; 34% = our time at a random 34% of pixels / ORT k dense');
for (const threads of threadCounts) {
  console.log(`\n${threads} thread${threads > 1 ? 's' : ''}`);
  console.log(['shape'.padEnd(22), 'MMAC'.padStart(6), 'ORT k ms'.padStart(9), 'ORT run'.padStart(8), 'ours ms'.padStart(8),
    'ORT GMAC/s'.padStart(10), 'ours GMAC/s'.padStart(11), 'speed [q1 q3]'.padStart(20), 'vs run'.padStart(7), '34%'.padStart(6), 'ORT ops'].join(' '));
  for (const s of shapes) {
    const key = `${threads}/${s.name}`;
    const res = results.get(key);
    const { perRound: kernel, ops } = kernelMsPerRound(sessions.get(key));
    const speed = kernel.map((k, i) => k / res.dense[i]);
    const vsRun = res.wall.map((w, i) => w / res.dense[i]);
    const sub = res.subset.map((x, i) => x / kernel[i]);
    console.log([s.name.padEnd(22), f(s.macs / 1e6, 1).padStart(6), f(median(kernel), 4).padStart(9), f(median(res.wall), 4).padStart(8),
      f(median(res.dense), 4).padStart(8), f(gmacs(s.macs, median(kernel)), 1).padStart(10), f(gmacs(s.macs, median(res.dense)), 1).padStart(11),
      `${f(median(speed), 2)} [${f(quantile(speed, 0.25), 2)} ${f(quantile(speed, 0.75), 2)}]`.padStart(20),
      f(median(vsRun), 2).padStart(7), f(median(sub), 2).padStart(6), ops].join(' '));
  }
}
for (const { session } of sessions.values()) await session.release();

// node --import tsx scripts/gpu/report.ts MEASURE.json... : the tables docs/GPU.md takes, in
// Markdown, from scripts/gpu/measure.ts's JSON (one file per bundle).

import { readFileSync } from 'node:fs';

interface ModeSummary {
  exit_p50_ms: number[];
  exit_p95_ms: number[];
  full_p50_ms: number;
  gflops: number;
  computed_share: number[];
  labels_identical_share: number[];
  labels_worst_image_share: number[];
}

interface Measure {
  bundle: string;
  arch: string;
  input: [number, number];
  threshold: number;
  machine: string;
  threads: number;
  images: number;
  repeats: number;
  configs: { name: string; error?: string; ca_on?: ModeSummary; ca_off?: ModeSummary; plain?: { p50_ms: number; p95_ms: number } }[];
}

/** Share of label pixels a provider must share with the CPU provider, over the split. */
const LABELS_TARGET = 0.999;

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const ms = (v: number[]) => v.map((x) => x.toFixed(1)).join(' / ');

for (const file of process.argv.slice(2)) {
  const m = JSON.parse(readFileSync(file, 'utf8')) as Measure;
  console.log(`### ${m.bundle} (${m.arch}, ${m.input[0]}x${m.input[1]}, CA threshold ${m.threshold})\n`);
  console.log(`${m.images} synthetic test images x ${m.repeats} runs, interleaved; ${m.machine}, ${m.threads} threads.\n`);
  console.log('| configuration | CA | time to exit 1 / 2 / 3 / 4, p50 ms | p95 ms | full run p50 ms | plain model p50 ms | computed share s2 / s3 / s4 | labels identical to CPU, exits 1-4 (worst image) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const c of m.configs) {
    if (c.error) {
      console.log(`| ${c.name} | - | did not start: ${c.error.split('\n')[0]!.slice(0, 160)} | | | | | |`);
      continue;
    }
    for (const [mode, s] of [['on', c.ca_on!], ['off', c.ca_off!]] as const) {
      console.log(`| ${c.name} | ${mode} | ${ms(s.exit_p50_ms)} | ${ms(s.exit_p95_ms)} | ${s.full_p50_ms.toFixed(1)} | ${mode === 'on' && c.plain ? c.plain.p50_ms.toFixed(1) : ''} | ` +
        `${s.computed_share.map((x) => x.toFixed(2)).join(' / ')} | ${s.labels_identical_share.map(pct).join(' / ')} (${pct(Math.min(...s.labels_worst_image_share))}) |`);
    }
  }
  console.log('');
  for (const c of m.configs.filter((x) => !x.error && x.name !== 'cpu')) {
    const worst = Math.min(...[c.ca_on!, c.ca_off!].flatMap((s) => s.labels_identical_share));
    console.log(`- ${c.name}: labels identical to CPU on ${pct(worst)} of pixels at its worst exit: ${worst >= LABELS_TARGET ? 'meets' : 'MISSES'} the ${pct(LABELS_TARGET)} target`);
  }
  console.log('');
}

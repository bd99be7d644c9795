// Every series the alert rules and the Grafana dashboard read must exist in /metrics of the
// real server process (npm start's entry point, which also publishes the model) after it
// has served frames: the names are taken from the files themselves, so a
// metric renamed in the server (or misspelt in a rule) fails here, as do label matchers on
// labels the metric lacks and histogram bounds (`le`) that are not among its buckets.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../../server/node-flags.js';
import { repoRoot } from '../helpers/python.js';
import { encodedScene } from '../helpers/server.js';
import { DEPLOY_DIR, manifest } from './manifests.js';
import { selectors, type Selector } from './promql.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

/** Series the rules read from other exporters, with the exporter that provides them. */
const EXTERNAL: Readonly<Record<string, string>> = {
  up: 'Prometheus itself (scrape health)',
  kube_pod_status_ready: 'kube-state-metrics',
  kube_pod_container_resource_limits: 'kube-state-metrics',
};

/** Labels Prometheus and the Prometheus Operator attach to every scraped series. */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'service', 'container', 'endpoint']);

interface Exposition {
  /** Sample names (`x_bucket`, `x_count`, ... for histograms) with the label names seen on them. */
  labels: Map<string, Set<string>>;
  /** Histogram bucket bounds per `_bucket` series name. */
  bounds: Map<string, Set<number>>;
}

function parseExposition(text: string): Exposition {
  const labels = new Map<string, Set<string>>();
  const bounds = new Map<string, Set<number>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s/.exec(line);
    if (!m) continue;
    const [, name, , body = ''] = m;
    const set = labels.get(name!) ?? new Set<string>();
    labels.set(name!, set);
    for (const [, key, value] of body.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      set.add(key!);
      if (key === 'le') bounds.set(name!, (bounds.get(name!) ?? new Set<number>()).add(Number(value === '+Inf' ? Infinity : value)));
    }
  }
  return { labels, bounds };
}

function ruleSelectors(): { where: string; selector: Selector }[] {
  const groups = manifest('PrometheusRule').doc.spec.groups as { rules: { alert: string; expr: string }[] }[];
  return groups.flatMap((g) => g.rules).flatMap((r) => selectors(r.expr).map((selector) => ({ where: `alert ${r.alert}`, selector })));
}

/** Every `expr` of every panel, and the selectors inside the templating's label_values(). */
function dashboardSelectors(): { where: string; selector: Selector }[] {
  const dashboard = JSON.parse(readFileSync(join(DEPLOY_DIR, 'grafana', 'adpc-edge.json'), 'utf8')) as { panels: unknown[]; templating: { list: { name: string; query?: string | { query: string } }[] } };
  const found: { where: string; selector: Selector }[] = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) node.forEach((n) => walk(n, where));
    else if (node && typeof node === 'object') {
      const obj = node as Record<string, unknown>;
      const here = typeof obj.title === 'string' ? `panel "${obj.title}"` : where;
      if (typeof obj.expr === 'string') found.push(...selectors(obj.expr).map((selector) => ({ where: here, selector })));
      for (const [k, v] of Object.entries(obj)) if (k !== 'expr') walk(v, here);
    }
  };
  walk(dashboard.panels, 'dashboard');
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const inner = query && /^label_values\((.*),\s*\w+\s*\)$/.exec(query)?.[1];
    if (inner) found.push(...selectors(inner).map((selector) => ({ where: `variable $${variable.name}`, selector })));
  }
  return found;
}

let server: ServerProcess;
let exposition: Exposition;

beforeAll(async () => {
  server = await startServerProcess(['node', ...SERVER_NODE_FLAGS, '--import', 'tsx', 'server/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ADPC_THREADS: '1' },
  });
  // frames through the frame path both faces share, so that every labelled series has samples
  const png = await encodedScene(2_000_031, 512, 256, 'png');
  for (const query of ['', '?max_exit=2']) {
    const res = await fetch(`${server.url}/v1/segment${query}`, { method: 'POST', body: png });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
  // and one refused, so that the error counter has a sample too
  const corrupt = await fetch(`${server.url}/v1/segment`, { method: 'POST', body: new Uint8Array([1, 2, 3, 4, 5, 6, 7]) });
  expect(corrupt.status).toBe(415);
  await corrupt.arrayBuffer();
  exposition = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
}, 60_000);

afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

describe.each([
  ['the alert rules', ruleSelectors],
  ['the Grafana dashboard', dashboardSelectors],
] as const)('%s', (_what, read) => {
  const used = read();

  it('read series', () => {
    expect(used.length).toBeGreaterThan(5);
  });

  it('read only series the server exports (or a named other exporter does)', () => {
    for (const { where, selector } of used) {
      if (selector.metric in EXTERNAL) continue;
      expect(exposition.labels.has(selector.metric), `${where}: ${selector.metric} is not in /metrics`).toBe(true);
    }
  });

  it('match only labels those series carry, and bucket bounds they have', () => {
    for (const { where, selector } of used) {
      const labels = exposition.labels.get(selector.metric);
      if (!labels) continue;
      for (const m of selector.matchers) {
        if (TARGET_LABELS.has(m.label)) continue;
        expect(labels.has(m.label), `${where}: ${selector.metric} has no label ${m.label}`).toBe(true);
        if (m.label === 'le') expect(exposition.bounds.get(selector.metric)?.has(Number(m.value)), `${where}: ${selector.metric} has no bucket le=${m.value}`).toBe(true);
      }
    }
  });
});

it('the other exporters\' series are not ours', () => {
  for (const name of Object.keys(EXTERNAL)) expect(exposition.labels.has(name) || name.startsWith('adpc_')).toBe(false);
});

it('the dashboard shows what the fleet needs: exits by quantile, stage forms, GFLOPs, outcomes, streams', () => {
  const used = dashboardSelectors().map((s) => s.selector.metric);
  for (const prefix of ['adpc_time_to_exit_seconds', 'adpc_stage_compute_seconds', 'adpc_gflops_executed_total', 'adpc_gflops_skipped_total', 'adpc_frames_total', 'adpc_active_streams']) {
    expect(used.some((m) => m.startsWith(prefix)), prefix).toBe(true);
  }
});

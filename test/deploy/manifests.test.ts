// The Kubernetes manifests: they parse, the kustomizations list exactly their folders' files,
// the objects point at each other (selectors, ports, the scrape job), the probes and the
// termination grace match the server's routes and drain bound, the settings are ones the
// server accepts, and the Jetson overlay's patches apply to the base Deployment.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENV_NAMES, loadConfig } from '../../server/config.js';
import { repoRoot } from '../helpers/python.js';
import { readDockerfile } from './dockerfile.js';
import { DEPLOY_DIR, drainBoundMs, loadManifests, manifest, serverContainer, type EnvVar } from './manifests.js';
import { selectors } from './promql.js';

const all = loadManifests();
const deployment = manifest('Deployment').doc;
const pod = deployment.spec.template.spec;
const container = serverContainer(deployment);
const service = manifest('Service').doc;
const env = container.env as EnvVar[];

function isSubset(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe('deploy/ manifests', () => {
  it('parse, and every object has a kind and a name', () => {
    expect(all.length).toBeGreaterThanOrEqual(8);
    for (const { file, doc } of all) {
      expect(doc?.kind, file).toBeTruthy();
      if (doc.kind !== 'Kustomization') expect(doc.metadata?.name, file).toBeTruthy();
    }
  });

  it('each kustomization lists exactly the manifests beside it', () => {
    for (const { file, doc } of all.filter((m) => m.doc.kind === 'Kustomization')) {
      const dir = join(DEPLOY_DIR, file, '..');
      const beside = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
      const listed = (doc.resources as string[]).filter((r) => !r.startsWith('..'));
      expect(listed.sort(), file).toEqual(beside.sort());
    }
  });

  it('the Service, PodDisruptionBudget and ServiceMonitor select the Deployment\'s pods', () => {
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    expect(isSubset(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(isSubset(service.spec.selector, podLabels)).toBe(true);
    expect(isSubset(manifest('PodDisruptionBudget').doc.spec.selector.matchLabels, podLabels)).toBe(true);
    const monitor = manifest('ServiceMonitor').doc;
    expect(isSubset(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    const servicePorts = (service.spec.ports as { name: string; targetPort: string }[]);
    for (const endpoint of monitor.spec.endpoints as { port: string; path: string }[]) {
      expect(servicePorts.map((p) => p.name)).toContain(endpoint.port);
      expect(endpoint.path).toBe('/metrics');
    }
    const containerPorts = container.ports as { name: string; containerPort: number }[];
    for (const p of servicePorts) expect(containerPorts.map((c) => c.name)).toContain(p.targetPort);
  });

  it('listens where the probes look: /healthz for liveness, /readyz for readiness, on PORT', () => {
    const http = (container.ports as { name: string; containerPort: number }[]).find((p) => p.name === 'http')!;
    expect(String(http.containerPort)).toBe(env.find((e) => e.name === 'PORT')?.value);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  it('gives the drain its time: preStop sleep + drain bound + 5 s margin fit the termination grace', () => {
    const [sleep, seconds] = container.lifecycle.preStop.exec.command as string[];
    expect(sleep).toBe('sleep');
    const preStopS = Number(seconds);
    expect(preStopS).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopS + drainBoundMs() / 1000 + 5);
  });

  it('asks for CPU, memory and the GPU, and runs operators on as many threads as CPUs requested', () => {
    expect(container.resources.requests.cpu).toBeTruthy();
    expect(container.resources.requests.memory).toBeTruthy();
    expect(container.resources.limits.memory).toBeTruthy();
    expect(container.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(env.find((e) => e.name === 'ADPC_THREADS')?.value).toBe(container.resources.requests.cpu);
  });

  it('runs as the image\'s user, read-only, with a writable /tmp for the provider probe', () => {
    const uid = Number(readDockerfile(repoRoot, 'Dockerfile').find((i) => i.keyword === 'USER' && i.stage === 'runtime')!.args.split(':')[0]);
    expect(pod.securityContext.runAsUser).toBe(uid);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    const tmp = (container.volumeMounts as { name: string; mountPath: string }[]).find((m) => m.mountPath === '/tmp');
    expect((pod.volumes as { name: string; emptyDir?: unknown }[]).find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  });

  it('sets only settings the server has, with values it accepts', () => {
    const names = Object.values(ENV_NAMES) as string[];
    for (const e of env) expect(names, e.name).toContain(e.name);
    const plain = Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    const config = loadConfig(plain);
    expect(config.drainMs).toBe(drainBoundMs());
  });

  it('scrapes and alerts on the same job: the Service\'s name', () => {
    const rules = manifest('PrometheusRule').doc.spec.groups.flatMap((g: { rules: { expr: string }[] }) => g.rules);
    const jobs = rules.flatMap((r: { expr: string }) => selectors(r.expr)).flatMap((s: { matchers: { label: string; value: string }[] }) => s.matchers.filter((m) => m.label === 'job').map((m) => m.value));
    expect(jobs.length).toBeGreaterThan(0);
    expect(new Set(jobs)).toEqual(new Set([service.metadata.name]));
  });
});

type Json = Record<string, unknown> | unknown[];

/** RFC 6902 add / replace / remove / test on a copy, as kustomize applies a patch. */
function applyPatch(doc: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  const root = structuredClone(doc) as Json;
  for (const { op, path, value } of ops) {
    const keys = path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let parent: Json = root;
    for (const k of keys) {
      const next: unknown = (parent as Record<string, unknown>)[k];
      if (typeof next !== 'object' || next === null) throw new Error(`${op} ${path}: ${k} does not exist`);
      parent = next as Json;
    }
    const target = parent as Record<string, unknown>;
    if (op === 'test') {
      if (JSON.stringify(target[last]) !== JSON.stringify(value)) throw new Error(`test ${path}: ${JSON.stringify(target[last])}, not ${JSON.stringify(value)}`);
    } else if (op === 'add') {
      if (Array.isArray(parent) && last === '-') parent.push(value);
      else target[last] = value;
    } else {
      if (!(last in target)) throw new Error(`${op} ${path}: nothing there`);
      if (op === 'replace') target[last] = value;
      else if (op === 'remove') delete target[last];
      else throw new Error(`unsupported op ${op}`);
    }
  }
  return root;
}

describe('the Jetson overlay', () => {
  const overlay = manifest('Kustomization', 'kubernetes/jetson/kustomization.yaml').doc;

  it('patches the base Deployment onto arm64 boards, one pod each, on the CPU path', () => {
    expect(overlay.resources).toEqual(['..']);
    expect(overlay.images.map((i: { name: string }) => i.name)).toEqual([container.image.split(':')[0]]);
    const [patch] = overlay.patches as { target: { kind: string; name: string }; patch: string }[];
    expect(patch!.target).toEqual({ kind: 'Deployment', name: deployment.metadata.name });
    const patched = applyPatch(deployment, parse(patch!.patch)) as typeof deployment;
    const spec = patched.spec.template.spec;
    const c = serverContainer(patched);
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/arch': 'arm64' });
    expect(spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe('kubernetes.io/hostname');
    expect(c.env.find((e: EnvVar) => e.name === 'ADPC_PROVIDER').value).toBe('cpu');
    expect(c.env.find((e: EnvVar) => e.name === 'ADPC_THREADS').value).toBe(c.resources.requests.cpu);
    expect(c.resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(patched.spec.strategy.rollingUpdate.maxSurge).toBe(0);
  });

  it('would fail to apply on a reordered env list', () => {
    const [patch] = overlay.patches as { patch: string }[];
    const reordered = structuredClone(deployment);
    serverContainer(reordered).env.reverse();
    expect(() => applyPatch(reordered, parse(patch!.patch))).toThrow();
  });
});

it('the dashboard is valid JSON with panels that all have queries', () => {
  const dashboard = JSON.parse(readFileSync(join(DEPLOY_DIR, 'grafana', 'adpc-edge.json'), 'utf8')) as { uid: string; panels: { type: string; title: string; targets?: { expr: string }[] }[] };
  expect(dashboard.uid).toBe('adpc-edge');
  for (const p of dashboard.panels.filter((x) => x.type !== 'row')) expect(p.targets?.length, p.title).toBeGreaterThan(0);
});

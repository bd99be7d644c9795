// The demo page at /: how it is served, and the page itself in a real browser (Debian's
// chromium through playwright-core) against the real server and the shipped bundle, with
// Chromium's fake camera playing a clip of the synthetic streets.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUNDLE } from '../../src/bundle/default-bundle.js';
import { AnytimeEngine } from '../../src/engine/anytime-engine.js';
import { repoRoot } from '../helpers/python.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { writeSynthY4m } from './y4m.js';

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
/** Set by .ci/run: there, a missing browser is a failure, not a skip. */
const REQUIRE_CHROMIUM = process.env.ADPC_REQUIRE_CHROMIUM === '1';
if (!HAS_CHROMIUM && !REQUIRE_CHROMIUM) console.warn(`test/demo: ${CHROMIUM} is absent, so the demo page's browser test is skipped (apt-get install -y chromium)`);
const SCREENSHOT = join(repoRoot, 'reports', 'demo.png');

describe('GET / (the demo page)', () => {
  let server: TestServer;
  beforeAll(async () => {
    // no model yet: the page is served while the bundle loads, and needs no token
    server = await startTestServer(null, { ADPC_TOKEN: 'demo-token-0123456789' });
  });
  afterAll(() => server.close());

  it('serves index.html revalidated on every load, with a policy that keeps the page on its origin', async () => {
    const res = await fetch(`${server.http}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.filter((r) => r !== 'data:,')).toEqual([expect.stringMatching(/^\/demo\/style-[0-9a-f]{16}\.css$/), expect.stringMatching(/^\/demo\/app-[0-9a-f]{16}\.js$/)]);

    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
    const again = await fetch(`${server.http}/`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const head = await fetch(`${server.http}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('serves the hashed assets for a year, and nothing under /demo/ it did not build', async () => {
    const html = await (await fetch(`${server.http}/`)).text();
    const script = html.match(/src="(\/demo\/app-[0-9a-f]+\.js)"/)![1]!;
    const res = await fetch(`${server.http}${script}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const body = await res.text();
    // the worker it starts is one of the hashed assets, and nothing names another origin
    const worker = body.match(/\/demo\/synth-worker-[0-9a-f]{16}\.js/)![0];
    expect((await fetch(`${server.http}${worker}`)).status).toBe(200);
    expect(body).not.toMatch(/https?:\/\/(?!localhost)[a-z]/i);

    const missing = await fetch(`${server.http}/demo/app-0000000000000000.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('answers other methods on / with METHOD_NOT_ALLOWED', async () => {
    const res = await fetch(`${server.http}/`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
  });
});

interface RecordedExit {
  frameId: number;
  exit: number;
  exits: number;
  stop: string | null;
  computedShare: number;
  /** Region reuse's mode for the frame, null with reuse off. */
  reuse: 'full' | 'regions' | 'reused' | null;
  /** A hash of the overlay canvas's pixels right after this exit was drawn, and how many are coloured. */
  hash: number;
  coloured: number;
  /** Share of the positions under the veil of skipped positions. */
  veiled: number;
}

/** Installed before the page's own script: records every exit the page draws. */
function recordExits(): void {
  const w = window as unknown as { exitsDrawn: unknown[] };
  w.exitsDrawn = [];
  window.addEventListener('adpc-exit', (e) => {
    const canvas = document.getElementById('overlay') as HTMLCanvasElement;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let hash = 0;
    let coloured = 0;
    for (let i = 0; i < data.length; i++) hash = (Math.imul(hash, 31) + data[i]!) >>> 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) coloured++;
    const veil = document.getElementById('skipped') as HTMLCanvasElement;
    const veilData = veil.getContext('2d')!.getImageData(0, 0, veil.width, veil.height).data;
    let veiled = 0;
    for (let i = 3; i < veilData.length; i += 4) if (veilData[i]! > 0) veiled++;
    w.exitsDrawn.push({ ...(e as CustomEvent).detail, hash, coloured, veiled: veiled / (veilData.length / 4) });
  });
}

it.runIf(REQUIRE_CHROMIUM && !HAS_CHROMIUM)('has a browser to test the page in (ADPC_REQUIRE_CHROMIUM=1)', () => {
  expect.fail(`${CHROMIUM} is absent; the page cannot be tested (apt-get install -y chromium)`);
});

describe.skipIf(!HAS_CHROMIUM)(HAS_CHROMIUM ? 'the page in Chromium' : `the page in Chromium: skipped, ${CHROMIUM} is absent (apt-get install -y chromium)`, () => {
  let server: TestServer;
  let engine: AnytimeEngine;
  let context: BrowserContext;
  let page: Page;
  let dir: string;
  const problems: string[] = [];

  const exits = () => page.evaluate(() => (window as unknown as { exitsDrawn: RecordedExit[] }).exitsDrawn);
  const lastFrameId = async () => Math.max(0, ...(await exits()).map((e) => e.frameId));
  /** Waits until `count` frames numbered above `after` have had their last exit drawn; returns their exits. */
  async function framesAfter(after: number, count: number): Promise<RecordedExit[][]> {
    await page.waitForFunction(({ after, count }) => (window as unknown as { exitsDrawn: RecordedExit[] }).exitsDrawn
      .filter((e) => e.frameId > after && e.stop !== null).length >= count, { after, count }, { timeout: 60_000, polling: 100 });
    const drawn = await exits();
    const ended = [...new Set(drawn.filter((e) => e.frameId > after && e.stop !== null).map((e) => e.frameId))].slice(0, count);
    return ended.map((id) => drawn.filter((e) => e.frameId === id));
  }
  const tableColumn = (column: number) => page.$$eval(`#exits tr td:nth-child(${column})`, (cells) => cells.map((c) => c.textContent ?? ''));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adpc-demo-'));
    const camera = join(dir, 'camera.y4m');
    // a driving camera: every frame differs, as a real one's would
    await writeSynthY4m(camera, 'moving', 2_000_001, 40, 512, 256);
    engine = await AnytimeEngine.load(DEFAULT_BUNDLE);
    server = await startTestServer(engine);
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${camera}`,
      ],
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    context.on('request', (r) => { if (!r.url().startsWith(`${server.http}/`) && !r.url().startsWith('data:')) problems.push(`request to ${r.url()}`); });
    page.on('websocket', (ws) => { if (ws.url() !== server.ws) problems.push(`websocket to ${ws.url()}`); });
    await context.addInitScript(recordExits);
    await page.goto(`${server.http}/`);
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams the synthetic clip, the camera, and follows the controls', async () => {
    // the synthetic static clip plays by default: exits 1 to 4 arrive and each redraws the overlay
    const synthetic = await framesAfter(0, 2);
    for (const list of synthetic) {
      expect(list.map((e) => e.exit)).toEqual([1, 2, 3, 4]);
      expect(list.at(-1)!.stop).toBe('final_exit');
      for (const e of list) expect(e.coloured).toBeGreaterThan(0);
      for (let k = 1; k < list.length; k++) expect(list[k]!.hash, `exit ${k + 1} drew the same overlay as exit ${k}`).not.toBe(list[k - 1]!.hash);
      // the veil covers what each stage skipped: stage 1 nothing, later ones about 1 - computed share
      // (the page judges from 8-bit confidence, so positions at the threshold may differ)
      expect(list[0]!.veiled).toBe(0);
      for (const e of list.slice(1)) expect(Math.abs(e.veiled - (1 - e.computedShare)), `exit ${e.exit}: veiled ${e.veiled}, computed ${e.computedShare}`).toBeLessThan(0.03);
    }
    expect(await page.textContent('#status')).toBe('streaming');

    // the camera (Chromium's fake one, playing the moving clip)
    await page.selectOption('#source', 'camera');
    const switched = await lastFrameId();
    // a frame in flight at the switch may still be a synthetic one
    const camera = await framesAfter(switched + 1, 3);
    for (const list of camera) {
      expect(list.map((e) => e.exit)).toEqual([1, 2, 3, 4]);
      for (let k = 1; k < list.length; k++) expect(list[k]!.hash).not.toBe(list[k - 1]!.hash);
    }
    // the camera shows a street, not Chromium's own test pattern: road is among the classes found
    expect(await page.$$eval('#legend li', (items) => items.map((i) => i.textContent ?? ''))).toContainEqual(expect.stringMatching(/^road/));
    // with the shipped threshold, some later stage skipped positions
    const shares = await tableColumn(5);
    expect(shares.slice(1).some((s) => s !== '100%'), `computed shares ${shares.join(', ')}`).toBe(true);

    // the figures move on
    const before = { counts: await page.textContent('#counts'), times: await tableColumn(2) };
    await page.waitForFunction((counts) => document.getElementById('counts')!.textContent !== counts, before.counts, { timeout: 10_000 });
    expect(await page.textContent('#fps')).toMatch(/^[1-9]\d*\.\d fps answered|^0\.[1-9] fps answered/);
    await page.waitForFunction((times) => [...document.querySelectorAll('#exits tr td:nth-child(2)')].map((c) => c.textContent).join() !== times.join(), before.times, { timeout: 10_000 });
    for (const t of await tableColumn(2)) expect(Number(t)).toBeGreaterThan(0);

    // threshold 1.0: nothing is skipped, every stage computes 100%
    await page.fill('#threshold', '1');
    const full = await framesAfter(await lastFrameId() + 1, 2);
    for (const list of full) {
      expect(list.map((e) => e.exit)).toEqual([1, 2, 3, 4]);
      for (const e of list) expect(e.computedShare).toBe(1);
      for (const e of list) expect(e.veiled).toBe(0);
    }
    // the table redraws a few times a second
    await page.waitForFunction(() => [...document.querySelectorAll('#exits tr td:nth-child(5)')].every((c) => c.textContent === '100%'), undefined, { timeout: 10_000 });
    expect(await page.textContent('#share')).toBe('computed share 100%');

    // max exit 2: frames stop at exit 2
    await page.selectOption('#max-exit', '2');
    const capped = await framesAfter(await lastFrameId() + 1, 3);
    for (const list of capped) {
      expect(list.map((e) => e.exit)).toEqual([1, 2]);
      expect(list.at(-1)!.stop).toBe('max_exit');
    }
    await page.waitForFunction(() => document.getElementById('exit-shown')!.textContent === 'exit 2 of 4', undefined, { timeout: 10_000 });
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLElement>('#exits tr.stale')].map((r) => r.dataset.exit).join() === '3,4', undefined, { timeout: 10_000 });

    // back to the shipped threshold and all exits, skipped positions veiled; pause on a last exit 4
    await page.selectOption('#max-exit', '4');
    await page.fill('#threshold', '0.995');
    await page.check('#show-skipped');
    await framesAfter(await lastFrameId() + 1, 2);
    // paused and settled: every frame sent has ended (the counters add up: the page updates them on
    // every send and end, so a frame sent just before the pause is counted) and the last one drawn
    // is final, on exit 4 for the screenshot. Once on CI the last frame drawn had ended at exit 1
    // (its stop is printed if it happens again); such a frame is streamed past rather than failing.
    let last: RecordedExit | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) {
        console.warn(`demo test: paused on ${JSON.stringify(last)}; streaming on`);
        await page.click('#run');
        await framesAfter(await lastFrameId(), 1);
      }
      await page.click('#run');
      await page.waitForFunction(() => {
        const counts = document.getElementById('counts')!.textContent!;
        const [sent, ...ends] = [...counts.matchAll(/(\d+)/g)].map((m) => Number(m[1]));
        const drawn = (window as unknown as { exitsDrawn: RecordedExit[] }).exitsDrawn.at(-1)!;
        return sent === ends.reduce((a, b) => a + b, 0) && drawn.stop !== null;
      }, undefined, { timeout: 30_000 });
      last = (await exits()).at(-1);
      if (last?.exit === 4) break;
    }
    expect(await page.textContent('#status')).toBe('paused');
    expect(last, JSON.stringify(last)).toMatchObject({ exit: 4, stop: 'final_exit' });
    const diag = { shown: await page.textContent('#exit-shown'), info: await page.textContent('#frame-info'), error: await page.textContent('#last-error'), counts: await page.textContent('#counts'), tail: (await exits()).slice(-9).map((e) => [e.frameId, e.exit, e.stop]) };
    expect(await page.textContent('#exit-shown'), JSON.stringify(diag)).toBe('exit 4 of 4');
    await mkdir(join(repoRoot, 'reports'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(problems).toEqual([]);
  }, 240_000);

  it('recomputes only what changed on the static clip when asked, and draws where', async () => {
    await page.selectOption('#source', 'synth-static');
    await page.check('#reuse');
    if (await page.textContent('#run') === 'resume') await page.click('#run');
    const checked = await lastFrameId();
    // the config reaches the server before the next frame does: frames after that one carry
    // reuse. The clip is busy (3-9 things move at once): some stretches are all keyframes, as
    // the change there covers much of the frame, so it is given 30 frames
    const frames = await framesAfter(checked + 1, 30);
    const modes = frames.map((list) => list.at(-1)!.reuse);
    expect(modes.every((m) => m !== null), modes.join()).toBe(true);
    expect(modes.some((m) => m === 'regions' || m === 'reused'), modes.join()).toBe(true);
    for (const list of frames.filter((l) => l.at(-1)!.reuse === 'regions')) {
      expect(list.map((e) => e.exit)).toEqual([1, 2, 3, 4]);
      // exit 1 computed the changed part only
      expect(list[0]!.computedShare).toBeLessThan(1);
    }
    // the caption names the regions recomputed, and the outlines are drawn: the screenshot shows them
    await page.waitForFunction(() => / regions? recomputed, [\d.<]+% of the frame/.test(document.getElementById('frame-info')!.textContent!), undefined, { timeout: 30_000 });
    await page.screenshot({ path: join(repoRoot, 'reports', 'demo-reuse.png') });
    await page.uncheck('#reuse');
    const off = await framesAfter(await lastFrameId() + 1, 2);
    expect(off.map((list) => list.at(-1)!.reuse)).toEqual([null, null]);
    expect(problems).toEqual([]);
  }, 120_000);

  it('asks for the token of a server that has one, and streams with it', async () => {
    const token = 'page-token-0123456789';
    const guarded = await startTestServer(engine, { ADPC_TOKEN: token });
    const tab = await context.newPage();
    const tabProblems: string[] = [];
    tab.on('pageerror', (e) => tabProblems.push(`page error: ${e.message}`));
    try {
      await tab.goto(`${guarded.http}/`);
      await tab.waitForFunction(() => document.body.dataset.stream === 'token', undefined, { timeout: 10_000 });
      expect(await tab.textContent('#status')).toBe('this server needs a token');
      expect(await tab.isVisible('#token')).toBe(true);
      await tab.fill('#token', 'wrong-token-0123456789');
      await tab.press('#token', 'Enter');
      await tab.waitForFunction(() => document.getElementById('status')!.textContent === 'wrong token', undefined, { timeout: 10_000 });
      await tab.fill('#token', token);
      await tab.click('#token-box button');
      await tab.waitForFunction(() => (window as unknown as { exitsDrawn: RecordedExit[] }).exitsDrawn.some((e) => e.stop !== null), undefined, { timeout: 30_000 });
      expect(await tab.textContent('#status')).toBe('streaming');
      expect(tabProblems).toEqual([]);
    } finally {
      await tab.close();
      await guarded.close();
    }
  }, 60_000);
});

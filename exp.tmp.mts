import * as ort from 'onnxruntime-node';
import { AnytimeEngine } from './src/engine/anytime-engine.ts';
import { syntheticSplit } from './src/eval/synthetic-split.ts';
const engine = await AnytimeEngine.load('models/default', { threads: 2 });
const images = []; for await (const i of syntheticSplit(engine.manifest.input, 'test', 20)) images.push(i.input);
const base = await ort.InferenceSession.create('models/default/dense.onnx', { intraOpNumThreads: 2 });
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const runBase = async (img) => { const t = performance.now(); await base.run({ image: new ort.Tensor('float32', img, [1, 3, 256, 512]) }); return performance.now() - t; };
const runEng = async (img, thr) => { const t = performance.now(); for await (const r of engine.run(img, { budget: { threshold: thr } })) void r; return performance.now() - t; };
for (const block of [1, 2, 5, 20]) {
  const tb = [], te = [], to = [];
  for (let rep = 0; rep < 3; rep++) for (let i = 0; i < images.length; i += block) {
    const chunk = images.slice(i, i + block);
    for (const img of chunk) tb.push(await runBase(img));
    for (const img of chunk) te.push(await runEng(img, 0.995));
    for (const img of chunk) to.push(await runEng(img, 1));
  }
  console.log(`block ${block}: baseline ${med(tb).toFixed(2)} CA on ${med(te).toFixed(2)} (${(med(te)/med(tb)).toFixed(3)}x) CA off ${med(to).toFixed(2)} (${(med(to)/med(tb)).toFixed(3)}x)`);
}
await engine.close();

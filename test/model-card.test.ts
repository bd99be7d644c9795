import { describe, expect, it } from 'vitest';
import { DEFAULT_BUNDLE } from '../src/bundle/default-bundle.js';
import { readManifest, type BundleManifest } from '../src/bundle/manifest.js';
import { modelCard } from '../src/model-card.js';

describe('model cards', () => {
  it('say that the shipped default saw synthetic scenes only, with its evaluation', async () => {
    const manifest = await readManifest(DEFAULT_BUNDLE);
    const card = modelCard(manifest);
    expect(card).toMatchObject({ weights: 'checkpoint', synthetic_only: true, training_data: 'data/synth-gpu' });
    expect(card.trained_on).toMatch(/^synthetic street scenes/);
    expect(card.limitations.join(' ')).toMatch(/real photos it mislabels most foreground objects/);
    const evaluation = manifest.evaluation!;
    expect(card.evaluation).toMatchObject({ split: 'test (synthetic)', images: evaluation.images, height: 256, width: 512 });
    expect(card.evaluation!.runs.map((r) => r.threshold)).toEqual([null, ...evaluation.ca.map((r) => r.threshold)]);
    const shipped = card.evaluation!.runs.find((r) => r.threshold === manifest.threshold)!;
    expect(shipped.miou).toEqual(evaluation.ca.find((r) => r.threshold === manifest.threshold)!.exits.map((e) => e.miou));
    expect(shipped.miou_label_map).toHaveLength(4);
  });

  it('name official weights, random weights, and stay silent where the manifest is', async () => {
    const base = await readManifest(DEFAULT_BUNDLE);
    const as = (source: BundleManifest['source'], evaluation: BundleManifest['evaluation'] = null): BundleManifest => ({ ...base, source, evaluation });
    expect(modelCard(as({ kind: 'official', path: 'adpc_w48.pth' }))).toMatchObject({ weights: 'official', synthetic_only: false, evaluation: null, trained_on: expect.stringMatching(/Cityscapes/) });
    expect(modelCard(as({ kind: 'random', path: '' }))).toMatchObject({ weights: 'random', synthetic_only: null, limitations: ['its labels mean nothing', 'the bundle carries no evaluation'] });
    const real = modelCard(as({ kind: 'checkpoint', path: 'model.pt', config: { data: '/data/cityscapes' } }));
    expect(real).toMatchObject({ synthetic_only: null, training_data: '/data/cityscapes' });
    expect(real.limitations.join(' ')).toMatch(/does not say whether/);
  });
});

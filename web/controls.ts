// The page's controls read as settings: how frames are sent, and the budget each frame carries
// (docs/PROTOCOL.md: max_exit 1-4, gflops > 0, deadline_ms > 0, 0 < threshold <= 1). A value
// out of range is marked on its field and left out of the budget, so the server's default holds.

import type { Budget } from '../src/engine/budget.js';

export type SourceChoice = 'synth-static' | 'synth-moving' | 'camera' | 'file';
export type SendFormat = 'jpeg' | 'raw';

export interface SendSettings {
  readonly fps: number;
  /** Send a frame only once the previous one has its last answer. */
  readonly paced: boolean;
  readonly width: number;
  readonly format: SendFormat;
}

const byId = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el as T;
};

export class Controls {
  readonly source = byId<HTMLSelectElement>('source');
  readonly file = byId<HTMLInputElement>('file');
  readonly run = byId<HTMLButtonElement>('run');
  readonly opacity = byId<HTMLInputElement>('opacity');
  readonly showSkipped = byId<HTMLInputElement>('show-skipped');
  readonly reuse = byId<HTMLInputElement>('reuse');
  readonly tokenBox = byId<HTMLFormElement>('token-box');
  readonly token = byId<HTMLInputElement>('token');
  private readonly rate = byId<HTMLInputElement>('rate');
  private readonly paced = byId<HTMLInputElement>('paced');
  private readonly width = byId<HTMLSelectElement>('width');
  private readonly format = byId<HTMLSelectElement>('format');
  private readonly threshold = byId<HTMLInputElement>('threshold');
  private readonly thresholdRange = byId<HTMLInputElement>('threshold-range');
  private readonly maxExit = byId<HTMLSelectElement>('max-exit');
  private readonly gflops = byId<HTMLInputElement>('gflops');
  private readonly deadline = byId<HTMLInputElement>('deadline');

  constructor() {
    // the slider and the number are one setting
    this.thresholdRange.addEventListener('input', () => (this.threshold.value = this.thresholdRange.value));
    this.threshold.addEventListener('input', () => (this.thresholdRange.value = this.threshold.value));
  }

  /** Starts the threshold at the model's default. */
  setThreshold(t: number): void {
    this.threshold.value = this.thresholdRange.value = String(t);
  }

  /** Calls `f` whenever a setting of how frames are sent changes. */
  onSendChange(f: () => void): void {
    for (const el of [this.width, this.format]) el.addEventListener('change', f);
  }

  send(): SendSettings {
    const fps = checked(this.rate, (v) => v >= 1 && v <= 30) ?? 10;
    return { fps, paced: this.paced.checked, width: Number(this.width.value), format: this.format.value as SendFormat };
  }

  budget(): Budget {
    const threshold = checked(this.threshold, (v) => v > 0 && v <= 1);
    const gflops = checked(this.gflops, (v) => v > 0);
    const deadline = checked(this.deadline, (v) => v > 0 && v <= 3_600_000);
    return {
      max_exit: Number(this.maxExit.value),
      ...(threshold !== undefined ? { threshold } : {}),
      ...(gflops !== undefined ? { gflops } : {}),
      ...(deadline !== undefined ? { deadline_ms: deadline } : {}),
    };
  }
}

/** The field's number when it holds an allowed one; blank is no value, anything else is marked. */
function checked(input: HTMLInputElement, ok: (v: number) => boolean): number | undefined {
  const blank = input.value.trim() === '';
  const v = input.valueAsNumber;
  const valid = !blank && Number.isFinite(v) && ok(v);
  input.setAttribute('aria-invalid', String(!blank && !valid));
  return valid ? v : undefined;
}

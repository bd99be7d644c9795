// A request's compute budget, validated at the edge. All fields optional.

import { z } from 'zod';
import { AdpcError } from '../errors.js';

export const BudgetSchema = z.object({
  /** Last exit to run (1-4). Exit 1 is always returned, but for a deadline missed waiting for the device (RunOptions.waiting). */
  max_exit: z.number().int().min(1).max(4).optional(),
  /** Cap on cumulative GFLOPs (ADP-C convention), checked before each stage from its predicted cost. */
  gflops: z.number().positive().finite().optional(),
  /** Milliseconds from the frame's arrival; a stage predicted to end later is not started. */
  deadline_ms: z.number().positive().finite().max(3_600_000).optional(),
  /** CA threshold: a pixel is recomputed while its confidence is <= threshold. 1 = no skipping. */
  threshold: z.number().gt(0).max(1).optional(),
}).strict();

export type Budget = z.infer<typeof BudgetSchema>;

export type StopReason = 'final_exit' | 'max_exit' | 'gflops' | 'deadline' | 'cancelled';

export function parseBudget(value: unknown): Budget {
  const parsed = BudgetSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'budget'}: ${i.message}`).join('; ');
    throw new AdpcError('BUDGET_INVALID', `invalid budget: ${detail}`);
  }
  return parsed.data;
}

/** Per-field merge: a frame's own budget overrides the stream's default. */
export function mergeBudgets(base: Budget, override: Budget): Budget {
  return { ...base, ...Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined)) };
}

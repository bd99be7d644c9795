import { describe, expect, it } from 'vitest';
import { SlotScheduler } from '../../server/slot-scheduler.js';

describe('SlotScheduler', () => {
  it('runs one stage at a time, earliest deadline first, arrival order among equals', async () => {
    const scheduler = new SlotScheduler(1);
    const order: string[] = [];
    const first = await scheduler.acquire(Infinity); // the device is busy
    const jobs = [
      scheduler.acquire(Infinity).then((r) => { order.push('no-deadline-a'); r(); }),
      scheduler.acquire(500).then((r) => { order.push('late'); r(); }),
      scheduler.acquire(100).then((r) => { order.push('urgent'); r(); }),
      scheduler.acquire(Infinity).then((r) => { order.push('no-deadline-b'); r(); }),
    ];
    expect(scheduler.depth).toBe(4);
    first();
    await Promise.all(jobs);
    expect(order).toEqual(['urgent', 'late', 'no-deadline-a', 'no-deadline-b']);
  });

  it('allows the configured concurrency and ignores a second release', async () => {
    const scheduler = new SlotScheduler(2);
    const a = await scheduler.acquire(Infinity);
    const b = await scheduler.acquire(Infinity);
    let third = false;
    const c = scheduler.acquire(Infinity).then((r) => { third = true; return r; });
    await Promise.resolve();
    expect(third).toBe(false);
    a();
    a();
    (await c)();
    expect(third).toBe(true);
    b();
    expect(scheduler.depth).toBe(0);
    expect(() => new SlotScheduler(0)).toThrow(RangeError);
  });

  it('tells subscribers when a request has to wait, not when it is granted at once', async () => {
    const scheduler = new SlotScheduler(1);
    let told = 0;
    const unsubscribe = scheduler.whenWaiting(() => told++);
    const first = await scheduler.acquire(Infinity);
    expect(told).toBe(0);
    const second = scheduler.acquire(Infinity);
    expect(told).toBe(1);
    unsubscribe();
    const third = scheduler.acquire(Infinity);
    expect(told).toBe(1);
    first();
    (await second)();
    (await third)();
  });
});

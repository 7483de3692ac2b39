import { describe, expect, it } from 'vitest';
import { PrefetchPolicy } from './prefetch';

describe('PrefetchPolicy', () => {
  const make = (threads = 1) => {
    const applied: number[] = [];
    const p = new PrefetchPolicy(threads, 1000);
    p.onChange = (s) => applied.push(s);
    return { p, applied };
  };

  it('adds a slot only while steps have more shards than live workers', () => {
    const { p, applied } = make();
    p.liveWorkers(1, 0);
    p.sawStep(2, 0);
    expect(p.slots(0)).toBe(2);
    p.liveWorkers(2, 10); // a second worker joined: one shard each, no prefetch
    expect(p.slots(10)).toBe(1);
    p.liveWorkers(1, 20);
    expect(applied).toEqual([2, 1, 2]);
  });

  it('never prefetches with as many workers as shards, and forgets old runs', () => {
    const { p, applied } = make(2);
    p.liveWorkers(3, 0);
    p.sawStep(3, 0);
    expect(p.slots(0)).toBe(2);
    p.sawStep(8, 100);
    expect(p.slots(100)).toBe(3);
    // no job for longer than the memory: back to the threads alone on the next event
    p.liveWorkers(3, 2000);
    expect(p.slots(2000)).toBe(2);
    expect(applied).toEqual([3, 2]);
  });
});

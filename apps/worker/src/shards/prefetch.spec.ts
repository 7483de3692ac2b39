import { describe, expect, it } from 'vitest';
import { PrefetchPolicy } from './prefetch';

describe('PrefetchPolicy', () => {
  const make = (threads = 1) => {
    const applied: number[] = [];
    let recounts = 0;
    const p = new PrefetchPolicy(threads, 1000);
    p.onChange = (s) => applied.push(s);
    p.recount = () => recounts++;
    return { p, applied, recounts: () => recounts };
  };

  it('adds a slot only while steps have more shards than live workers', () => {
    const { p, applied } = make();
    p.sawStep(2, 0);
    p.liveWorkers(1, 0);
    expect(p.slots(0)).toBe(2);
    p.liveWorkers(2, 10); // a second worker joined: one shard each, no prefetch
    expect(p.slots(10)).toBe(1);
    p.liveWorkers(1, 20);
    expect(applied).toEqual([2, 1, 2]);
  });

  it('waits for a count taken after a new run appears before it adds the slot', () => {
    const { p, applied, recounts } = make();
    p.liveWorkers(1, 0); // counted alone at start-up, before a second worker announced itself
    p.sawStep(2, 50);
    expect(recounts()).toBe(1);
    expect(p.slots(50)).toBe(1); // the stale count does not open the slot
    p.liveWorkers(2, 52); // the fresh count: two workers for two shards
    expect(p.slots(52)).toBe(1);
    p.sawStep(2, 60); // further jobs of the same run ask for nothing
    expect(recounts()).toBe(1);
    p.liveWorkers(1, 3000); // the other worker left; the run is long gone
    p.sawStep(2, 3001); // seen again after the memory: a new count is asked for
    expect(recounts()).toBe(2);
    p.liveWorkers(1, 3002);
    expect(p.slots(3002)).toBe(2);
    expect(applied).toEqual([2]);
  });

  it('never prefetches with as many workers as shards, and forgets old runs', () => {
    const { p, applied } = make(2);
    p.liveWorkers(3, 0);
    p.sawStep(3, 0);
    expect(p.slots(0)).toBe(2);
    p.sawStep(8, 100);
    p.liveWorkers(3, 100);
    expect(p.slots(100)).toBe(3);
    // no job for longer than the memory: back to the threads alone on the next event
    p.liveWorkers(3, 2000);
    expect(p.slots(2000)).toBe(2);
    expect(applied).toEqual([3, 2]);
  });
});

import { describe, expect, it } from 'vitest';
import { learningRate, parseScheduleConfig, type ScheduleConfigInput } from './schedules';

const lr = (json: ScheduleConfigInput, t: number, batchSize?: number) =>
  learningRate(parseScheduleConfig(json), t, { baseLr: 0.1, batchSize });

describe('schedules', () => {
  it('constant', () => {
    expect([0, 1, 1000].map((t) => lr({ type: 'constant' }, t))).toEqual([0.1, 0.1, 0.1]);
  });

  it('linear warmup then constant', () => {
    const s = { type: 'constant', warmupSteps: 4 } as const;
    expect([0, 1, 3, 4, 100].map((t) => lr(s, t))).toEqual([0.025, 0.05, 0.1, 0.1, 0.1]);
  });

  it('step: times gamma every N steps', () => {
    const s = { type: 'step', everySteps: 10, gamma: 0.5 } as const;
    expect([0, 9, 10, 19, 20, 35].map((t) => lr(s, t))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]);
  });

  it('cosine: peak at 0, half way at S/2, minLr at and after S', () => {
    const s = { type: 'cosine', totalSteps: 100, minLr: 0.01 } as const;
    expect(lr(s, 0)).toBe(0.1);
    expect(lr(s, 50)).toBeCloseTo(0.055, 15);
    expect(lr(s, 100)).toBeCloseTo(0.01, 15);
    expect(lr(s, 500)).toBeCloseTo(0.01, 15);
  });

  it('cosine after warmup: decays over totalSteps - warmupSteps', () => {
    const s = { type: 'cosine', totalSteps: 110, warmupSteps: 10 } as const;
    expect(lr(s, 4)).toBeCloseTo(0.05, 15);
    expect(lr(s, 10)).toBe(0.1);
    expect(lr(s, 60)).toBeCloseTo(0.05, 15);
    expect(lr(s, 110)).toBeCloseTo(0, 15);
  });

  it('linear scaling rule (Goyal et al. 2017): baseLr * batch / baseBatch, with warmup to the scaled peak', () => {
    const s = { type: 'constant', warmupSteps: 5, scaleWithBatch: { baseBatch: 256 } } as const;
    expect(lr(s, 10, 1024)).toBeCloseTo(0.4, 15);
    expect(lr(s, 0, 1024)).toBeCloseTo(0.08, 15);
    expect(() => lr(s, 0)).toThrow(/scaleWithBatch needs the batch size/);
  });

  it.each<[unknown, RegExp]>([
    [{ type: 'step', everySteps: 0, gamma: 0.5 }, /everySteps: must be at least 1/],
    [{ type: 'step', everySteps: 10, gamma: 0 }, /gamma: must be greater than 0/],
    [{ type: 'cosine', totalSteps: 10, warmupSteps: 10 }, /totalSteps: must exceed warmupSteps \(10\)/],
    [{ type: 'constant', warmupSteps: -1 }, /warmupSteps: must be at least 0/],
    [{ type: 'constant', scaleWithBatch: { baseBatch: 0 } }, /scaleWithBatch\.baseBatch: must be at least 1/],
    [{ type: 'exponential' }, /type: Invalid/],
  ])('refuses %j', (json, message) => {
    expect(() => parseScheduleConfig(json)).toThrow(message);
  });
});

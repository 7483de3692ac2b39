import { describe, expect, it } from 'vitest';
import { toChunk } from './dashboard-feed.service';

describe('toChunk', () => {
  it('keeps [step, loss, accuracy] of the steps that were applied, and every evaluation', () => {
    const step = { type: 'step' as const, epoch: 0, lr: 0.01, gradNorm: 1, seconds: 0.01 };
    const chunk = toChunk(
      'r1',
      [
        { ...step, step: 1, loss: 0.7, accuracy: 0.5 },
        { ...step, step: 2, loss: Number.NaN, accuracy: 0, skipped: true },
        { ...step, step: 3, loss: 0.6, accuracy: 0.625 },
        { type: 'evaluation', split: 'validation', step: 3, loss: 0.65, accuracy: 0.55, rows: 200 },
      ],
      false,
    );
    expect(chunk).toEqual({
      id: 'r1',
      reset: false,
      steps: [
        [1, 0.7, 0.5],
        [3, 0.6, 0.625],
      ],
      evals: [{ split: 'validation', step: 3, loss: 0.65, accuracy: 0.55 }],
    });
  });
});

describe('toChunk with a fit curve', () => {
  it("keeps the newest evaluation's curve apart from the evaluations", () => {
    const curve = (p: number) => ({ x: [-1, 0, 1], target: [1, 0, 1], prediction: [p, p, p] });
    const ev = { type: 'evaluation' as const, split: 'validation' as const, loss: 0.1, accuracy: 0, rows: 20 };
    const chunk = toChunk(
      'r2',
      [
        { ...ev, step: 10, curve: curve(0.5) },
        { ...ev, step: 20, curve: curve(0.25) },
        { ...ev, split: 'test', step: 20 },
      ],
      true,
    );
    expect(chunk.curve).toEqual({ step: 20, ...curve(0.25) });
    expect(chunk.evals).toEqual([
      { split: 'validation', step: 10, loss: 0.1, accuracy: 0 },
      { split: 'validation', step: 20, loss: 0.1, accuracy: 0 },
      { split: 'test', step: 20, loss: 0.1, accuracy: 0 },
    ]);
  });
});

describe('toChunk with evaluation.curvature', () => {
  it("keeps an evaluation's top Hessian eigenvalue and trace when it has them", () => {
    const ev = { type: 'evaluation' as const, loss: 0.1, accuracy: 0.5, rows: 20, step: 20 };
    const chunk = toChunk(
      'r3',
      [
        { ...ev, split: 'validation', hessianTopEigenvalue: -3.5, hessianTrace: 12.25 },
        { ...ev, split: 'test' },
      ],
      false,
    );
    expect(chunk.evals).toEqual([
      { split: 'validation', step: 20, loss: 0.1, accuracy: 0.5, hessianTopEigenvalue: -3.5, hessianTrace: 12.25 },
      { split: 'test', step: 20, loss: 0.1, accuracy: 0.5 },
    ]);
  });
});

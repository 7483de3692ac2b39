import { createRng, window2d, type Padding, type Window2d } from '@nnq/nn';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { emitAvgPool, emitConv, emitMaxPool } from './conv-graph';
import { GraphBuilder } from './graph';
import { sessionOptions } from './ort';
import { relErr } from '../../../test/support/param-tensors';

/**
 * The conv and pooling ops of conv-graph.ts, forward and backward, against direct loops in float64
 * over the window (the definitions: valid cells only, first maximum on ties, count_include_pad 0):
 * every window size, stride and padding on small NCHW inputs.
 */
type Kind = 'conv' | 'max' | 'avg';

interface Case {
  kind: Kind;
  w: Window2d;
  batch: number;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    kind: fc.constantFrom<Kind>('conv', 'max', 'avg'),
    batch: fc.integer({ min: 1, max: 3 }),
    input: fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 3 })),
    size: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    padding: fc.constantFrom<Padding>('valid', 'same'),
    filters: fc.integer({ min: 1, max: 3 }),
  })
  .map((r) => {
    const outC = r.kind === 'conv' ? r.filters : r.input[2];
    const w = window2d(r.input, r.size, r.strides, r.padding, outC);
    return typeof w === 'string' ? null : { kind: r.kind, w, batch: r.batch };
  })
  .filter((c): c is Case => c !== null);

/** Forward value and gradients by the definition; x NCHW, kernel HWIO, delta NCHW. */
function direct(c: Case, x: Float32Array, kernel: Float32Array, bias: Float32Array, delta: Float32Array) {
  const { w, batch: B } = c;
  const at = (b: number, ch: number, y: number, xx: number) => ((b * w.inC + ch) * w.inH + y) * w.inW + xx;
  const out = new Float64Array(B * w.outC * w.outH * w.outW);
  const dx = new Float64Array(x.length);
  const dk = new Float64Array(kernel.length);
  const db = new Float64Array(bias.length);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < w.outC; o++)
      for (let oy = 0; oy < w.outH; oy++)
        for (let ox = 0; ox < w.outW; ox++) {
          const i = ((b * w.outC + o) * w.outH + oy) * w.outW + ox;
          const cells: number[][] = []; // [dy, dx, y, x] of the window's valid cells, row-major
          for (let dy = 0; dy < w.kh; dy++)
            for (let dxx = 0; dxx < w.kw; dxx++) {
              const y = oy * w.sh - w.padTop + dy;
              const xx = ox * w.sw - w.padLeft + dxx;
              if (y >= 0 && y < w.inH && xx >= 0 && xx < w.inW) cells.push([dy, dxx, y, xx]);
            }
          if (c.kind === 'conv') {
            let a = bias[o];
            for (const [dy, dxx, y, xx] of cells)
              for (let ch = 0; ch < w.inC; ch++) {
                const k = ((dy * w.kw + dxx) * w.inC + ch) * w.outC + o;
                a += x[at(b, ch, y, xx)] * kernel[k];
                dk[k] += delta[i] * x[at(b, ch, y, xx)];
                dx[at(b, ch, y, xx)] += delta[i] * kernel[k];
              }
            out[i] = a;
            db[o] += delta[i];
          } else if (c.kind === 'max') {
            let best = cells[0];
            for (const cell of cells) if (x[at(b, o, cell[2], cell[3])] > x[at(b, o, best[2], best[3])]) best = cell;
            out[i] = x[at(b, o, best[2], best[3])];
            dx[at(b, o, best[2], best[3])] += delta[i];
          } else {
            out[i] = cells.reduce((s, [, , y, xx]) => s + x[at(b, o, y, xx)], 0) / cells.length;
            for (const [, , y, xx] of cells) dx[at(b, o, y, xx)] += delta[i] / cells.length;
          }
        }
  return { out, dx, dk, db };
}

async function viaOnnx(c: Case, x: Float32Array, kernel: Float32Array, bias: Float32Array, delta: Float32Array) {
  const { w, batch: B } = c;
  const g = new GraphBuilder('conv_graph_spec');
  g.input('x', [B, w.inC, w.inH, w.inW]);
  g.input('delta', [B, w.outC, w.outH, w.outW]);
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', x, [B, w.inC, w.inH, w.inW]),
    delta: new ort.Tensor('float32', delta, [B, w.outC, w.outH, w.outW]),
  };
  const outputs = ['out', 'dx'];
  let out: string;
  let dx: string | null;
  if (c.kind === 'conv') {
    g.input('kernel', [w.kh * w.kw * w.inC, w.outC]);
    g.input('bias', [w.outC]);
    feeds.kernel = new ort.Tensor('float32', kernel, [w.kh * w.kw * w.inC, w.outC]);
    feeds.bias = new ort.Tensor('float32', bias, [w.outC]);
    const conv = emitConv(g, 'x', 'kernel', 'bias', w, { kernel: 'dk', bias: 'db' });
    out = conv.a;
    dx = conv.backward('delta', true);
    outputs.push('dk', 'db');
  } else {
    const pool = c.kind === 'max' ? emitMaxPool(g, 'x', w, B) : emitAvgPool(g, 'x', w);
    out = pool.h;
    dx = pool.backward('delta', true);
  }
  g.op('Identity', [out], {}, 'out');
  g.op('Identity', [dx!], {}, 'dx');
  for (const o of outputs) g.output(o, []);
  const session = await ort.InferenceSession.create(g.toModel(), sessionOptions({}));
  try {
    const r = await session.run(feeds);
    return Object.fromEntries(outputs.map((o) => [o, r[o].data as Float32Array]));
  } finally {
    await session.release();
  }
}

describe('conv-graph: conv and pooling ops against their definitions', () => {
  it('forward value, dJ/dx, dJ/dW and dJ/db agree to 1e-5 on 300 random windows', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.integer(), async (c, seed) => {
        const rng = createRng(seed);
        const { w, batch } = c;
        const n = batch * w.inC * w.inH * w.inW;
        // max pooling on small integers: windows with several equal maxima (the first must win)
        const x = Float32Array.from({ length: n }, () => (c.kind === 'max' ? rng.int(3) : rng.normal()));
        const kernel = Float32Array.from({ length: w.kh * w.kw * w.inC * w.outC }, () => rng.normal());
        const bias = Float32Array.from({ length: w.outC }, () => rng.normal());
        const delta = Float32Array.from({ length: batch * w.outC * w.outH * w.outW }, () => rng.normal());
        const want = direct(c, x, kernel, bias, delta);
        const got = await viaOnnx(c, x, kernel, bias, delta);
        expect(got.out.length).toBe(want.out.length);
        expect(got.dx.length).toBe(want.dx.length);
        expect(relErr(got.out, want.out)).toBeLessThan(1e-5);
        expect(relErr(got.dx, want.dx)).toBeLessThan(1e-5);
        if (c.kind === 'conv') {
          expect(relErr(got.dk, want.dk)).toBeLessThan(1e-5);
          expect(relErr(got.db, want.db)).toBeLessThan(1e-5);
        }
      }),
      { numRuns: 300, seed: 1919, endOnFailure: true },
    );
  });

  it('covers strides, both paddings, windows that leave input rows unread and ties', () => {
    const cases = fc.sample(caseArb, { numRuns: 300, seed: 1919 });
    const unread = (w: Window2d) => w.padTop === 0 && (w.inH - w.kh) % w.sh !== 0;
    expect(cases.some((c) => c.kind === 'conv' && unread(c.w))).toBe(true);
    expect(cases.some((c) => c.kind === 'avg' && c.w.padTop + c.w.padLeft > 0)).toBe(true);
    expect(cases.some((c) => c.kind === 'max' && c.w.sh < c.w.kh)).toBe(true); // overlapping windows
    expect(new Set(cases.map((c) => c.kind)).size).toBe(3);
  });
});

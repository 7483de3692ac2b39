import { readModel } from '@nnq/nn';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp } from './support/processes';

/**
 * examples/lecture/README.md, command by command: each prints what the lecture states, and the
 * expected values here are the lecture's, computed by hand.
 */
const LECTURE = resolve(__dirname, '..', 'examples', 'lecture');
const INPUTS = join(LECTURE, 'xor-inputs.json');

async function nnq(args: string[]): Promise<string> {
  const p = startApp('cli', {}, args);
  const code = await p.exited;
  expect(code, p.output()).toBe(0);
  return p.output();
}

/** The numbers of a printed vector `[0, -1]`. */
const nums = (text: string) => text.split(',').map(Number);

describe('the lecture, runnable (examples/lecture)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnq-lecture-e2e-'));
  const model = join(dir, 'xor.safetensors');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the lecture's XOR network, and nnq predict answers 0, 1, 1, 0", async () => {
    const out = await nnq(['lecture', 'xor-model', '--out', model]);
    expect(out).toContain('layer 1 (relu): kernel [[1,1],[1,1]]  bias [0,-1]');
    expect(out).toContain('layer 2 (identity): kernel [[1],[-2]]  bias [0]');
    expect(Array.from(readModel(readFileSync(model)).params)).toEqual([1, 1, 1, 1, 0, -1, 1, -2, 0]);
    expect(JSON.parse(await nnq(['predict', model, INPUTS]))).toEqual({ outputs: [[0], [1], [1], [0]] });
  });

  it('--layers prints every layer: a = x W + c, h = relu(a), then w^T h + b', async () => {
    const out = await nnq(['predict', model, INPUTS, '--layers']);
    // row r: x, then layer 1 (a, h), layer 2 (a, h), the output
    const row = String.raw`^row (\d): x = \[(.*)\]\n`;
    const layer = (n: number, act: string) => String.raw` {2}layer ${n} ${act} +a = \[(.*)\] {2}h = \[(.*)\]\n`;
    const block = new RegExp(`${row}${layer(1, 'relu')}${layer(2, 'identity')} {2}output \\[(.*)\\]$`, 'gm');
    const rows = [...out.matchAll(block)];
    // hand-computed: xW = [x1 + x2, x1 + x2], + c = [0, -1]; relu; [1, -2] . h
    const expected = [
      { x: [0, 0], a: [0, -1], h: [0, 0], out: 0 },
      { x: [0, 1], a: [1, 0], h: [1, 0], out: 1 },
      { x: [1, 0], a: [1, 0], h: [1, 0], out: 1 },
      { x: [1, 1], a: [2, 1], h: [2, 1], out: 0 },
    ];
    expect(
      rows.map((m) => ({ x: nums(m[2]), a: nums(m[3]), h: nums(m[4]), out: Number(m[7]) })),
      out,
    ).toEqual(expected);
    rows.forEach((m) => expect(nums(m[5])).toEqual(nums(m[6]))); // identity output: h = a
  });

  it('the linear model ends at w = (0, 0), b = 1/2 with J = 1/2 (nnq prints the mean, 1/8)', async () => {
    const out = await nnq(['lecture', 'linear']);
    // least squares on XOR: the normal equations give w = 0, b = mean(y) = 1/2; J = 1/2 * 4 * (1/2)^2
    expect(out).toMatch(/^ {2}w = \(0, 0\) {2}b = 0\.5$/m);
    expect(out).toMatch(/^ {2}f\(x\) for \(0,0\) \(0,1\) \(1,0\) \(1,1\): 0\.5, 0\.5, 0\.5, 0\.5$/m);
    expect(out).toMatch(/J = 1\/2 sum over the 4 points of \(f\*\(x\) - f\(x\)\)\^2 = 0\.5 {2}\(the lecture's J\)/);
    expect(out).toMatch(/nnq prints the mean per row, J \/ 4 = 0\.125/);
  });

  it('nnq train --local on examples/lecture/linear.json prints that mean, 0.125', async () => {
    const out = await nnq(['train', '--local', join(LECTURE, 'linear.json'), '--out', join(dir, 'linear.safetensors')]);
    expect(out).toMatch(/^ {2}train +loss 0\.125 {2}\(last batch\)$/m);
    const { params } = readModel(readFileSync(join(dir, 'linear.safetensors')));
    expect(Math.abs(params[0])).toBeLessThan(1e-4);
    expect(Math.abs(params[1])).toBeLessThan(1e-4);
    expect(params[2]).toBeCloseTo(0.5, 4);
  });

  it('2-2-1 ReLU from 20 seeds: some get stuck; wider layers find solutions more often', async () => {
    const out = await nnq(['lecture', 'seeds', '--units', '2,8']);
    for (const units of [2, 8]) {
      const seeds = [
        ...out.matchAll(new RegExp(`^ {2}units ${units} seed \\d+: f = (.*) {2}J = \\S+ {2}(solved|stuck)$`, 'gm')),
      ];
      expect(seeds).toHaveLength(20);
      // each verdict follows from the printed outputs: solved = every output within 0.1 of 0, 1, 1, 0
      for (const [, f, verdict] of seeds) {
        const solved = nums(f).every((v, i) => Math.abs(v - [0, 1, 1, 0][i]) < 0.1);
        expect(verdict).toBe(solved ? 'solved' : 'stuck');
      }
      const solved = seeds.filter((m) => m[2] === 'solved').length;
      expect(out).toContain(`units ${units}: ${solved}/20 seeds find a solution`);
    }
    const count = (u: number) => Number(out.match(new RegExp(`^units ${u}: (\\d+)/20`, 'm'))![1]);
    expect(count(2)).toBeLessThan(20); // the lecture's point: the optimisation is hard
    expect(count(8)).toBeGreaterThan(count(2));
  });

  it('nnq approx abs: error against the unit count, and an SVG of the target and the fits', async () => {
    const svg = join(dir, 'abs.svg');
    const out = await nnq(['approx', 'abs', '--svg', svg]);
    const table = [...out.matchAll(/^ +(\d+) +(\S+) +(\S+)$/gm)].map((m) => ({
      units: Number(m[1]),
      max: Number(m[2]),
      rms: Number(m[3]),
    }));
    expect(table.map((r) => r.units)).toEqual([1, 2, 4, 8, 16, 32, 64]);
    // one unit: f = v relu(w x + c) + b is monotone, so of f(-1), f(0), f(1) (targets 1, 0, 1) one
    // misses by 1/2 or more
    expect(table[0].max).toBeGreaterThanOrEqual(0.5 - 1e-6);
    expect(table[6].max).toBeLessThan(0.1); // 64 units: close everywhere on the grid
    table.forEach((r) => expect(r.rms).toBeLessThanOrEqual(r.max));
    const text = readFileSync(svg, 'utf8');
    expect(text).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const lines = [...text.matchAll(/<polyline [^>]*points="([^"]*)"><title>([^<]*)<\/title>/g)];
    expect(lines.map((m) => m[2])).toEqual([
      'abs',
      '1 unit',
      '2 units',
      '4 units',
      '8 units',
      '16 units',
      '32 units',
      '64 units',
    ]);
    lines.forEach((m) => expect(m[1].split(' ')).toHaveLength(101));
  });

  it('refuses a bad option by name and bounds', async () => {
    const p = startApp('cli', {}, ['approx', 'sin', '--units', '1,0']);
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(/nnq: --units\[1\]: must be an integer from 1 to 1024, got "0"/);
  });
});

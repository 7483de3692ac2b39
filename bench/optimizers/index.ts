/**
 * bench/optimizers: Adam, SGD with momentum, L-BFGS and Hessian-free (libs/nn second-order) on
 *   (a) the lecture's XOR, sum of squares, from 20 initialisations: how many reach J < 1e-6, in
 *       how many passes over the data and how much wall time;
 *   (b) sin on [-pi, pi], 1-32-1 tanh, and (c) two spirals, 2-16-16-1 tanh, sigmoid cross-entropy:
 *       the loss against wall time and against passes (medians over BENCH_INITS initialisations),
 *       and the ratio of Adam's loss to the best second-order loss at the same wall time.
 * Full batch, float64 passes on one thread (libs/nn reference code; Adam and momentum update
 * float32 parameters with the project's optimizer step). The machine is shared: times are noisy,
 * passes are not.
 *
 *   npm run bench:optimizers    (env: BENCH_SECONDS=3 per run of (b) and (c), BENCH_INITS=3)
 *
 * Prints one table per problem and writes bench/results/optimizers.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { initial, sineProblem, spiralsProblem, xorProblem, type Problem } from './problems';
import { lossAt, OPTIMIZERS, runOne, settingsOf, type OptimizerName, type Trace } from './runners';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const INITS = Number(process.env.BENCH_INITS ?? 3);
const XOR_INITS = 20;
const XOR_TARGET = 1e-6;
const XOR_BUDGET = { seconds: 1, passes: 5000, target: XOR_TARGET };

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const sci = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : String(v));

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

async function xorSection(problem: Problem) {
  const rows: string[][] = [];
  const results: Record<string, unknown> = {};
  for (const name of OPTIMIZERS) {
    const traces: Trace[] = [];
    for (let seed = 1; seed <= XOR_INITS; seed++)
      traces.push(await runOne(problem, name, initial(problem, seed), XOR_BUDGET));
    const hits = traces.filter((t) => t.reached).map((t) => t.reached!);
    const finals = traces.map((t) => t.curve[t.curve.length - 1].loss);
    const r = {
      converged: hits.length,
      inits: XOR_INITS,
      medianPassesToTarget: median(hits.map((h) => h.passes)),
      medianMsToTarget: median(hits.map((h) => h.ms)),
      medianFinalLoss: median(finals),
      stops: traces.map((t) => t.stop ?? null),
    };
    results[name] = { settings: settingsOf(problem.name, name), ...r };
    rows.push([
      name,
      `${r.converged}/${XOR_INITS}`,
      String(r.medianPassesToTarget),
      r.medianMsToTarget.toFixed(1),
      sci(r.medianFinalLoss),
    ]);
  }
  console.log(`\n(a) ${problem.name}, sum of squares, ${XOR_INITS} initialisations: reaching J < ${XOR_TARGET}`);
  console.log(`    budget per run: ${XOR_BUDGET.seconds} s or ${XOR_BUDGET.passes} passes`);
  console.log(table(['optimizer', 'converged', 'passes (median)', 'ms (median)', 'final J (median)'], rows));
  return results;
}

async function curveSection(label: string, problem: Problem) {
  const times = [0.1, 0.3, 1, SECONDS].filter((t) => t <= SECONDS).map((t) => t * 1000);
  const passes = [10, 100, 1000, 10000];
  const byName: Record<string, Trace[]> = {};
  for (const name of OPTIMIZERS) {
    byName[name] = [];
    for (let k = 1; k <= INITS; k++) {
      byName[name].push(await runOne(problem, name, initial(problem, k), { seconds: SECONDS, passes: 1e9 }));
    }
  }
  const med = (name: OptimizerName, key: 'ms' | 'passes', at: number) =>
    median(byName[name].map((t) => lossAt(t.curve, key, at)));
  const rows = OPTIMIZERS.map((name) => [
    name,
    ...times.map((ms) => sci(med(name, 'ms', ms))),
    ...passes.map((n) => sci(med(name, 'passes', n))),
    String(median(byName[name].map((t) => t.curve[t.curve.length - 1].passes))),
  ]);
  // Adam's loss over the best second-order loss at each moment: the target is 100x
  const ratioAt = (ms: number) =>
    med('adam', 'ms', ms) / Math.min(med('lbfgs', 'ms', ms), med('hessian_free', 'ms', ms));
  rows.push(['adam / best 2nd', ...times.map((ms) => sci(ratioAt(ms))), ...passes.map(() => ''), '']);
  const end = SECONDS * 1000;
  const adam = med('adam', 'ms', end);
  const best = Math.min(med('lbfgs', 'ms', end), med('hessian_free', 'ms', end));
  console.log(`\n${label}: loss (median of ${INITS} initialisations) against wall time and against passes`);
  console.log(
    table(
      ['optimizer', ...times.map((t) => `at ${t / 1000} s`), ...passes.map((n) => `at ${n} passes`), 'passes made'],
      rows,
    ),
  );
  console.log(`Adam's loss / the best second-order loss at ${SECONDS} s: ${(adam / best).toExponential(2)}`);
  const results: Record<string, unknown> = {
    adamOverBestSecondOrderAtEnd: adam / best,
    adamOverBestSecondOrderAtSeconds: Object.fromEntries(times.map((ms) => [ms / 1000, ratioAt(ms)])),
  };
  for (const name of OPTIMIZERS) {
    results[name] = {
      settings: settingsOf(problem.name, name),
      lossAtSeconds: Object.fromEntries(times.map((ms) => [ms / 1000, med(name, 'ms', ms)])),
      lossAtPasses: Object.fromEntries(passes.map((n) => [n, med(name, 'passes', n)])),
      stops: byName[name].map((t) => t.stop ?? null),
    };
  }
  return results;
}

async function main() {
  console.log(`bench/optimizers on ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`);
  const xor = await xorSection(xorProblem(2, 'relu'));
  const xorTanh = await xorSection(xorProblem(8, 'tanh'));
  const sine = await curveSection('(b) sin on [-pi, pi], 1-32-1 tanh, J / N', sineProblem());
  const spirals = await curveSection('(c) two spirals, 2-16-16-1 tanh, sigmoid cross-entropy / N', spiralsProblem());
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const out = { date: new Date().toISOString(), seconds: SECONDS, inits: INITS, xor, xorTanh, sine, spirals };
  writeFileSync(join(dir, 'optimizers.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote bench/results/optimizers.json`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

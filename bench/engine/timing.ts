/** Timing helpers of the engine benchmark: repetitions of at least SECONDS each, medians. */

export type StepFn = () => Promise<void> | void;

export interface Run {
  /** Samples per wall-clock second. */
  readonly wall: number;
  /** Samples per CPU-second of this process (less sensitive to a busy machine). */
  readonly cpu: number;
}

export interface Throughput extends Run {
  readonly wallRuns: number[];
}

/** One timed repetition: steps for at least `seconds`, as samples per wall- and CPU-second. */
export async function timeOnce(step: StepFn, batch: number, seconds: number): Promise<Run> {
  let steps = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < seconds * 1000 || steps < 2) {
    await step();
    steps++;
    t = performance.now();
  }
  const c = process.cpuUsage(c0);
  return { wall: (steps * batch) / ((t - t0) / 1000), cpu: (steps * batch) / ((c.user + c.system) / 1e6) };
}

export async function warmUp(step: StepFn): Promise<void> {
  const end = performance.now() + 300;
  do await step();
  while (performance.now() < end);
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** ||a - b|| / ||b||. */
export function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

/** Median throughput of interleaved repetitions: each repetition times every step once, in turn. */
export async function interleaved(
  steps: readonly StepFn[],
  batch: number,
  reps: number,
  seconds: number,
): Promise<Throughput[]> {
  const runs: Run[][] = steps.map(() => []);
  for (let r = 0; r < reps; r++)
    for (let i = 0; i < steps.length; i++) runs[i].push(await timeOnce(steps[i], batch, seconds));
  return runs.map((rs) => {
    const wallRuns = rs.map((v) => v.wall);
    return { wall: median(wallRuns), cpu: median(rs.map((v) => v.cpu)), wallRuns };
  });
}

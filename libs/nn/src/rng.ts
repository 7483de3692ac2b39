/**
 * Seeded pseudo-random numbers, identical on every platform.
 *
 * Generator: xoshiro128** (Blackman & Vigna, 2018), 32-bit state words, seeded by running
 * splitmix32 over the seed. Only 32-bit integer ops (Math.imul, shifts), so JavaScript engines
 * everywhere produce the same stream. Never Math.random: randomness is passed in explicitly.
 */
export interface Rng {
  /** Next uint32. */
  nextUint32(): number;
  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number;
  /** Standard normal N(0, 1) by Box-Muller (no cached spare, so the stream is easy to replay). */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Snapshot of the state, to resume exactly (checkpoints). */
  state(): [number, number, number, number];
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Create a generator from an integer seed, or resume one from a saved state. */
export function createRng(seed: number | readonly [number, number, number, number]): Rng {
  let s0: number, s1: number, s2: number, s3: number;
  if (typeof seed === 'number') {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    const sm = splitmix32(seed);
    [s0, s1, s2, s3] = [sm(), sm(), sm(), sm()];
  } else {
    [s0, s1, s2, s3] = seed.map((v) => v >>> 0);
  }
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point

  const nextUint32 = (): number => {
    // xoshiro128**: result = rotl(s1 * 5, 7) * 9
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    s0 >>>= 0;
    s1 >>>= 0;
    s2 >>>= 0;
    s3 >>>= 0;
    return r;
  };
  const next = (): number => nextUint32() / 4294967296;
  return {
    nextUint32,
    next,
    normal() {
      // Box-Muller: u1 in (0, 1] so log never sees 0
      const u1 = 1 - next();
      const u2 = next();
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
    int(n: number) {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer n, got ${n}`);
      return Math.floor(next() * n);
    },
    state: () => [s0, s1, s2, s3],
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Fisher-Yates permutation of 0..n-1 drawn from rng. */
export function permutation(n: number, rng: Rng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

import { createRng } from '@nnq/nn';
import { allocLabels, type Dataset } from './dataset';
import type { SyntheticSource } from './source';

/**
 * Built-in synthetic datasets, each a pure function of its source JSON (size, seed, noise, shape
 * parameters). Classification sets label row i with class i mod k, so classes stay balanced.
 */
export function syntheticDataset(source: SyntheticSource): Dataset {
  const rng = createRng(source.seed);
  switch (source.name) {
    case 'xor':
      return classes(source, 2, 2, (i, out) => {
        // corner i mod 4 of the unit square, in truth-table order 00, 01, 10, 11
        const c = i % 4;
        out[0] = (c >> 1) + source.noise * rng.normal();
        out[1] = (c & 1) + source.noise * rng.normal();
        return (c >> 1) ^ (c & 1);
      });
    case 'sine': {
      const { n, min, max, frequency, amplitude, noise } = source;
      const x = new Float32Array(n);
      const y = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        // y = A sin(f x) + noise, x on an evenly spaced grid
        x[i] = n === 1 ? min : min + ((max - min) * i) / (n - 1);
        y[i] = amplitude * Math.sin(frequency * x[i]) + noise * rng.normal();
      }
      return {
        rows: n,
        features: 1,
        featureShape: [1],
        x,
        targets: { kind: 'values', data: y, width: 1 },
        task: 'regression',
        source,
      };
    }
    case 'spirals':
      return classes(source, 2, 2, (i, out) => {
        // r = t, theta = 2 pi turns t + pi c: two arms half a turn apart
        const c = i % 2;
        const t = 0.05 + 0.95 * rng.next();
        const theta = 2 * Math.PI * source.turns * t + Math.PI * c;
        out[0] = t * Math.cos(theta) + source.noise * rng.normal();
        out[1] = t * Math.sin(theta) + source.noise * rng.normal();
        return c;
      });
    case 'blobs': {
      const { centers, features, spread } = source;
      const mu = new Float64Array(centers * features);
      for (let j = 0; j < mu.length; j++) mu[j] = -5 + 10 * rng.next();
      return classes(source, centers, features, (i, out) => {
        const c = i % centers;
        for (let j = 0; j < features; j++) {
          out[j] = mu[c * features + j] + spread * rng.normal() + source.noise * rng.normal();
        }
        return c;
      });
    }
    case 'circles':
      return classes(source, 2, 2, (i, out) => {
        // class 0 on the unit circle, class 1 on the circle of radius factor
        const c = i % 2;
        const r = c === 0 ? 1 : source.factor;
        const theta = 2 * Math.PI * rng.next();
        out[0] = r * Math.cos(theta) + source.noise * rng.normal();
        out[1] = r * Math.sin(theta) + source.noise * rng.normal();
        return c;
      });
  }
}

/** Fill a classification set row by row; `point` writes x into out and returns the class. */
function classes(
  source: SyntheticSource & { task: 'classification' | 'regression' },
  k: number,
  features: number,
  point: (i: number, out: Float64Array) => number,
): Dataset {
  const n = source.n;
  const x = new Float32Array(n * features);
  const labels = allocLabels(n, k);
  const out = new Float64Array(features);
  for (let i = 0; i < n; i++) {
    labels[i] = point(i, out);
    x.set(out, i * features);
  }
  const base = { rows: n, features, featureShape: [features], x, source };
  if (source.task === 'regression') {
    // one numeric target: the class index
    return { ...base, task: 'regression', targets: { kind: 'values', data: Float32Array.from(labels), width: 1 } };
  }
  return {
    ...base,
    task: 'classification',
    classes: Array.from({ length: k }, (_, c) => String(c)),
    targets: { kind: 'labels', data: labels, width: k },
  };
}

import type { OptimizerConfig, OptimizerType } from './optimizers';

/**
 * The update rules, each written twice side by side: the reference loop in JavaScript (double
 * arithmetic on float32 loads, one float32 store per slot) and the same formula as a program for
 * the WebAssembly kernel (update-kernel.ts), which runs it two lanes at a time in f64x2. The two
 * make the same IEEE double operations in the same order and round to float32 at the same
 * stores, so they give the same bytes (optimizers.spec.ts checks it bitwise).
 *
 * In every rule g is the gradient after scaling and clipping (c = gradScale * clip factor) and,
 * except for AdamW, L2 weight decay: g = c grad + wd p.
 */

// ---------------------------------------------------------------------------------------------
// Programs: per element, a few named doubles and the slots stored
// ---------------------------------------------------------------------------------------------

/** The vectors a rule reads: params, grad and up to two optimizer slots. */
export const P = 0;
export const G = 1;
export const A = 2;
export const B = 3;

export type Expr =
  | { k: number } // the rule's term k (a double, the same for every element)
  | { load: number } // the element of vector P, G, A or B, widened to double
  | { ref: string } // a named double computed before
  | { op: '+' | '-' | '*' | '/'; a: Expr; b: Expr }
  | { sqrt: Expr };
export type Stmt = { let: string; e: Expr } | { store: number; e: Expr };

const k = (i: number): Expr => ({ k: i });
const load = (v: number): Expr => ({ load: v });
const ref = (name: string): Expr => ({ ref: name });
const add = (a: Expr, b: Expr): Expr => ({ op: '+', a, b });
const sub = (a: Expr, b: Expr): Expr => ({ op: '-', a, b });
const mul = (a: Expr, b: Expr): Expr => ({ op: '*', a, b });
const div = (a: Expr, b: Expr): Expr => ({ op: '/', a, b });
const sqrt = (e: Expr): Expr => ({ sqrt: e });

/**
 * A vector range [from, to) of one update, with the rule's terms. Returns the sum of p - p over
 * the float32 parameters stored: 0 when every one is finite, NaN otherwise (the kernel's check).
 */
type Loop = (
  p: Float32Array,
  grad: Float32Array,
  a: Float32Array,
  b: Float32Array,
  k: readonly number[],
  from: number,
  to: number,
) => number;

export interface Rule {
  /** The terms the program reads as k(i), from the config, the update count t = step + 1 and lr. */
  terms(config: OptimizerConfig, t: number, lr: number, c: number): number[];
  /** The reference loop. */
  loop: Loop;
  /** The same arithmetic for the kernel. */
  program: Stmt[];
}

// the decayed gradient g = c grad + wd p, shared by every rule (k(0) = c, k(1) = wd)
const param = ref('p');
const decayedGrad = ref('g');
const decayed: Stmt[] = [
  { let: 'p', e: load(P) },
  { let: 'g', e: add(mul(k(0), load(G)), mul(k(1), param)) },
];

/** SGD: p <- p - lr g.  Terms [c, wd, lr]. */
const sgd: Rule = {
  terms: (config, _t, lr, c) => [c, config.weightDecay, lr],
  loop(params, grad, _a, _b, [c, wd, lr], from, to) {
    let z = 0;
    for (let i = from; i < to; i++) {
      const p = params[i];
      const g = c * grad[i] + wd * p;
      const q = (params[i] = Math.fround(p - lr * g));
      z += q - q;
    }
    return z;
  },
  program: [...decayed, { store: P, e: sub(param, mul(k(2), decayedGrad)) }],
};

/** Heavy ball (Polyak 1964), PyTorch form: v <- mu v + g;  p <- p - lr v.  Terms [c, wd, mu, lr]. */
const momentum: Rule = {
  terms: (config, _t, lr, c) => [c, config.weightDecay, (config as { momentum: number }).momentum, lr],
  loop(params, grad, v, _b, [c, wd, mu, lr], from, to) {
    let z = 0;
    for (let i = from; i < to; i++) {
      const p = params[i];
      const g = c * grad[i] + wd * p;
      const vi = mu * v[i] + g;
      v[i] = vi;
      const q = (params[i] = Math.fround(p - lr * vi));
      z += q - q;
    }
    return z;
  },
  program: [
    ...decayed,
    { let: 'v', e: add(mul(k(2), load(A)), decayedGrad) },
    { store: A, e: ref('v') },
    { store: P, e: sub(param, mul(k(3), ref('v'))) },
  ],
};

/**
 * Nesterov momentum (Nesterov 1983; Sutskever et al. 2013), PyTorch form:
 * v <- mu v + g;  p <- p - lr (g + mu v).  Terms [c, wd, mu, lr].
 */
const nesterov: Rule = {
  terms: momentum.terms,
  loop(params, grad, v, _b, [c, wd, mu, lr], from, to) {
    let z = 0;
    for (let i = from; i < to; i++) {
      const p = params[i];
      const g = c * grad[i] + wd * p;
      const vi = mu * v[i] + g;
      v[i] = vi;
      const q = (params[i] = Math.fround(p - lr * (g + mu * vi)));
      z += q - q;
    }
    return z;
  },
  program: [
    ...decayed,
    { let: 'v', e: add(mul(k(2), load(A)), decayedGrad) },
    { store: A, e: ref('v') },
    { store: P, e: sub(param, mul(k(3), add(decayedGrad, mul(k(2), ref('v'))))) },
  ],
};

/**
 * Adam (Kingma & Ba 2015, Algorithm 1), t = step + 1:
 *   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr * mhat / (sqrt(vhat) + eps),  mhat = m / (1 - b1^t),  vhat = v / (1 - b2^t)
 * in Kingma & Ba's cheaper order (section 2): one sqrt and one division,
 *   p <- p - alpha m / (sqrt(v) + epsHat), alpha = lr sqrt(1 - b2^t) / (1 - b1^t), epsHat = eps sqrt(1 - b2^t)
 * AdamW (Loshchilov & Hutter 2019) decays decoupled from g: p <- p - (alpha m / (...) + lr wd p).
 * Terms [c, l2, b1, 1 - b1, b2, 1 - b2, alpha, epsHat, lr * decoupled wd].
 */
const adam: Rule = {
  terms(config, t, lr, c) {
    const { beta1: b1, beta2: b2, epsilon: eps } = config as { beta1: number; beta2: number; epsilon: number };
    const sqrtBc2 = Math.sqrt(1 - Math.pow(b2, t));
    const alpha = (lr * sqrtBc2) / (1 - Math.pow(b1, t));
    const l2 = config.type === 'adam' ? config.weightDecay : 0;
    const decay = lr * (config.type === 'adamw' ? config.weightDecay : 0);
    return [c, l2, b1, 1 - b1, b2, 1 - b2, alpha, eps * sqrtBc2, decay];
  },
  loop(params, grad, m, v, [c, l2, b1, a1, b2, a2, alpha, epsHat, decay], from, to) {
    let z = 0;
    for (let i = from; i < to; i++) {
      const p = params[i];
      const g = c * grad[i] + l2 * p;
      const mi = b1 * m[i] + a1 * g;
      const vi = b2 * v[i] + a2 * g * g;
      m[i] = mi;
      v[i] = vi;
      const q = (params[i] = Math.fround(p - ((alpha * mi) / (Math.sqrt(vi) + epsHat) + decay * p)));
      z += q - q;
    }
    return z;
  },
  program: [
    ...decayed,
    { let: 'm', e: add(mul(k(2), load(A)), mul(k(3), decayedGrad)) },
    { let: 'v', e: add(mul(k(4), load(B)), mul(mul(k(5), decayedGrad), decayedGrad)) },
    { store: A, e: ref('m') },
    { store: B, e: ref('v') },
    { store: P, e: sub(param, add(div(mul(k(6), ref('m')), add(sqrt(ref('v')), k(7))), mul(k(8), param))) },
  ],
};

/**
 * RMSProp (Hinton, Neural Networks for Machine Learning, lecture 6e):
 * s <- rho s + (1 - rho) g^2;  p <- p - lr g / (sqrt(s) + eps).  Terms [c, wd, rho, 1 - rho, lr, eps].
 */
const rmsprop: Rule = {
  terms(config, _t, lr, c) {
    const { rho, epsilon } = config as { rho: number; epsilon: number };
    return [c, config.weightDecay, rho, 1 - rho, lr, epsilon];
  },
  loop(params, grad, s, _b, [c, wd, rho, a, lr, eps], from, to) {
    let z = 0;
    for (let i = from; i < to; i++) {
      const p = params[i];
      const g = c * grad[i] + wd * p;
      const si = rho * s[i] + a * g * g;
      s[i] = si;
      const q = (params[i] = Math.fround(p - (lr * g) / (Math.sqrt(si) + eps)));
      z += q - q;
    }
    return z;
  },
  program: [
    ...decayed,
    { let: 's', e: add(mul(k(2), load(A)), mul(mul(k(3), decayedGrad), decayedGrad)) },
    { store: A, e: ref('s') },
    { store: P, e: sub(param, div(mul(k(4), decayedGrad), add(sqrt(ref('s')), k(5)))) },
  ],
};

export const RULES: Record<OptimizerType, Rule> = { sgd, momentum, nesterov, adam, adamw: adam, rmsprop };

import { createRng } from '@nnq/nn';
import { samplePrior, trialSeed, type Parameter, type TrialParams } from './search-space';

/**
 * Random search (Bergstra & Bengio 2012): trial k draws every parameter from its prior with a
 * generator seeded by (sweep seed, k), so trial k is the same whatever ran before it.
 */
export function sampleRandom(space: Record<string, Parameter>, seed: number, k: number): TrialParams {
  const rng = createRng(trialSeed(seed, k));
  const out: TrialParams = {};
  for (const [path, p] of Object.entries(space)) out[path] = samplePrior(p, rng);
  return out;
}

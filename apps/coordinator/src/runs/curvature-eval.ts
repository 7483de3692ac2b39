import type { Logger } from '@nestjs/common';
import { curvatureHook, type CurvatureSignal, type RunConfig, type RunCurvature, type RunSetup } from '@nnq/training';
import type { StepStrategy } from '../steps/step-strategy';

/**
 * evaluation.curvature on the coordinator (libs/training curvature-signal.ts): at the first
 * evaluation of a version, the top Hessian eigenvalue and trace estimate of the training loss on
 * the run's fixed batch, computed in-process with libs/nn's float64 H v at the parameters the
 * step strategy holds for that version (the same bytes as trainLocal's, so the same numbers). The
 * cost is capped at submission (curvatureProblems); between products the event loop runs.
 */
export class CurvatureEval {
  private readonly hook: RunCurvature | null;

  constructor(
    config: RunConfig,
    setup: RunSetup,
    private readonly logger: Logger,
  ) {
    this.hook = curvatureHook(config, setup);
  }

  /** The numbers for the evaluation entry of `version` ({} when off or already given at it). */
  async at(version: number, steps: Pick<StepStrategy, 'pull'>): Promise<Partial<CurvatureSignal>> {
    if (!this.hook?.due(version)) return {};
    const start = performance.now();
    const out = await this.hook.once(version, (await steps.pull(version)).params);
    this.logger.debug(`curvature at step ${version}: ${Math.round(performance.now() - start)} ms`);
    return out;
  }
}

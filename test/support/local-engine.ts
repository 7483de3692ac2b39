import { createTrainingEngine } from '@nnq/engine-onnx';
import type { LocalEngineFactory } from '@nnq/training';

/**
 * trainLocal's engine in libs/training's own specs, which may not import an engine (eslint.config.mjs):
 * the workers' engine, onnxruntime when it loads, else libs/nn's reference backprop.
 */
export const localEngine: LocalEngineFactory = (spec) => createTrainingEngine(spec);

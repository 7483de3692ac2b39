/**
 * @nnq/engine-onnx: libs/nn networks compiled into ONNX graphs (forward + hand-derived backward)
 * and run on onnxruntime-node, the workers' fast path.
 */
export { OPSET } from './graph';
export { buildTrainingGraph, flatSlots, type FlatSlot, type ParamFeed, type TrainingGraph } from './training-graph';
export { compileTrainingStep, OnnxTrainingStep, type StepResult, type TrainingStepOptions } from './training-step';
export {
  buildForwardModel,
  compileForward,
  exportOnnx,
  OnnxForward,
  predict,
  FORWARD_INPUT,
  FORWARD_OUTPUT,
  type ExportOptions,
  type Preprocess,
} from './forward';
export { exportOnnxModel, type OnnxModelInputs } from './onnx-model';
export { createTrainingEngine, type EngineKind, type TrainingEngine, type TrainingEngineOptions } from './engine';
export { importOrt, sessionOptions, type Ort, type SessionConfig } from './ort';
export { buildCurvatureGraph, type CurvatureGraph, type CurvatureKind } from './hessian-graph';
export { OnnxCurvature } from './curvature-step';

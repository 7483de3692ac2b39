import { nnqVersion } from '@nnq/cluster';
import { exportOnnxModel } from '@nnq/engine-onnx';
import { readModel } from '@nnq/nn';
import { onnxExportInputs } from '@nnq/training';

/**
 * A run's model file (safetensors) as an ONNX model for use outside nnq (GET /runs/:id/model.onnx,
 * GET /sweeps/:id/model.onnx): the preprocessing folded in, documented input and output, metadata
 * (nnq version, run id, spec). The same bytes as `nnq export --onnx` of the model file.
 */
export function modelOnnx(model: Uint8Array, runId: string): Uint8Array {
  const version = nnqVersion();
  return exportOnnxModel({
    ...onnxExportInputs(readModel(model), { nnqVersion: version, runId }),
    producerVersion: version,
  });
}

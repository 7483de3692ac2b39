import { nnqVersion } from '@nnq/cluster';
import { version as ortVersion } from 'onnxruntime-node/package.json';

/**
 * The tag a shard result carries (@nnq/protocol shard-result.ts): the engine that computed it and
 * its version. The ONNX engine's bytes follow onnxruntime's version; the reference engine's, nnq's.
 */
export function engineTag(kind: string): string {
  return kind === 'onnx' ? `onnxruntime ${ortVersion}` : `${kind} nnq ${nnqVersion()}`.slice(0, 24);
}

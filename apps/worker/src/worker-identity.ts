/** Who this worker is; `engine` reports the compute path in use (onnx, or reference after a fallback). */
export interface WorkerIdentity {
  id: string;
  version: string;
  engine(): string;
}
export const WORKER_IDENTITY = Symbol('WORKER_IDENTITY');

/**
 * The lecture's XOR network (xor.ts) in float32, for libs/engine-onnx's specs: its spec, its
 * solution, the four inputs and their targets, as the ONNX engine takes them.
 */
import type { NetworkSpecInput } from '@nnq/nn';
import * as xor from './xor';

export const XOR_SPEC: NetworkSpecInput = xor.XOR_SPEC;
export const XOR_PARAMS = Float32Array.from(xor.XOR_PARAMS);
export const XOR_X = Float32Array.from(xor.XOR_X);
export const XOR_Y = Float32Array.from(xor.XOR_Y);

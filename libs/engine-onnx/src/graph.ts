import { onnx } from 'onnx-proto';

/**
 * A small builder for ONNX graphs over the protobufjs messages of `onnx-proto`.
 *
 * Every graph of this package uses one opset: ai.onnx 17 (ReduceSum takes its axes as an input,
 * ReduceMin/ReduceMax still as an attribute; Softmax/LogSoftmax act on one axis).
 */
export const OPSET = 17;
/** IR version 8 is what onnx-proto (ONNX 1.10) writes; onnxruntime 1.30 reads IR <= 10. */
export const IR_VERSION = 8;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const BOOL = onnx.TensorProto.DataType.BOOL;

/** A float attribute (plain numbers are INT attributes). */
export interface FloatAttr {
  readonly f: number;
}
export type AttrValue = number | readonly number[] | FloatAttr | string;

/** A dimension: a fixed size or a symbolic name such as 'batch'. */
export type Dim = number | string;

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly scalars = new Map<string, string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  /** Declare a float32 graph input. */
  input(name: string, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  /** Declare a float32 graph output (a value some node already produces). */
  output(name: string, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /** Append one node; returns the name of its (single) output, `out` or a fresh name. */
  op(type: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    const output = out ?? this.fresh(type);
    this.nodes.push({
      opType: type,
      name: `${output}_${type}`,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** A node with several outputs (e.g. Split); returns the given names. */
  opMulti(
    type: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs: Record<string, AttrValue> = {},
  ): string[] {
    this.nodes.push({
      opType: type,
      name: `${outputs[0]}_${type}`,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return [...outputs];
  }

  /** A float32 scalar constant (deduplicated), broadcast by the element-wise ops. */
  scalar(value: number): string {
    const key = Object.is(value, -0) ? '-0' : String(value);
    let name = this.scalars.get(key);
    if (!name) {
      name = this.fresh('c');
      this.initializers.push(floatTensor(name, Float32Array.of(value), []));
      this.scalars.set(key, name);
    }
    return name;
  }

  /** An int64 1-D constant (axes, split sizes, slice bounds). */
  int64s(values: readonly number[]): string {
    const name = this.fresh('i');
    this.initializers.push({ name, dataType: INT64, dims: [values.length], int64Data: [...values] });
    return name;
  }

  /** A float32 initializer (weights, masks). */
  initializer(name: string, data: Float32Array, dims: readonly number[]): string {
    this.initializers.push(floatTensor(name, data, dims));
    return name;
  }

  /** A bool initializer (one byte per value, nonzero = true). */
  boolInitializer(name: string, data: ArrayLike<number>, dims: readonly number[]): string {
    this.initializers.push({
      name,
      dataType: BOOL,
      dims: [...dims],
      rawData: Uint8Array.from(data, (v) => (v ? 1 : 0)),
    });
    return name;
  }

  /** Serialise as a ModelProto. */
  toModel(docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'nnq-engine-onnx',
      docString,
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  /** A fresh value name (for nodes with several outputs and for initializers). */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }
}

function valueInfo(name: string, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: [...(v as readonly number[])] };
  return { name, type: T.FLOAT, f: (v as FloatAttr).f };
}

/** Little-endian raw bytes (the host is little-endian on every platform onnxruntime-node ships for). */
function floatTensor(name: string, data: Float32Array, dims: readonly number[]): onnx.ITensorProto {
  const raw = new Uint8Array(data.byteLength);
  raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { name, dataType: FLOAT, dims: [...dims], rawData: raw };
}

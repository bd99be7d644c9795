// A tiny ONNX graph (one 3x3 convolution) written byte by byte, so that checking which
// execution providers start costs milliseconds and needs no bundle: a provider that builds
// engines per graph (TensorRT) would spend minutes on a real stage graph.

/** Probe tensors: x float32[1,3,8,8] -> Conv(w float32[4,3,3,3], no padding) -> y float32[1,4,6,6]. */
export const PROBE_INPUT_DIMS = [1, 3, 8, 8] as const;
export const PROBE_OUTPUT_DIMS = [1, 4, 6, 6] as const;
const WEIGHT_DIMS = [4, 3, 3, 3] as const;

const IR_VERSION = 8;
const OPSET = 17;
const FLOAT = 1; // TensorProto.DataType.FLOAT

// Eighths of small integers: every product and sum is exact in float32, and in TF32 too,
// so a GPU provider must reproduce the reference to the last bit or be broken.
export function probeInput(): Float32Array {
  const [, c, h, w] = PROBE_INPUT_DIMS;
  return Float32Array.from({ length: c * h * w }, (_, i) => ((i * 5) % 7 - 3) / 8);
}

export function probeWeights(): Float32Array {
  const n = WEIGHT_DIMS.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => ((i * 3) % 5 - 2) / 8);
}

/** The convolution computed in JavaScript: what every provider must return. */
export function probeExpected(): Float32Array {
  const x = probeInput();
  const wt = probeWeights();
  const [, cin, h, w] = PROBE_INPUT_DIMS;
  const [, cout, oh, ow] = PROBE_OUTPUT_DIMS;
  const y = new Float32Array(cout * oh * ow);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let sum = 0;
        for (let c = 0; c < cin; c++) {
          for (let di = 0; di < 3; di++) {
            for (let dj = 0; dj < 3; dj++) {
              sum += x[(c * h + i + di) * w + j + dj]! * wt[((o * cin + c) * 3 + di) * 3 + dj]!;
            }
          }
        }
        y[(o * oh + i) * ow + j] = sum;
      }
    }
  }
  return y;
}

// Protocol-buffer wire format: a key is (field << 3 | wire type); 0 = varint, 2 = bytes.
function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function intField(field: number, value: number): number[] {
  return [...varint(field << 3), ...varint(value)];
}

function bytesField(field: number, bytes: ArrayLike<number>): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...Array.from(bytes)];
}

function stringField(field: number, text: string): number[] {
  return bytesField(field, new TextEncoder().encode(text));
}

// ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: {elem_type=1, shape=2: {dim=1: {dim_value=1}}}}}
function valueInfo(name: string, dims: readonly number[]): number[] {
  const shape = dims.flatMap((d) => bytesField(1, intField(1, d)));
  const tensorType = [...intField(1, FLOAT), ...bytesField(2, shape)];
  return [...stringField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

/** ModelProto bytes of the probe graph. */
export function probeModel(): Uint8Array {
  const weights = probeWeights();
  // TensorProto{dims=1, data_type=2, name=8, raw_data=9 (little-endian float32)}
  const initializer = [
    ...WEIGHT_DIMS.flatMap((d) => intField(1, d)),
    ...intField(2, FLOAT),
    ...stringField(8, 'w'),
    ...bytesField(9, new Uint8Array(new Float32Array(weights).buffer)),
  ];
  // NodeProto{input=1, output=2, name=3, op_type=4}
  const node = [...stringField(1, 'x'), ...stringField(1, 'w'), ...stringField(2, 'y'), ...stringField(3, 'conv'), ...stringField(4, 'Conv')];
  // GraphProto{node=1, name=2, initializer=5, input=11, output=12}
  const graph = [
    ...bytesField(1, node),
    ...stringField(2, 'provider-probe'),
    ...bytesField(5, initializer),
    ...bytesField(11, valueInfo('x', PROBE_INPUT_DIMS)),
    ...bytesField(12, valueInfo('y', PROBE_OUTPUT_DIMS)),
  ];
  // ModelProto{ir_version=1, producer_name=2, graph=7, opset_import=8: {version=2}}
  return Uint8Array.from([
    ...intField(1, IR_VERSION),
    ...stringField(2, 'adpc-edge'),
    ...bytesField(7, graph),
    ...bytesField(8, intField(2, OPSET)),
  ]);
}

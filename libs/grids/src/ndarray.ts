/** Row-major (numpy C-order) n-dimensional arrays, the common currency of every reader and writer. */

export type DType = 'float32' | 'float64' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'int32' | 'uint32';

export type TypedArray =
  Float32Array | Float64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Uint32Array;

export interface NdArray<T extends TypedArray = TypedArray> {
  /** numpy shape: [rows, cols], [depth, rows, cols], optionally followed by a variable axis. */
  shape: number[];
  dtype: DType;
  data: T;
  /**
   * Whether the last axis holds variables. TIFF knows it (samples per pixel); NPY and JSON do not,
   * and leave it undefined so that the caller decides (G2S: the last axis is variables when -dt lists more than one type).
   */
  lastAxisIsVariables?: boolean;
}

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float64: 8,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  int32: 4,
  uint32: 4,
};

export function allocate(dtype: DType, length: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'uint8':
      return new Uint8Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'uint16':
      return new Uint16Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'uint32':
      return new Uint32Array(length);
  }
}

export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int32Array) return 'int32';
  return 'uint32';
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function ndarray<T extends TypedArray>(shape: number[], data: T): NdArray<T> {
  if (sizeOf(shape) !== data.length) {
    throw new Error(
      `shape [${shape.join(', ')}] holds ${sizeOf(shape)} values but the data has ${data.length}`,
    );
  }
  return { shape: [...shape], dtype: dtypeOf(data), data };
}

/** A float32 copy (NaN kept), which is what the QS engine works on. */
export function toFloat32(a: NdArray): Float32Array {
  if (a.data instanceof Float32Array) return a.data;
  return Float32Array.from(a.data as ArrayLike<number>);
}

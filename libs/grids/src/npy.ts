/** NumPy .npy files (format versions 1, 2 and 3), the main exchange format with G2S users. */
import { BYTES_PER_ELEMENT, DType, NdArray, TypedArray, allocate, sizeOf } from './ndarray';
import { GridFileError } from './errors';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR_TO_DTYPE: Record<string, DType> = {
  f4: 'float32',
  f8: 'float64',
  u1: 'uint8',
  i1: 'int8',
  b1: 'uint8',
  u2: 'uint16',
  i2: 'int16',
  i4: 'int32',
  u4: 'uint32',
};

const DTYPE_TO_DESCR: Record<DType, string> = {
  float32: '<f4',
  float64: '<f8',
  uint8: '|u1',
  int8: '|i1',
  uint16: '<u2',
  int16: '<i2',
  int32: '<i4',
  uint32: '<u4',
};

export function parseNpy(bytes: Uint8Array, file = '<npy>'): NdArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new GridFileError(file, 'not an NPY file (the \\x93NUMPY magic is missing)');
  }
  const major = bytes[6];
  let headerLength: number;
  let headerStart: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new GridFileError(file, 'truncated NPY header');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new GridFileError(file, `unsupported NPY format version ${major}.${bytes[7]}`);
  }
  if (headerStart + headerLength > bytes.length) throw new GridFileError(file, 'truncated NPY header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, headerStart + headerLength),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new GridFileError(file, `malformed NPY header: ${header.trim()}`);
  }
  const order = descr[0];
  const dtype = DESCR_TO_DTYPE[descr.slice(1)];
  if (!dtype || !'<>|='.includes(order)) {
    throw new GridFileError(
      file,
      `unsupported NPY dtype '${descr}'; dqs reads float32, float64, uint8, int8, uint16, int16, int32, uint32 and bool`,
    );
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new GridFileError(file, `malformed NPY shape (${shapeText})`);
  }
  const count = sizeOf(shape);
  const itemSize = BYTES_PER_ELEMENT[dtype];
  const dataStart = headerStart + headerLength;
  const needed = count * itemSize;
  if (bytes.length - dataStart < needed) {
    throw new GridFileError(
      file,
      `truncated NPY data: shape (${shape.join(', ')}) needs ${needed} bytes, the file has ${bytes.length - dataStart}`,
    );
  }
  const data = allocate(dtype, count);
  const out = new Uint8Array(data.buffer);
  out.set(bytes.subarray(dataStart, dataStart + needed));
  if (order === '>' && itemSize > 1) swapBytes(out, itemSize);
  const array: NdArray = { shape, dtype, data };
  return fortran === 'True' ? fortranToC(array) : array;
}

export function serializeNpy(array: NdArray): Uint8Array {
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${DTYPE_TO_DESCR[array.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const body = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(body, 10 + header.length);
  return out;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** Fortran (column-major) data in C order, so that every grid in dqs is row-major. */
function fortranToC(array: NdArray): NdArray {
  const { shape } = array;
  const n = shape.length;
  if (n <= 1) return array;
  const src = array.data;
  const dst = allocate(array.dtype, src.length) as TypedArray;
  const fStrides = new Array<number>(n);
  let s = 1;
  for (let d = 0; d < n; d++) {
    fStrides[d] = s;
    s *= shape[d];
  }
  const idx = new Array<number>(n).fill(0);
  for (let c = 0; c < src.length; c++) {
    let f = 0;
    for (let d = 0; d < n; d++) f += idx[d] * fStrides[d];
    dst[c] = src[f];
    for (let d = n - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape: [...shape], dtype: array.dtype, data: dst };
}

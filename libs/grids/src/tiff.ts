/**
 * TIFF grids. Reading goes through utif2 (any baseline compression); each page is a slice of a 3D grid and
 * several samples per pixel become a last axis. Writing is uncompressed baseline TIFF, one strip per page.
 */
import * as UTIF from 'utif2';
import { DType, NdArray, allocate } from './ndarray';
import { GridFileError } from './errors';

interface Ifd {
  [tag: string]: unknown;
  width?: number;
  height?: number;
  data?: Uint8Array;
}

function tag(ifd: Ifd, id: number, fallback?: number): number[] {
  const v = ifd[`t${id}`] as number[] | undefined;
  if (v === undefined) {
    if (fallback === undefined) throw new Error(`missing TIFF tag ${id}`);
    return [fallback];
  }
  return v;
}

function sampleDType(format: number, bits: number): DType | undefined {
  if (format === 3 && bits === 32) return 'float32';
  if (format === 3 && bits === 64) return 'float64';
  if (format === 1 && bits === 8) return 'uint8';
  if (format === 1 && bits === 16) return 'uint16';
  if (format === 1 && bits === 32) return 'uint32';
  if (format === 2 && bits === 8) return 'int8';
  if (format === 2 && bits === 16) return 'int16';
  if (format === 2 && bits === 32) return 'int32';
  return undefined;
}

export interface TiffGrid extends NdArray {
  /** Samples per pixel as stored (1 when the file has no sample axis). */
  samplesPerPixel: number;
  pages: number;
}

export function parseTiff(bytes: Uint8Array, file = '<tiff>'): TiffGrid {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const order = String.fromCharCode(bytes[0] ?? 0, bytes[1] ?? 0);
  if (order !== 'II' && order !== 'MM')
    throw new GridFileError(file, 'not a TIFF file (no II/MM byte-order mark)');
  const little = order === 'II';
  let ifds: Ifd[];
  try {
    ifds = (UTIF.decode(buffer) as unknown as Ifd[]).filter((d) => d.t256 !== undefined);
  } catch (e) {
    throw new GridFileError(
      file,
      `unreadable TIFF structure (${(e as Error).message}); is the file truncated?`,
    );
  }
  if (ifds.length === 0) throw new GridFileError(file, 'the TIFF holds no image (is the file truncated?)');
  let width = 0;
  let height = 0;
  let spp = 0;
  let dtype: DType | undefined;
  const pages: Uint8Array[] = [];
  for (const [p, ifd] of ifds.entries()) {
    let w: number, h: number, s: number, bits: number[], format: number[], planar: number;
    try {
      w = tag(ifd, 256)[0];
      h = tag(ifd, 257)[0];
      s = tag(ifd, 277, 1)[0];
      bits = tag(ifd, 258, 1);
      format = tag(ifd, 339, 1);
      planar = tag(ifd, 284, 1)[0];
    } catch (e) {
      throw new GridFileError(file, `page ${p}: ${(e as Error).message}`);
    }
    const dt = sampleDType(format[0], bits[0]);
    if (!dt || bits.some((b) => b !== bits[0]) || format.some((f) => f !== format[0])) {
      throw new GridFileError(
        file,
        `page ${p}: unsupported sample type (format ${format.join('/')}, ${bits.join('/')} bits); ` +
          'dqs reads float32/float64, 8/16/32-bit unsigned and signed integer samples',
      );
    }
    if (p === 0) {
      width = w;
      height = h;
      spp = s;
      dtype = dt;
    } else if (w !== width || h !== height || s !== spp || dt !== dtype) {
      throw new GridFileError(
        file,
        `page ${p} is ${h}x${w}x${s} ${dt}, page 0 is ${height}x${width}x${spp} ${dtype}`,
      );
    }
    // utif2 zero-fills strips that run past the end of the file: check them first
    const offsets = (ifd.t273 ?? ifd.t324) as number[] | undefined;
    const counts = (ifd.t279 ?? ifd.t325) as number[] | undefined;
    if (offsets && counts) {
      for (let i = 0; i < offsets.length; i++) {
        if (offsets[i] + (counts[i] ?? 0) > bytes.length) {
          throw new GridFileError(
            file,
            `page ${p}: truncated pixel data (strip ${i} ends at byte ${offsets[i] + counts[i]}, the file has ${bytes.length})`,
          );
        }
      }
    }
    try {
      UTIF.decodeImage(buffer, ifd as unknown as UTIF.IFD);
    } catch (e) {
      throw new GridFileError(file, `page ${p}: cannot decode pixels (${(e as Error).message})`);
    }
    const raw = ifd.data;
    const need = w * h * s * (bits[0] / 8);
    if (!raw || raw.length < need) {
      throw new GridFileError(file, `page ${p}: truncated pixel data (${raw?.length ?? 0} of ${need} bytes)`);
    }
    pages.push(planar === 2 ? interleavePlanes(raw, w * h, s, bits[0] / 8) : raw.subarray(0, need));
  }
  const dt = dtype!;
  const perPage = width * height * spp;
  const data = allocate(dt, perPage * pages.length);
  const size = data.BYTES_PER_ELEMENT;
  const out = new DataView(data.buffer);
  pages.forEach((raw, p) => {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < perPage; i++) {
      const o = i * size;
      const at = (p * perPage + i) * size;
      switch (dt) {
        case 'float32':
          out.setFloat32(at, view.getFloat32(o, little), true);
          break;
        case 'float64':
          out.setFloat64(at, view.getFloat64(o, little), true);
          break;
        case 'uint16':
        case 'int16':
          out.setUint16(at, view.getUint16(o, little), true);
          break;
        case 'uint32':
        case 'int32':
          out.setUint32(at, view.getUint32(o, little), true);
          break;
        default:
          out.setUint8(at, view.getUint8(o));
      }
    }
  });
  const shape = [...(pages.length > 1 ? [pages.length] : []), height, width, ...(spp > 1 ? [spp] : [])];
  return { shape, dtype: dt, data, samplesPerPixel: spp, pages: pages.length };
}

function interleavePlanes(raw: Uint8Array, pixels: number, spp: number, size: number): Uint8Array {
  const out = new Uint8Array(pixels * spp * size);
  for (let s = 0; s < spp; s++) {
    for (let i = 0; i < pixels; i++) {
      for (let b = 0; b < size; b++) out[(i * spp + s) * size + b] = raw[(s * pixels + i) * size + b];
    }
  }
  return out;
}

const FORMAT_OF: Record<DType, [number, number]> = {
  float32: [3, 32],
  float64: [3, 64],
  uint8: [1, 8],
  uint16: [1, 16],
  uint32: [1, 32],
  int8: [2, 8],
  int16: [2, 16],
  int32: [2, 32],
};

/**
 * Writes [rows, cols], [rows, cols, samples] or, with `pages`, [pages, rows, cols(, samples)] as little-endian,
 * uncompressed TIFF. `samples` tells whether the last axis is samples per pixel.
 */
export function serializeTiff(array: NdArray, options: { samples?: boolean } = {}): Uint8Array {
  const shape = [...array.shape];
  const spp = options.samples && shape.length >= 3 ? shape.pop()! : 1;
  if (shape.length === 1) shape.unshift(1);
  if (shape.length > 3) {
    throw new Error(`cannot write a ${array.shape.length}-axis array as TIFF; use NPY`);
  }
  const pages = shape.length === 3 ? shape[0] : 1;
  const [height, width] = shape.slice(-2);
  const [format, bits] = FORMAT_OF[array.dtype];
  const bytesPerPage = width * height * spp * (bits / 8);
  const entries = 11;
  const ifdSize = 2 + entries * 12 + 4;
  const extra = spp > 1 ? 2 * spp * 2 : 0; // the BitsPerSample and SampleFormat arrays
  const pageHeader = ifdSize + extra;
  const total = 8 + pages * (pageHeader + bytesPerPage);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  v.setUint16(2, 42, true);
  v.setUint32(4, 8, true);
  const src = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  let at = 8;
  for (let p = 0; p < pages; p++) {
    const ifd = at;
    const arrays = ifd + ifdSize;
    const dataAt = arrays + extra;
    const next = p + 1 < pages ? dataAt + bytesPerPage : 0;
    let e = ifd + 2;
    v.setUint16(ifd, entries, true);
    const put = (id: number, type: number, count: number, value: number) => {
      v.setUint16(e, id, true);
      v.setUint16(e + 2, type, true);
      v.setUint32(e + 4, count, true);
      if (type === 3 && count === 2) {
        // two shorts fit in the entry itself (TIFF 6.0): both hold the same value here
        v.setUint16(e + 8, value, true);
        v.setUint16(e + 10, value, true);
      } else if (type === 3 && count === 1) v.setUint16(e + 8, value, true);
      else v.setUint32(e + 8, value, true);
      e += 12;
    };
    const shortArray = (offset: number, value: number) => {
      for (let s = 0; s < spp; s++) v.setUint16(offset + 2 * s, value, true);
      return offset;
    };
    put(256, 4, 1, width);
    put(257, 4, 1, height);
    put(258, 3, spp, spp > 2 ? shortArray(arrays, bits) : bits);
    put(259, 3, 1, 1);
    put(262, 3, 1, 1);
    put(273, 4, 1, dataAt);
    put(277, 3, 1, spp);
    put(278, 4, 1, height);
    put(279, 4, 1, bytesPerPage);
    put(284, 3, 1, 1);
    put(339, 3, spp, spp > 2 ? shortArray(arrays + 2 * spp, format) : format);
    v.setUint32(e, next, true);
    out.set(src.subarray(p * bytesPerPage, (p + 1) * bytesPerPage), dataAt);
    at = dataAt + bytesPerPage;
  }
  return out;
}

/**
 * Round trips and error messages of the grid readers and writers (NPY, TIFF, PNG, JSON, readGrid), on hand-built
 * files and on the real training images of ../shared (tests only; the product never reads them).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import {
  DType,
  GRID_EXTENSIONS,
  GridFileError,
  NdArray,
  TypedArray,
  allocate,
  ndarray,
  parseGrid,
  parseJsonGrid,
  parseNpy,
  parsePng,
  parseTiff,
  readGrid,
  renderPreview,
  serializeGrayPng,
  serializeJsonGrid,
  serializeNpy,
  serializeTiff,
  writeGrid,
} from './index';
import {
  TRAINING_IMAGES,
  describeWithTrainingImages,
  stoneLike,
} from '../../../test/support/training-images';

const STONE = join(TRAINING_IMAGES, 'stone.tiff');
const TI3 = join(TRAINING_IMAGES, 'ti_3_variables.tiff');
const SOURCE_PNG = join(TRAINING_IMAGES, 'source.png');
const DAMIER = join(TRAINING_IMAGES, 'Damier3D.tiff');
const STREBELLE = join(TRAINING_IMAGES, 'strebelle.tiff');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dqs-grids-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** The error thrown by fn (fails the test when nothing is thrown). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but nothing was thrown');
}

/** Element-wise equality that treats NaN as equal to NaN. */
function expectSameValues(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      if (!Number.isNaN(a)) throw new Error(`value ${i}: expected NaN, got ${a}`);
    } else if (a !== e) {
      throw new Error(`value ${i}: expected ${e}, got ${a}`);
    }
  }
}

/** Deterministic, distinct test values for each dtype, including the extremes of the integer types. */
function sample(dtype: DType, length: number): TypedArray {
  const data = allocate(dtype, length);
  const extremes: Record<DType, number[]> = {
    float32: [-3.4e38, 3.4e38, 1.401298464324817e-45, -0],
    float64: [-1.7e308, 1.7e308, 5e-324, Math.PI],
    uint8: [0, 255],
    int8: [-128, 127],
    uint16: [0, 65535, 256, 257],
    int16: [-32768, 32767],
    int32: [-2147483648, 2147483647],
    uint32: [0, 4294967295, 65536],
  };
  for (let i = 0; i < length; i++) {
    const e = extremes[dtype];
    data[i] = i < e.length ? e[i] : dtype.startsWith('float') ? (i * 7.25) / 3 - 11 : (i * 37 + 5) % 100;
  }
  return data;
}

const ALL_DTYPES: DType[] = ['float32', 'float64', 'uint8', 'int32', 'uint32', 'uint16', 'int16', 'int8'];

/** An NPY file (format 1.0) with any header and raw body, as another tool would write it. */
function npyBytes(header: string, body: Uint8Array, version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  let h = header;
  h += ' '.repeat((64 - ((prefix + h.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(prefix + h.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[prefix + i] = h.charCodeAt(i);
  out.set(body, prefix + h.length);
  return out;
}

// ---------------------------------------------------------------------------------------------------- NPY

describe('NPY', () => {
  describe.each(ALL_DTYPES)('%s', (dtype) => {
    it.each([[[7]], [[3, 5]], [[2, 3, 4]]])('round trips shape %j', (shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const array = ndarray(shape, sample(dtype, n));
      const bytes = serializeNpy(array);
      // the header is padded so that the data starts on a 64-byte boundary, as numpy does
      const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
      expect((10 + headerLength) % 64).toBe(0);
      expect(bytes.length).toBe(10 + headerLength + n * array.data.BYTES_PER_ELEMENT);
      const back = parseNpy(bytes, 'x.npy');
      expect(back.shape).toEqual(shape);
      expect(back.dtype).toBe(dtype);
      expect(back.data.constructor).toBe(array.data.constructor);
      expectSameValues(back.data, array.data);
    });
  });

  it('keeps NaN (and infinities) in float32', () => {
    const data = new Float32Array([0.25, NaN, -1, Infinity, NaN, -Infinity]);
    const back = parseNpy(serializeNpy(ndarray([2, 3], data)), 'nan.npy');
    expect(back.dtype).toBe('float32');
    expectSameValues(back.data, data);
    expect(Number.isNaN(back.data[1])).toBe(true);
    expect(back.data[3]).toBe(Infinity);
  });

  it('writes a header numpy understands: descr, fortran_order False, shape with a 1-D trailing comma', () => {
    const text = (a: NdArray) => {
      const bytes = serializeNpy(a);
      const length = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
      const header = new TextDecoder('latin1').decode(bytes.subarray(10, 10 + length));
      expect(header.endsWith('\n')).toBe(true);
      return header;
    };
    expect(text(ndarray([4], new Float32Array(4)))).toMatch(
      /\{'descr': '<f4', 'fortran_order': False, 'shape': \(4,\), \}/,
    );
    expect(text(ndarray([2, 3], new Uint8Array(6)))).toMatch(/'descr': '\|u1'.*'shape': \(2, 3\)/);
    expect(text(ndarray([2, 2], new Uint32Array(4)))).toMatch(/'descr': '<u4'/);
  });

  it('round trips a subarray view without leaking the rest of its buffer', () => {
    const whole = new Float64Array([9, 9, 1, 2, 3, 4, 9, 9]);
    const view = whole.subarray(2, 6);
    const back = parseNpy(serializeNpy(ndarray([2, 2], view)), 'view.npy');
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4]);
  });

  it('reads big-endian data (>f4, >i2, >u4) as native values', () => {
    const values = [1.5, -2.25, 3e10, NaN, 0.1, -0];
    const body = new Uint8Array(4 * values.length);
    const dv = new DataView(body.buffer);
    values.forEach((v, i) => dv.setFloat32(4 * i, v, false));
    const f = parseNpy(
      npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", body),
      'be.npy',
    );
    expect(f.shape).toEqual([2, 3]);
    expect(f.dtype).toBe('float32');
    expectSameValues(f.data, Float32Array.from(values));

    const i16 = new Uint8Array(6);
    [-2, 300, 32767].forEach((v, i) => new DataView(i16.buffer).setInt16(2 * i, v, false));
    const s = parseNpy(
      npyBytes("{'descr': '>i2', 'fortran_order': False, 'shape': (3,), }", i16),
      'be16.npy',
    );
    expect(s.dtype).toBe('int16');
    expect(Array.from(s.data)).toEqual([-2, 300, 32767]);

    const u32 = new Uint8Array(8);
    [4000000000, 258].forEach((v, i) => new DataView(u32.buffer).setUint32(4 * i, v, false));
    const u = parseNpy(
      npyBytes("{'descr': '>u4', 'fortran_order': False, 'shape': (2,), }", u32),
      'be32.npy',
    );
    expect(Array.from(u.data)).toEqual([4000000000, 258]);
  });

  it('reads fortran_order True files in C order (2-D)', () => {
    // C order [[1, 2, 3], [4, 5, 6]] is stored column by column: 1 4 2 5 3 6
    const body = new Uint8Array(new Float64Array([1, 4, 2, 5, 3, 6]).buffer);
    const a = parseNpy(npyBytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", body), 'f.npy');
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe('float64');
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads fortran_order True files in C order (3-D, big-endian int32)', () => {
    const [I, J, K] = [2, 3, 4];
    const body = new Uint8Array(4 * I * J * K);
    const dv = new DataView(body.buffer);
    for (let i = 0; i < I; i++)
      for (let j = 0; j < J; j++)
        for (let k = 0; k < K; k++) dv.setInt32(4 * (i + I * j + I * J * k), 100 * i + 10 * j + k, false);
    const a = parseNpy(
      npyBytes("{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3, 4), }", body),
      'f3.npy',
    );
    expect(a.shape).toEqual([I, J, K]);
    const expected: number[] = [];
    for (let i = 0; i < I; i++)
      for (let j = 0; j < J; j++) for (let k = 0; k < K; k++) expected.push(100 * i + 10 * j + k);
    expect(Array.from(a.data)).toEqual(expected);
  });

  it('reads format version 2.0 (4-byte header length)', () => {
    const body = new Uint8Array(new Int16Array([-5, 6, 7, -8]).buffer);
    const a = parseNpy(
      npyBytes("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 2), }", body, 2),
      'v2.npy',
    );
    expect(a.shape).toEqual([2, 2]);
    expect(Array.from(a.data)).toEqual([-5, 6, 7, -8]);
  });

  it('reads bool (|b1) as uint8', () => {
    const a = parseNpy(
      npyBytes("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", new Uint8Array([1, 0, 0, 1])),
      'b.npy',
    );
    expect(a.dtype).toBe('uint8');
    expect(Array.from(a.data)).toEqual([1, 0, 0, 1]);
  });

  it('a truncated file is a GridFileError naming the file and saying truncated', () => {
    const full = serializeNpy(ndarray([10, 10], sample('float32', 100)));
    const file = join(tmp, 'cut.npy');
    writeFileSync(file, full.subarray(0, full.length - 7));
    const e = thrown(() => readGrid(file));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/truncated/);
    expect((e as GridFileError).file).toBe(file);

    // cut inside the header too
    const e2 = thrown(() => parseNpy(full.subarray(0, 40), 'head.npy'));
    expect(e2).toBeInstanceOf(GridFileError);
    expect(e2.message).toContain('head.npy');
    expect(e2.message).toMatch(/truncated/);
  });

  it('an unsupported dtype (<c8, complex) is refused and the message names it and the supported ones', () => {
    const e = thrown(() =>
      parseNpy(
        npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)),
        'complex.npy',
      ),
    );
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain('complex.npy');
    expect(e.message).toContain("'<c8'");
    expect(e.message).toMatch(/unsupported/);
    expect(e.message).toMatch(/float32/);
  });

  it('a file without the NPY magic is refused', () => {
    const e = thrown(() => parseNpy(new TextEncoder().encode('hello, this is not numpy'), 'text.npy'));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toMatch(/text\.npy: not an NPY file/);
  });
});

// ---------------------------------------------------------------------------------------------------- TIFF

/** A minimal one-page, one-sample float32 TIFF in either byte order (as written by big-endian tools). */
function handTiff(rows: number, cols: number, values: number[], little: boolean): Uint8Array {
  const entries = 9;
  const ifdAt = 8;
  const dataAt = ifdAt + 2 + entries * 12 + 4;
  const out = new Uint8Array(dataAt + rows * cols * 4);
  const v = new DataView(out.buffer);
  out[0] = out[1] = little ? 0x49 : 0x4d;
  v.setUint16(2, 42, little);
  v.setUint32(4, ifdAt, little);
  v.setUint16(ifdAt, entries, little);
  let e = ifdAt + 2;
  const put = (id: number, type: number, value: number) => {
    v.setUint16(e, id, little);
    v.setUint16(e + 2, type, little);
    v.setUint32(e + 4, 1, little);
    if (type === 3) v.setUint16(e + 8, value, little);
    else v.setUint32(e + 8, value, little);
    e += 12;
  };
  put(256, 4, cols);
  put(257, 4, rows);
  put(258, 3, 32);
  put(259, 3, 1);
  put(262, 3, 1);
  put(273, 4, dataAt);
  put(278, 4, rows);
  put(279, 4, rows * cols * 4);
  put(339, 3, 3);
  v.setUint32(e, 0, little);
  values.forEach((x, i) => v.setFloat32(dataAt + 4 * i, x, little));
  return out;
}

describe('TIFF', () => {
  it('round trips float32 2-D, with NaN', () => {
    const data = sample('float32', 6 * 9) as Float32Array;
    data[5] = NaN;
    const back = parseTiff(serializeTiff(ndarray([6, 9], data)), 'a.tiff');
    expect(back.shape).toEqual([6, 9]);
    expect(back.dtype).toBe('float32');
    expect(back.samplesPerPixel).toBe(1);
    expectSameValues(back.data, data);
  });

  it('round trips float32 with 3 samples per pixel ([r, c, 3], samples: true)', () => {
    const data = sample('float32', 5 * 7 * 3);
    const back = parseTiff(serializeTiff(ndarray([5, 7, 3], data), { samples: true }), 's3.tiff');
    expect(back.shape).toEqual([5, 7, 3]);
    expect(back.samplesPerPixel).toBe(3);
    expect(back.pages).toBe(1);
    expectSameValues(back.data, data);
  });

  it('round trips float32 with 2 samples per pixel ([r, c, 2], samples: true)', () => {
    // with 2 samples, BitsPerSample and SampleFormat (2 SHORTs = 4 bytes) must be stored inside the IFD entry
    const data = sample('float32', 4 * 5 * 2);
    const back = parseTiff(serializeTiff(ndarray([4, 5, 2], data), { samples: true }), 's2.tiff');
    expect(back.shape).toEqual([4, 5, 2]);
    expect(back.samplesPerPixel).toBe(2);
    expectSameValues(back.data, data);
  });

  it('round trips a multi-page 3-D grid [pages, r, c] as one page per slice', () => {
    const data = sample('float32', 4 * 3 * 5);
    const bytes = serializeTiff(ndarray([4, 3, 5], data));
    const back = parseTiff(bytes, 'pages.tiff');
    expect(back.shape).toEqual([4, 3, 5]);
    expect(back.pages).toBe(4);
    expect(back.samplesPerPixel).toBe(1);
    expectSameValues(back.data, data);
  });

  it('round trips multi-page grids with samples [pages, r, c, 3]', () => {
    const data = sample('float32', 2 * 3 * 4 * 3);
    const back = parseTiff(serializeTiff(ndarray([2, 3, 4, 3], data), { samples: true }), 'ps.tiff');
    expect(back.shape).toEqual([2, 3, 4, 3]);
    expect(back.pages).toBe(2);
    expect(back.samplesPerPixel).toBe(3);
    expectSameValues(back.data, data);
  });

  it.each(['uint8', 'uint16', 'int8', 'int16', 'int32', 'uint32', 'float64'] as DType[])(
    'round trips %s',
    (dtype) => {
      const data = sample(dtype, 8 * 6);
      const back = parseTiff(serializeTiff(ndarray([8, 6], data)), `${dtype}.tiff`);
      expect(back.shape).toEqual([8, 6]);
      expect(back.dtype).toBe(dtype);
      expectSameValues(back.data, data);
    },
  );

  it('writeGrid/readGrid through a .tif file', () => {
    const file = join(tmp, 'sub', 'grid.tif');
    const data = sample('uint16', 12);
    writeGrid(file, ndarray([3, 4], data));
    const back = readGrid(file);
    expect(back.shape).toEqual([3, 4]);
    expect(back.dtype).toBe('uint16');
    expectSameValues(back.data, data);
  });

  it.each([true, false])('reads a hand-built TIFF (little endian: %s) with the right values', (little) => {
    const values = [0.5, -1.25, 1e-3, 42, NaN, 7];
    const g = parseTiff(handTiff(2, 3, values, little), little ? 'ii.tiff' : 'mm.tiff');
    expect(g.shape).toEqual([2, 3]);
    expect(g.dtype).toBe('float32');
    expectSameValues(g.data, Float32Array.from(values));
  });

  it('a stone-like TIFF cut in half is a GridFileError naming the file', () => {
    const ti = stoneLike(200, 200);
    const bytes = serializeTiff(ndarray([200, 200], ti.data));
    const file = join(tmp, 'half-stone.tiff');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const e = thrown(() => readGrid(file));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain(file);
  });

  it('a TIFF whose pixel data is cut short is a GridFileError naming the file', () => {
    const full = serializeTiff(ndarray([20, 20], sample('float32', 400)));
    const e = thrown(() => parseTiff(full.subarray(0, full.length - 100), 'short.tiff'));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain('short.tiff');
  });

  it('a file without the II/MM mark is not a TIFF', () => {
    const e = thrown(() => parseGrid(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 'junk.tiff'));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toMatch(/junk\.tiff: not a TIFF/);
  });
});

// ---------------------------------------------------------------------------------------------------- PNG

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A 16-bit gray PNG built byte by byte (no pngjs), to check the reader independently of the writer. */
function handGray16Png(rows: number, cols: number, values: number[]): Uint8Array {
  const ihdr = new Uint8Array(13);
  const h = new DataView(ihdr.buffer);
  h.setUint32(0, cols);
  h.setUint32(4, rows);
  ihdr[8] = 16; // bit depth
  ihdr[9] = 0; // gray
  const raw = new Uint8Array(rows * (1 + 2 * cols));
  const rv = new DataView(raw.buffer);
  for (let r = 0; r < rows; r++) {
    raw[r * (1 + 2 * cols)] = 0; // filter: none
    for (let c = 0; c < cols; c++) rv.setUint16(r * (1 + 2 * cols) + 1 + 2 * c, values[r * cols + c], false);
  }
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array(deflateSync(raw))),
    chunk('IEND', new Uint8Array(0)),
  ];
  return new Uint8Array(Buffer.concat(parts));
}

describe('PNG', () => {
  it('reads a hand-built 16-bit gray PNG with values above 255', () => {
    const values = [0, 1, 255, 256, 1000, 65535];
    const g = parsePng(handGray16Png(2, 3, values), 'hand16.png');
    expect(g.shape).toEqual([2, 3]);
    expect(g.dtype).toBe('uint16');
    expect(Array.from(g.data)).toEqual(values);
  });

  it('serializeGrayPng round trips uint8', () => {
    const data = sample('uint8', 7 * 11);
    const bytes = serializeGrayPng(ndarray([7, 11], data));
    expect(Array.from(bytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    const back = parsePng(bytes, 'u8.png');
    expect(back.shape).toEqual([7, 11]);
    expect(back.dtype).toBe('uint8');
    expectSameValues(back.data, data);
  });

  it.each([
    [3, 4],
    [50, 60],
  ])('serializeGrayPng round trips uint16 [%i, %i], values above 255 kept', (rows, cols) => {
    const data = Uint16Array.from({ length: rows * cols }, (_, i) => (i * 997 + 7) % 65536);
    data[0] = 65535;
    data[1] = 256;
    const back = parsePng(serializeGrayPng(ndarray([rows, cols], data)), 'u16.png');
    expect(back.shape).toEqual([rows, cols]);
    expect(back.dtype).toBe('uint16');
    expect(Array.from(back.data.subarray(0, 6))).toEqual(Array.from(data.subarray(0, 6)));
    expectSameValues(back.data, data);
  });

  it('serializeGrayPng refuses float and 3-D grids', () => {
    expect(() => serializeGrayPng(ndarray([2, 2], new Float32Array(4)))).toThrow(/uint8 or uint16/);
    expect(() => serializeGrayPng(ndarray([2, 2, 2], new Uint8Array(8)))).toThrow(/\[rows, cols\]/);
  });

  it('a colour PNG is refused with a message about colour', () => {
    const png = new PNG({ width: 3, height: 2 });
    for (let i = 0; i < 6; i++) {
      png.data[4 * i] = 10 * i;
      png.data[4 * i + 1] = 10 * i;
      png.data[4 * i + 2] = 10 * i;
      png.data[4 * i + 3] = 255;
    }
    // one coloured pixel, at row 1, column 1
    png.data[4 * 4] = 200;
    png.data[4 * 4 + 1] = 30;
    png.data[4 * 4 + 2] = 90;
    const file = join(tmp, 'colour.png');
    writeFileSync(file, PNG.sync.write(png));
    const e = thrown(() => readGrid(file));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/colou?r/);
    expect(e.message).toContain('(1, 1)');
  });

  it('an RGBA PNG whose pixels are all gray is read as gray', () => {
    const png = new PNG({ width: 2, height: 2 });
    [5, 77, 150, 255].forEach((g, i) => png.data.set([g, g, g, 255], 4 * i));
    const back = parsePng(PNG.sync.write(png), 'gray-rgba.png');
    expect(back.dtype).toBe('uint8');
    expect(Array.from(back.data)).toEqual([5, 77, 150, 255]);
  });

  it('a truncated PNG is a GridFileError naming the file', () => {
    const ti = stoneLike(200, 200);
    const bytes = serializeGrayPng(
      ndarray(
        [200, 200],
        Uint8Array.from(ti.data, (x) => Math.round(255 * x)),
      ),
    );
    const file = join(tmp, 'half-source.png');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const e = thrown(() => readGrid(file));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/truncated/);
  });

  it('renderPreview draws a PNG of rows*scale x cols*scale pixels with viridis ends and gray NaN', () => {
    const rows = 3;
    const cols = 4;
    const values = Float32Array.from({ length: rows * cols }, (_, i) => i);
    values[5] = NaN; // row 1, column 1
    const scale = 5;
    const bytes = renderPreview(values, rows, cols, { scale });
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const png = PNG.sync.read(Buffer.from(bytes));
    expect(png.width).toBe(cols * scale);
    expect(png.height).toBe(rows * scale);
    const px = (y: number, x: number) =>
      Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 4));
    // the minimum (cell 0) and the maximum (cell 11) take viridis' ends; every pixel of a block has the same colour
    expect(px(0, 0)).toEqual([68, 1, 84, 255]);
    expect(px(scale - 1, scale - 1)).toEqual([68, 1, 84, 255]);
    expect(px(rows * scale - 1, cols * scale - 1)).toEqual([253, 231, 37, 255]);
    expect(px(2 * scale, 3 * scale)).toEqual([253, 231, 37, 255]);
    expect(px(scale + 2, scale + 3)).toEqual([220, 220, 220, 255]);
    // without scale: one pixel per cell
    const one = PNG.sync.read(Buffer.from(renderPreview(values, rows, cols)));
    expect([one.width, one.height]).toEqual([cols, rows]);
  });

  it('renderPreview with categories gives one distinct colour per value', () => {
    const values = [0, 1, 2, 0, 1, 2];
    const png = PNG.sync.read(Buffer.from(renderPreview(values, 2, 3, { categorical: true })));
    const colour = (i: number) => Array.from(png.data.subarray(4 * i, 4 * i + 3)).join(',');
    expect(colour(0)).toBe(colour(3));
    expect(colour(1)).toBe(colour(4));
    expect(new Set([colour(0), colour(1), colour(2)]).size).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------------- JSON

describe('JSON grids', () => {
  it('round trips a 2-D grid with null <-> NaN', () => {
    const data = new Float32Array([0.5, NaN, -2, 3, 4.25, NaN]);
    const text = serializeJsonGrid(ndarray([2, 3], data));
    expect(JSON.parse(text)).toEqual([
      [0.5, null, -2],
      [3, 4.25, null],
    ]);
    const back = parseJsonGrid(text, 'g.json');
    expect(back.shape).toEqual([2, 3]);
    expect(back.dtype).toBe('float32');
    expectSameValues(back.data, data);
  });

  it('round trips 1-D and 3-D grids', () => {
    const one = parseJsonGrid(serializeJsonGrid(ndarray([4], new Float32Array([1, 2, NaN, 4]))));
    expect(one.shape).toEqual([4]);
    expectSameValues(one.data, [1, 2, NaN, 4]);
    const data = sample('float32', 2 * 3 * 4);
    const three = parseJsonGrid(serializeJsonGrid(ndarray([2, 3, 4], data)));
    expect(three.shape).toEqual([2, 3, 4]);
    expectSameValues(three.data, data);
  });

  it('reads through readGrid/writeGrid as a .json file', () => {
    const file = join(tmp, 'grid.json');
    writeGrid(file, ndarray([2, 2], new Float32Array([1, NaN, 3, 4])));
    expect(readFileSync(file, 'utf8')).toBe('[[1,null],[3,4]]');
    const back = readGrid(file);
    expect(back.shape).toEqual([2, 2]);
    expectSameValues(back.data, [1, NaN, 3, 4]);
  });

  it('a ragged array is an error naming the row', () => {
    const e = thrown(() => parseJsonGrid('[[1, 2, 3], [4, 5]]', 'ragged.json'));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toMatch(/ragged\.json: ragged grid/);
    expect(e.message).toContain('[1]');
    expect(e.message).toContain('3 items');
    const e2 = thrown(() => parseJsonGrid('[[1, 2], 3]', 'ragged2.json'));
    expect(e2.message).toMatch(/ragged/);
    expect(e2.message).toContain('[1]');
  });

  it('a non-number leaf is an error naming its position and value', () => {
    const e = thrown(() => parseJsonGrid('[[1, 2], [3, "four"]]', 'text.json'));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain('text.json');
    expect(e.message).toContain('[1][1]');
    expect(e.message).toContain('"four"');
    expect(e.message).toMatch(/expected a number or null/);
    const deep = thrown(() => parseJsonGrid('[[1, 2], [3, [4]]]', 'deep.json'));
    expect(deep.message).toContain('[1][1]');
    const bool = thrown(() => parseJsonGrid('[true, 1]', 'bool.json'));
    expect(bool.message).toContain('[0]');
    expect(bool.message).toContain('true');
  });

  it('invalid JSON, a bare number and empty lists are errors', () => {
    const bad = thrown(() => parseJsonGrid('[[1, 2], [3, 4]', 'bad.json'));
    expect(bad).toBeInstanceOf(GridFileError);
    expect(bad.message).toMatch(/bad\.json: invalid JSON/);
    expect(thrown(() => parseJsonGrid('42', 'scalar.json')).message).toMatch(/scalar\.json: .*JSON array/);
    expect(thrown(() => parseJsonGrid('[[]]', 'empty.json')).message).toMatch(
      /empty\.json: empty list at depth 1/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------- readGrid

describe('readGrid', () => {
  it('an unknown extension is an error listing the supported ones', () => {
    const file = join(tmp, 'grid.txt');
    writeFileSync(file, '1 2 3');
    const e = thrown(() => readGrid(file));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain(file);
    expect(e.message).toContain("'.txt'");
    for (const ext of ['.npy', '.tif', '.tiff', '.png', '.json']) expect(e.message).toContain(ext);
    expect(GRID_EXTENSIONS).toEqual(expect.arrayContaining(['.npy', '.tif', '.tiff', '.png', '.json']));
    const none = join(tmp, 'noextension');
    writeFileSync(none, 'x');
    expect(thrown(() => readGrid(none)).message).toMatch(/\(none\)/);
  });

  it('a missing file is an error saying no such file, with the path', () => {
    const file = join(tmp, 'does-not-exist.npy');
    const e = thrown(() => readGrid(file));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toBe(`${file}: no such file`);
  });

  it('an empty file is an error saying so', () => {
    for (const ext of ['npy', 'tiff', 'png', 'json']) {
      const file = join(tmp, `empty.${ext}`);
      writeFileSync(file, '');
      const e = thrown(() => readGrid(file));
      expect(e).toBeInstanceOf(GridFileError);
      expect(e.message).toBe(`${file}: the file is empty`);
    }
  });

  it('extensions are matched case-insensitively (.NPY, .TIF)', () => {
    const data = sample('int16', 6);
    const file = join(tmp, 'UPPER.NPY');
    writeGrid(file, ndarray([2, 3], data));
    expectSameValues(readGrid(file).data, data);
    const tif = join(tmp, 'UPPER.TIF');
    writeGrid(tif, ndarray([2, 3], data));
    expectSameValues(readGrid(tif).data, data);
  });

  it('a directory is an error that names it', () => {
    const e = thrown(() => readGrid(tmp));
    expect(e).toBeInstanceOf(GridFileError);
    expect(e.message).toContain(tmp);
    expect(e.message).toMatch(/cannot read/);
  });
});

// The real files of the shared test data, as other software wrote them (the layouts above are also tested on files
// written here, so a bare clone still covers every reader path).
describeWithTrainingImages('the shared training-image files', () => {
  it('stone.tiff is a [200, 200] float32 grid within [0, 1]', () => {
    const g = readGrid(STONE);
    expect(g.shape).toEqual([200, 200]);
    expect(g.dtype).toBe('float32');
    expect(g.data).toBeInstanceOf(Float32Array);
    expect(g.samplesPerPixel).toBe(1);
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of g.data) {
      expect(Number.isFinite(x)).toBe(true);
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi - lo).toBeGreaterThan(0.5); // a real image, not a constant
    // parseTiff on the bytes gives the same as readGrid
    const p = parseTiff(readFileSync(STONE), 'stone.tiff');
    expect(p.pages).toBe(1);
    expect(Buffer.from(p.data.buffer).equals(Buffer.from(g.data.buffer))).toBe(true);
  });

  it('ti_3_variables.tiff is [490, 490, 3] float32 with 3 samples per pixel', () => {
    const g = parseTiff(readFileSync(TI3), 'ti_3_variables.tiff');
    expect(g.shape).toEqual([490, 490, 3]);
    expect(g.samplesPerPixel).toBe(3);
    expect(g.pages).toBe(1);
    expect(g.dtype).toBe('float32');
    expect(readGrid(TI3).samplesPerPixel).toBe(3);
    // the three variables are not copies of each other
    let differ01 = 0;
    let differ12 = 0;
    for (let i = 0; i < 490 * 490; i++) {
      if (g.data[3 * i] !== g.data[3 * i + 1]) differ01++;
      if (g.data[3 * i + 1] !== g.data[3 * i + 2]) differ12++;
    }
    expect(differ01).toBeGreaterThan(1000);
    expect(differ12).toBeGreaterThan(1000);
  });

  it('strebelle.tiff holds only 0 and 1; Damier3D.tiff (one page, 50 samples per pixel) reads as [50, 50, 50]', () => {
    const s = readGrid(STREBELLE);
    expect(s.shape).toEqual([250, 250]);
    expect(new Set(s.data)).toEqual(new Set([0, 1]));
    const d = readGrid(DAMIER);
    expect(d.shape).toEqual([50, 50, 50]);
    expect(d.samplesPerPixel).toBe(50);
  });

  it('re-writing stone.tiff gives back exactly the same values', () => {
    const g = readGrid(STONE);
    const back = parseTiff(serializeTiff(g), 'again.tiff');
    expect(back.shape).toEqual([200, 200]);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(g.data.buffer))).toBe(true);
  });

  it('source.png is uint8 [200, 200] and equals round(255 * stone) in every cell', () => {
    const png = readGrid(SOURCE_PNG);
    const stone = readGrid(STONE);
    expect(png.shape).toEqual([200, 200]);
    expect(png.dtype).toBe('uint8');
    expect(png.data).toBeInstanceOf(Uint8Array);
    let mismatches = 0;
    for (let i = 0; i < 200 * 200; i++) if (png.data[i] !== Math.round(255 * stone.data[i])) mismatches++;
    expect(mismatches).toBe(0);
  });
});

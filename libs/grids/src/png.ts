/** PNG: 8- and 16-bit gray images as input grids, and colour-mapped previews of grids as output. */
import { PNG } from 'pngjs';
import { NdArray } from './ndarray';
import { GridFileError } from './errors';

export function parsePng(bytes: Uint8Array, file = '<png>'): NdArray {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
  } catch (e) {
    throw new GridFileError(file, `unreadable PNG (${(e as Error).message}); is the file truncated?`);
  }
  const { width, height } = png;
  const src = png.data as unknown as ArrayLike<number>;
  const sixteen = (png as unknown as { depth?: number }).depth === 16 || !(png.data instanceof Buffer);
  const out = sixteen ? new Uint16Array(width * height) : new Uint8Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const r = src[4 * i];
    if (src[4 * i + 1] !== r || src[4 * i + 2] !== r) {
      throw new GridFileError(
        file,
        `pixel (${Math.floor(i / width)}, ${i % width}) is in colour; dqs reads gray PNGs only (convert it to gray, or use TIFF or NPY)`,
      );
    }
    out[i] = r;
  }
  return { shape: [height, width], dtype: sixteen ? 'uint16' : 'uint8', data: out };
}

type Rgb = [number, number, number];

/** viridis, sampled at 9 stops. */
const VIRIDIS: Rgb[] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** Distinct colours for categories (Tableau 10). */
const CATEGORY_COLOURS: Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

function viridis(t: number): Rgb {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export interface PreviewOptions {
  /** Distinct colours per value instead of a continuous colour map. */
  categorical?: boolean;
  /** Integer upscaling of each cell, so that small grids are visible. */
  scale?: number;
  /** Fixed value range for the colour map (default: the grid's finite min and max). */
  range?: [number, number];
}

/**
 * A colour-mapped RGBA preview of a 2D slice: rows x cols values, NaN drawn as light gray.
 * Continuous values use viridis; categorical values get one colour each.
 */
export function renderPreview(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  options: PreviewOptions = {},
): Uint8Array {
  const scale = Math.max(1, Math.floor(options.scale ?? 1));
  let [lo, hi] = options.range ?? [Infinity, -Infinity];
  const categories = new Map<number, number>();
  if (!options.range || options.categorical) {
    for (let i = 0; i < rows * cols; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (!options.range) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (options.categorical && !categories.has(v)) categories.set(v, 0);
    }
  }
  if (options.categorical)
    [...categories.keys()].sort((a, b) => a - b).forEach((v, i) => categories.set(v, i));
  const span = hi > lo ? hi - lo : 1;
  const png = new PNG({ width: cols * scale, height: rows * scale });
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c];
      let rgb: Rgb;
      if (!Number.isFinite(v)) rgb = [220, 220, 220];
      else if (options.categorical) rgb = CATEGORY_COLOURS[categories.get(v)! % CATEGORY_COLOURS.length];
      else rgb = viridis((v - lo) / span);
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const at = 4 * ((r * scale + dy) * cols * scale + c * scale + dx);
          png.data[at] = Math.round(rgb[0]);
          png.data[at + 1] = Math.round(rgb[1]);
          png.data[at + 2] = Math.round(rgb[2]);
          png.data[at + 3] = 255;
        }
      }
    }
  }
  return PNG.sync.write(png);
}

/** 8- or 16-bit gray PNG of a [rows, cols] integer grid (the input form, for round trips and tests). */
export function serializeGrayPng(array: NdArray): Uint8Array {
  if (array.shape.length !== 2 || (array.dtype !== 'uint8' && array.dtype !== 'uint16')) {
    throw new Error('a gray PNG holds a [rows, cols] uint8 or uint16 grid');
  }
  const [height, width] = array.shape;
  const sixteen = array.dtype === 'uint16';
  const png = new PNG({
    width,
    height,
    bitDepth: sixteen ? 16 : 8,
    colorType: 0,
    inputColorType: 0,
    inputHasAlpha: false,
  });
  // pngjs takes 16-bit samples in machine byte order; copy into a buffer of our own (not Node's shared pool)
  png.data = sixteen
    ? Buffer.from(Uint16Array.from(array.data as Uint16Array).buffer)
    : Buffer.from(Uint8Array.from(array.data as Uint8Array).buffer);
  return PNG.sync.write(png, {
    bitDepth: sixteen ? 16 : 8,
    colorType: 0,
    inputColorType: 0,
    inputHasAlpha: false,
  });
}

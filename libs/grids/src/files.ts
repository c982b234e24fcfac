/** Reading and writing grid files, chosen by extension: .npy, .tif/.tiff, .png, .json. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { NdArray } from './ndarray';
import { GridFileError } from './errors';
import { parseNpy, serializeNpy } from './npy';
import { parseTiff, serializeTiff } from './tiff';
import { parsePng, serializeGrayPng } from './png';
import { parseJsonGrid, serializeJsonGrid } from './json-grid';

export const GRID_EXTENSIONS = ['.npy', '.tif', '.tiff', '.png', '.json'];

export interface ReadGrid extends NdArray {
  /** For TIFF: samples per pixel as stored; the caller decides whether they are variables. */
  samplesPerPixel?: number;
}

export function parseGrid(bytes: Uint8Array, file: string): ReadGrid {
  const ext = extname(file).toLowerCase();
  switch (ext) {
    case '.npy':
      return parseNpy(bytes, file);
    case '.tif':
    case '.tiff':
      return parseTiff(bytes, file);
    case '.png':
      return parsePng(bytes, file);
    case '.json':
      return parseJsonGrid(new TextDecoder().decode(bytes), file);
    default:
      throw new GridFileError(
        file,
        `unknown grid format '${ext || '(none)'}'; use one of ${GRID_EXTENSIONS.join(', ')}`,
      );
  }
}

export function readGrid(file: string): ReadGrid {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GridFileError(
      file,
      code === 'ENOENT' ? 'no such file' : `cannot read (${(e as Error).message})`,
    );
  }
  if (bytes.length === 0) throw new GridFileError(file, 'the file is empty');
  return parseGrid(bytes, file);
}

export function serializeGrid(array: NdArray, file: string, options: { samples?: boolean } = {}): Uint8Array {
  const ext = extname(file).toLowerCase();
  switch (ext) {
    case '.npy':
      return serializeNpy(array);
    case '.tif':
    case '.tiff':
      return serializeTiff(array, options);
    case '.png':
      return serializeGrayPng(array);
    case '.json':
      return new TextEncoder().encode(serializeJsonGrid(array));
    default:
      throw new GridFileError(
        file,
        `unknown grid format '${ext || '(none)'}'; use one of ${GRID_EXTENSIONS.join(', ')}`,
      );
  }
}

/** Writes atomically (temporary file, then rename), creating the folder if needed. */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

export function writeGrid(file: string, array: NdArray, options: { samples?: boolean } = {}): void {
  writeFileAtomic(file, serializeGrid(array, file, options));
}

/**
 * Arrays stored once, addressed by the sha256 of their NPY bytes (as G2S addresses uploads by hash),
 * and names (input_ti_<k>_<id>, input_di_<id>) that point at them.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NdArray, parseNpy, serializeNpy } from '@dqs/grids';
import { SCOPE_NAME_PATTERN } from '@dqs/protocol';

export interface ArrayInfo {
  sha256: string;
  shape: number[];
  dtype: string;
  bytes: number;
}

export interface NamedArray {
  name: string;
  namespace: string;
  sha256: string;
  shape: number[];
  /** Variable types given at prep (-dt), when the name is a prepared input. */
  dt?: number[];
  updatedAt: string;
}

const SHA = /^[0-9a-f]{64}$/;
const NAME = /^[A-Za-z0-9_.-]{1,200}$/;

export class ArrayStore {
  private readonly arrays: string;
  private readonly names: string;

  constructor(readonly dataDir: string) {
    this.arrays = join(dataDir, 'arrays');
    this.names = join(dataDir, 'names');
    mkdirSync(this.arrays, { recursive: true });
    mkdirSync(this.names, { recursive: true });
  }

  static sha256(bytes: Uint8Array): string {
    return createHash('sha256').update(bytes).digest('hex');
  }

  static isSha(s: string): boolean {
    return SHA.test(s);
  }

  /** Stores NPY bytes (validated); the same bytes twice are stored once. */
  putNpy(bytes: Uint8Array, label = 'upload'): ArrayInfo {
    const array = parseNpy(bytes, label);
    const sha256 = ArrayStore.sha256(bytes);
    const file = this.pathOf(sha256);
    if (!existsSync(file)) atomicWrite(file, bytes);
    return { sha256, shape: array.shape, dtype: array.dtype, bytes: bytes.length };
  }

  putArray(array: NdArray): ArrayInfo {
    return this.putNpy(serializeNpy(array));
  }

  has(sha256: string): boolean {
    return SHA.test(sha256) && existsSync(this.pathOf(sha256));
  }

  pathOf(sha256: string): string {
    if (!SHA.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.arrays, `${sha256}.npy`);
  }

  read(sha256: string): NdArray {
    return parseNpy(readFileSync(this.pathOf(sha256)), `array ${sha256}`);
  }

  info(sha256: string): ArrayInfo {
    const bytes = readFileSync(this.pathOf(sha256));
    const a = parseNpy(bytes, sha256);
    return { sha256, shape: a.shape, dtype: a.dtype, bytes: bytes.length };
  }

  /** Names live in a namespace (names/<namespace>/<name>.json), so that two users' job 101 never collide. */
  private namesDir(namespace: string): string {
    if (!SCOPE_NAME_PATTERN.test(namespace)) throw new Error(`invalid namespace '${namespace}'`);
    return join(this.names, namespace);
  }

  setName(
    namespace: string,
    name: string,
    record: Omit<NamedArray, 'name' | 'namespace' | 'updatedAt'>,
  ): NamedArray {
    if (!NAME.test(name)) throw new Error(`invalid name '${name}'`);
    const full: NamedArray = { name, namespace, ...record, updatedAt: new Date().toISOString() };
    const dir = this.namesDir(namespace);
    mkdirSync(dir, { recursive: true });
    atomicWrite(join(dir, `${name}.json`), new TextEncoder().encode(JSON.stringify(full)));
    return full;
  }

  getName(namespace: string, name: string): NamedArray | undefined {
    if (!NAME.test(name) || !SCOPE_NAME_PATTERN.test(namespace)) return undefined;
    const file = join(this.namesDir(namespace), `${name}.json`);
    if (!existsSync(file)) return undefined;
    return JSON.parse(readFileSync(file, 'utf8')) as NamedArray;
  }

  /** Names of a namespace starting with a prefix (e.g. every input_ti_<k>_<id>). */
  listNames(namespace: string, prefix: string): NamedArray[] {
    const dir = this.namesDir(namespace);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as NamedArray);
  }

  /** Every name of every namespace (what the clean-up keeps). */
  allNames(): NamedArray[] {
    return readdirSync(this.names, { withFileTypes: true })
      .filter((d) => d.isDirectory() && SCOPE_NAME_PATTERN.test(d.name))
      .flatMap((d) => this.listNames(d.name, ''));
  }

  removeName(namespace: string, name: string): void {
    if (NAME.test(name) && SCOPE_NAME_PATTERN.test(namespace))
      rmSync(join(this.namesDir(namespace), `${name}.json`), { force: true });
  }
}

/** Write then rename, so that readers never see a partial file. */
export function atomicWrite(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

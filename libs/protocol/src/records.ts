/**
 * Set-pixel records, batched into one stream entry: [u32 count][u32 vars] then per record
 * [f64 g][u32 TI index][vars x f32 values], little-endian. g (the global path order) identifies the cell.
 */
export interface CellRecords {
  vars: number;
  g: Float64Array;
  index: Uint32Array;
  values: Float32Array;
}

export function encodeRecords(r: CellRecords): Buffer {
  const n = r.g.length;
  const size = 8 + n * (12 + 4 * r.vars);
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(n, 0);
  buf.writeUInt32LE(r.vars, 4);
  let at = 8;
  for (let i = 0; i < n; i++) {
    buf.writeDoubleLE(r.g[i], at);
    buf.writeUInt32LE(r.index[i], at + 8);
    at += 12;
    for (let v = 0; v < r.vars; v++) {
      buf.writeFloatLE(r.values[i * r.vars + v], at);
      at += 4;
    }
  }
  return buf;
}

export function decodeRecords(buf: Buffer): CellRecords {
  if (buf.length < 8) throw new Error('record batch too short');
  const n = buf.readUInt32LE(0);
  const vars = buf.readUInt32LE(4);
  if (buf.length !== 8 + n * (12 + 4 * vars))
    throw new Error(`record batch of ${buf.length} bytes does not hold ${n} records of ${vars} variables`);
  const g = new Float64Array(n);
  const index = new Uint32Array(n);
  const values = new Float32Array(n * vars);
  let at = 8;
  for (let i = 0; i < n; i++) {
    g[i] = buf.readDoubleLE(at);
    index[i] = buf.readUInt32LE(at + 8);
    at += 12;
    for (let v = 0; v < vars; v++) {
      values[i * vars + v] = buf.readFloatLE(at);
      at += 4;
    }
  }
  return { vars, g, index, values };
}

/** Job ranges as users write them on clusters: "1-6,15,20,25-30". */

export class JobRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobRangeError';
  }
}

/** The job ids of a range expression, ascending, without duplicates. */
export function parseJobRanges(text: string, max = 1_000_000): number[] {
  const out = new Set<number>();
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new JobRangeError(
      `'${text}' is not a job range: give ids and ranges separated by commas, e.g. 1-6,15,20,25-30`,
    );
  }
  for (const p of parts) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(p);
    if (!m) throw new JobRangeError(`'${p}' in '${text}' is neither a job id nor a range like 25-30`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new JobRangeError(`'${p}' in '${text}' runs backwards; write ${b}-${a}`);
    if (a > 0xffffffff || b > 0xffffffff) throw new JobRangeError(`'${p}' in '${text}': job ids fit 32 bits`);
    if (b - a + 1 + out.size > max) throw new JobRangeError(`'${text}' names more than ${max} jobs`);
    for (let id = a; id <= b; id++) out.add(id);
  }
  return [...out].sort((x, y) => x - y);
}

/** The shortest range expression for a set of ids (the inverse of parseJobRanges). */
export function formatJobRanges(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

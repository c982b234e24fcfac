/**
 * G2S-style arguments: every token that does not look like a flag belongs to the flag before it, so a flag can
 * carry several values (-ti a.tiff b.tiff, -n 50 30, -j 0.5). Unlike G2S, an unknown flag is an error.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagValues = Map<string, string[]>;

const isFlag = (token: string) => /^--?[A-Za-z]/.test(token) && !/^-inf(inity)?$/i.test(token);

export function parseG2sArgs(
  tokens: string[],
  known: Record<string, string[]>,
): { flags: FlagValues; positional: string[] } {
  const aliases = new Map<string, string>();
  for (const [name, names] of Object.entries(known)) for (const n of names) aliases.set(n, name);
  const flags: FlagValues = new Map();
  const positional: string[] = [];
  let current: string[] | undefined;
  for (const token of tokens) {
    if (isFlag(token)) {
      const name = aliases.get(token);
      if (!name) {
        const all = [...aliases.keys()].sort().join(' ');
        throw new UsageError(`unknown flag ${token}; known flags: ${all}`);
      }
      if (flags.has(name))
        throw new UsageError(`${token} is given twice; give it once (a flag can take several values)`);
      current = [];
      flags.set(name, current);
    } else if (current) current.push(token);
    else positional.push(token);
  }
  return { flags, positional };
}

export function numberList(flags: FlagValues, name: string, label = name): number[] | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  if (v.length === 0) throw new UsageError(`${label} needs a value`);
  return v.map((s) => {
    const x = Number(s);
    if (s.trim() === '' || Number.isNaN(x)) throw new UsageError(`${label}: '${s}' is not a number`);
    return x;
  });
}

export function singleNumber(flags: FlagValues, name: string, label = name): number | undefined {
  const v = numberList(flags, name, label);
  if (v === undefined) return undefined;
  if (v.length !== 1) throw new UsageError(`${label} takes one value, got ${v.length} (${v.join(' ')})`);
  return v[0];
}

export function singleString(flags: FlagValues, name: string, label = name): string | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  if (v.length !== 1)
    throw new UsageError(`${label} takes one value, got ${v.length}${v.length ? ` (${v.join(' ')})` : ''}`);
  return v[0];
}

export function switchFlag(flags: FlagValues, name: string, label = name): boolean {
  const v = flags.get(name);
  if (v === undefined) return false;
  if (v.length > 0) throw new UsageError(`${label} takes no value (got ${v.join(' ')})`);
  return true;
}

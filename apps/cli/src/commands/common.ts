/** Flags and helpers shared by the commands that talk to a dqs server. */
import { DEFAULT_NAMESPACE, parseJobRanges, scopeNameProblem } from '@dqs/protocol';
import { FlagValues, singleString, UsageError } from '../g2s-args';

export const NAMESPACE_FLAG = { namespace: ['--namespace', '-ns'] };

/** --namespace, else DQS_NAMESPACE, else the default namespace. */
export function namespaceOf(flags: FlagValues): string {
  const ns =
    singleString(flags, 'namespace', '--namespace') ?? (process.env.DQS_NAMESPACE || DEFAULT_NAMESPACE);
  const problem = scopeNameProblem('namespace', ns);
  if (problem) throw new UsageError(problem);
  return ns;
}

/** A job id or a range expression (1-6,15,20,25-30), as a usage error when malformed. */
export function jobRange(text: string): number[] {
  try {
    return parseJobRanges(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function help(text: string): number {
  process.stdout.write(text);
  return 0;
}

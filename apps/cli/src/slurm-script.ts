/**
 * The batch script of `dqs slurm` (as G2S's qs_dm_slurm): on a Slurm allocation, a private redis-server (unless a
 * Redis URL is given), the coordinator and the results service on the first node, `srun` workers on every node,
 * then `dqs dm --config RUNFILE` (which registers the run file's prep section and waits for the run), and the
 * mosaic and every chunk downloaded into the output folder. A pure function of its options.
 */
import { privateRedisArgs, READY_LINES, SERVICE_ENTRY_POINTS } from './local-stack';

export const CLI_ENTRY_POINT = 'dist/apps/cli/src/main.js';

export interface SlurmScriptOptions {
  /** Slurm job name (#SBATCH --job-name). */
  jobName: string;
  nodes: number;
  workersPerNode: number;
  /** DQS_SLOTS: chunks computing at once per worker. */
  slots: number;
  /** DQS_THREADS: kernel threads per chunk (default: the run's -j). */
  threads?: number;
  /** CPUs Slurm gives each worker (default slots x threads, or slots when threads is not given). */
  cpusPerWorker?: number;
  /** Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS). */
  time?: string;
  account?: string;
  partition?: string;
  /** The coordinator's port on the head node (default: a free port found there when the job starts). */
  port?: number;
  /** Use this Redis instead of starting one on the head node. */
  redisUrl?: string;
  /** G2S_DATA_DIR of every service: must be on a filesystem every node shares. Absolute. */
  dataDir: string;
  /** The run file (dqs dm --config). Absolute. */
  runFile: string;
  /** The folder the run file's relative paths (jg, ki files) are read from: where dqs slurm ran. Absolute. */
  workDir?: string;
  /** Where the mosaic, the chunks, the status, the logs and Slurm's output go. Absolute. */
  outDir: string;
  /** Format of the mosaic and chunks (npy, tiff, png or json). */
  format?: string;
  /** DQS_CAPABILITIES of the workers. */
  capabilities?: string;
  /** The dqs checkout or install (its dist/ entry points). Absolute. */
  dqsRoot: string;
  /** The node binary (on every node). Absolute. */
  node: string;
  /** The redis-server binary (default: redis-server from PATH on the head node). */
  redisServer?: string;
  /** Seconds each service may take to start. */
  startTimeout?: number;
}

/** A word for bash, single-quoted unless it is plainly safe. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A value in an #SBATCH line: sbatch reads double quotes; % starts a filename pattern there (%% is one %). */
function sbatchValue(s: string, what: string): string {
  if (/["\n\r\\]/.test(s))
    throw new Error(`${what} cannot hold a double quote, a backslash or a line break: ${s}`);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s}"`;
}

/** A folder in a Slurm filename pattern (sbatch --output, srun --output): % is written %%. */
function filePattern(dir: string): string {
  return dir.replace(/%/g, '%%');
}

/** privateRedisArgs with shell variables in place of the port, the folder and the addresses to bind. */
function redisArgsForShell(): string {
  const vars: Record<string, string> = {
    PORT: '"$REDIS_PORT"',
    DIR: '"$REDIS_DIR"',
    BIND: '$REDIS_BIND', // several addresses, one word each
  };
  return privateRedisArgs('\0PORT', '\0DIR', '\0BIND')
    .map((a) => (a.startsWith('\0') ? vars[a.slice(1)] : shellQuote(a)))
    .join(' ');
}

/** Redis: the given URL, or a private redis-server on the head with a password (reachable by every node). */
function redisBlock(o: SlurmScriptOptions): string {
  if (o.redisUrl)
    return `# Redis: the given one (none is started here)
export REDIS_URL=${shellQuote(o.redisUrl)}
log "using the given Redis"
`;
  return `# Redis: a private redis-server on the head, with a password, reachable by every node
REDIS_SERVER=${shellQuote(o.redisServer ?? 'redis-server')}
REDIS_PORT=$(free_port) || exit 1
REDIS_DIR=$JOB_TMP/redis
REDIS_PASSWORD=$(random_hex) || exit 1
mkdir -p "$REDIS_DIR"
(umask 077 && printf 'requirepass %s\\n' "$REDIS_PASSWORD" >"$JOB_TMP/redis.conf")
case "$HEAD_IP" in
  127.*) REDIS_BIND=127.0.0.1 ;;
  *) REDIS_BIND="127.0.0.1 $HEAD_IP" ;;
esac
"$REDIS_SERVER" "$JOB_TMP/redis.conf" ${redisArgsForShell()} >"$OUT/logs/redis.log" 2>&1 &
REDIS_PID=$!
wait_ready redis-server "$REDIS_PID" "$OUT/logs/redis.log" ${shellQuote(READY_LINES.redis.source)} || exit 1
rm -f "$JOB_TMP/redis.conf" # read: the password stays in this script's memory only
export REDIS_URL="redis://:$REDIS_PASSWORD@$HEAD_IP:$REDIS_PORT"
log "redis-server on $HEAD_IP:$REDIS_PORT"
`;
}

export function buildSlurmScript(o: SlurmScriptOptions): string {
  const cpus = o.cpusPerWorker ?? o.slots * (o.threads ?? 1);
  const header = [
    `#SBATCH --job-name=${sbatchValue(o.jobName, 'the job name')}`,
    `#SBATCH --nodes=${o.nodes}`,
    `#SBATCH --ntasks-per-node=${o.workersPerNode}`,
    `#SBATCH --cpus-per-task=${cpus}`,
    ...(o.time ? [`#SBATCH --time=${sbatchValue(o.time, 'the time limit')}`] : []),
    ...(o.account ? [`#SBATCH --account=${sbatchValue(o.account, 'the account')}`] : []),
    ...(o.partition ? [`#SBATCH --partition=${sbatchValue(o.partition, 'the partition')}`] : []),
    `#SBATCH --output=${sbatchValue(`${filePattern(o.outDir)}/slurm-%j.out`, 'the output folder')}`,
  ];
  const q = shellQuote;
  const entry = (role: keyof typeof SERVICE_ENTRY_POINTS) => `"$DQS_ROOT"/${SERVICE_ENTRY_POINTS[role]}`;
  const ready = (name: keyof typeof READY_LINES) => q(READY_LINES[name].source);
  const startTimeout = o.startTimeout ?? 120;
  return `#!/bin/bash
# dqs on a Slurm allocation, as G2S's qs_dm_slurm: written by dqs slurm. Submit it with: sbatch THIS_FILE
# Redis (unless REDIS_URL is given), the coordinator and the results service run on the first node, the
# workers on every node (srun); then dqs dm --config runs the run file and the outputs are downloaded.
${header.join('\n')}

set -uo pipefail

NODE=${q(o.node)}
DQS_ROOT=${q(o.dqsRoot)}
RUN_FILE=${q(o.runFile)}
WORK_DIR=${q(o.workDir ?? '.')}
OUT=${q(o.outDir)}
FORMAT=${q(o.format ?? 'npy')}
NODES=${o.nodes}
WORKERS_PER_NODE=${o.workersPerNode}
CPUS_PER_WORKER=${cpus}
COORDINATOR_PORT=${o.port ?? "''"}
WORKER_LOGS=${q(`${filePattern(o.outDir)}/logs/worker-%N-%t.log`)}
START_TIMEOUT=${startTimeout}
# every service and worker sees these (the names dqs up and docker-compose use)
export G2S_DATA_DIR=${q(o.dataDir)}
export DQS_SLOTS=${o.slots}
${o.threads ? `export DQS_THREADS=${o.threads}` : 'unset DQS_THREADS'}
${o.capabilities ? `export DQS_CAPABILITIES=${q(o.capabilities)}` : 'unset DQS_CAPABILITIES'}
unset DQS_URL DQS_WORKER_NAME
export NO_COLOR=1 # plain log files

DQS=("$NODE" "$DQS_ROOT"/${CLI_ENTRY_POINT})
log() { printf '%s dqs-slurm: %s\\n' "$(date '+%F %T')" "$*" >&2; }
random_hex() { "$NODE" -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))'; }
free_port() {
  "$NODE" -e 'const s = require("net").createServer(); s.listen(0, "0.0.0.0", () => { console.log(s.address().port); s.close(); });'
}

REDIS_PID='' COORDINATOR_PID='' RESULTS_PID='' SRUN_PID='' DM_PID='' JOB_TMP=''
# stops a process (TERM, then KILL after 30 s) and waits for it
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
# SIGTERM to the workers' job step (they drain: their chunks stop at a cell boundary), then srun ends
stop_workers() {
  local step i
  [ -n "$SRUN_PID" ] && kill -0 "$SRUN_PID" 2>/dev/null || return 0
  for step in $(squeue -h -s -j "\${SLURM_JOB_ID:-0}" -o '%i' 2>/dev/null | grep -E '\\.[0-9]+$'); do
    scancel --signal=TERM "$step" 2>/dev/null
  done
  for ((i = 0; i < 300; i++)); do
    kill -0 "$SRUN_PID" 2>/dev/null || break
    sleep 0.1
  done
  stop_pid "$SRUN_PID" # srun itself ends the step at once
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  log "stopping the workers and the services"
  [ -n "$JOB_TMP" ] && rm -rf "$JOB_TMP" # first: Slurm may SIGKILL this script after KillWait
  stop_pid "$DM_PID"
  stop_workers
  stop_pid "$COORDINATOR_PID"
  stop_pid "$RESULTS_PID"
  stop_pid "$REDIS_PID"
  log "exit $rc"
  exit "$rc"
}
trap cleanup EXIT
# scancel and the time limit send SIGTERM: stop everything, exit non-zero
trap 'log "SIGTERM (scancel or time limit)"; exit 143' TERM
trap 'log SIGINT; exit 130' INT
trap 'log SIGHUP; exit 129' HUP

# waits until a log file shows a ready line: NAME PID FILE PATTERN
wait_ready() {
  local i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    grep -Eq -e "$4" "$3" 2>/dev/null && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      log "$1 exited while starting; the end of $3:"
      tail -n 20 "$3" >&2
      return 1
    fi
    sleep 0.1
  done
  log "$1 did not start within $START_TIMEOUT s; see $3"
  return 1
}

cd "$WORK_DIR" || exit 1
mkdir -p "$OUT/logs" || exit 1
for f in "$NODE" "$DQS_ROOT"/${CLI_ENTRY_POINT} ${(['coordinator', 'results', 'worker'] as const).map(entry).join(' ')}; do
  [ -e "$f" ] || { log "$f is missing (a dqs checkout must be built: npm run build)"; exit 1; }
done
[ -r "$RUN_FILE" ] || { log "cannot read the run file $RUN_FILE"; exit 1; }
JOB_TMP=$(mktemp -d "\${TMPDIR:-/tmp}/dqs-slurm-\${SLURM_JOB_ID:-0}.XXXXXX") || exit 1
chmod 700 "$JOB_TMP"

# the head: the first node of the allocation (where this script runs), addressed as Slurm addresses it
HEAD=$(scontrol show hostnames "\${SLURM_JOB_NODELIST:-$(hostname -s)}" | head -n 1)
[ -n "$HEAD" ] || HEAD=$(hostname -s)
if [ "\${HEAD%%.*}" != "$(hostname -s)" ]; then
  log "this script runs on $(hostname -s), not on the first node $HEAD: the services run here"
  HEAD=$(hostname -s)
fi
HEAD_ADDR=$(scontrol show node "$HEAD" 2>/dev/null | sed -n 's/.*NodeAddr=\\([^ ]*\\).*/\\1/p' | head -n 1)
[ -n "$HEAD_ADDR" ] || HEAD_ADDR=$HEAD
HEAD_IP=$(getent ahostsv4 "$HEAD_ADDR" 2>/dev/null | awk 'NR == 1 { print $1 }')
[ -n "$HEAD_IP" ] || HEAD_IP=$HEAD_ADDR
if [ "$NODES" -gt 1 ] && [ "\${HEAD_IP#127.}" != "$HEAD_IP" ]; then
  # e.g. Debian's 127.0.1.1 line for the host's own name: the other nodes need a routable address
  HEAD_IP=$(hostname -I 2>/dev/null | awk '{ print $1 }')
  [ -n "$HEAD_IP" ] || { log "$HEAD_ADDR resolves to a loopback address here and no other was found"; exit 1; }
  log "$HEAD_ADDR resolves to a loopback address here; using $HEAD_IP"
fi
log "job \${SLURM_JOB_ID:-?}: head $HEAD ($HEAD_IP), $NODES node(s) x $WORKERS_PER_NODE worker(s), $DQS_SLOTS slot(s) each"

${redisBlock(o)}
# the coordinator (HTTP API) and the results service on the head; every call that changes something needs the token
DQS_TOKEN=$(random_hex) || exit 1
export DQS_TOKEN
(umask 077 && printf '%s\\n' "$DQS_TOKEN" >"$OUT/token")
[ -n "$COORDINATOR_PORT" ] || COORDINATOR_PORT=$(free_port) || exit 1
RESULTS_PORT=$(free_port) || exit 1
PORT=$COORDINATOR_PORT "$NODE" ${entry('coordinator')} >"$OUT/logs/coordinator.log" 2>&1 &
COORDINATOR_PID=$!
PORT=$RESULTS_PORT "$NODE" ${entry('results')} >"$OUT/logs/results.log" 2>&1 &
RESULTS_PID=$!
wait_ready coordinator "$COORDINATOR_PID" "$OUT/logs/coordinator.log" ${ready('coordinator')} || exit 1
wait_ready results "$RESULTS_PID" "$OUT/logs/results.log" ${ready('results')} || exit 1
export DQS_URL="http://$HEAD_IP:$COORDINATOR_PORT"
for ((i = 0; ; i++)); do
  "$NODE" -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$DQS_URL/health" && break
  [ "$i" -lt "$START_TIMEOUT" ] || { log "$DQS_URL/health did not answer within $START_TIMEOUT s"; exit 1; }
  sleep 1
done
printf '%s\\n' "$DQS_URL" >"$OUT/server"
log "coordinator at $DQS_URL (token in $OUT/token)"

# the workers: one task each, on every node of the allocation
srun --nodes="$NODES" --ntasks-per-node="$WORKERS_PER_NODE" --cpus-per-task="$CPUS_PER_WORKER" \\
  --kill-on-bad-exit=0 --output="$WORKER_LOGS" "$NODE" ${entry('worker')} &
SRUN_PID=$!
WORKERS=$((NODES * WORKERS_PER_NODE))
for ((i = 0; ; i++)); do
  n=$(cat "$OUT"/logs/worker-*.log 2>/dev/null | grep -Ec -e ${ready('worker')})
  [ "\${n:-0}" -ge "$WORKERS" ] && break
  kill -0 "$SRUN_PID" 2>/dev/null || { log "the workers (srun) ended while starting; see $OUT/logs/worker-*.log"; exit 1; }
  [ "$i" -lt "$((START_TIMEOUT * 10))" ] || { log "$n of $WORKERS workers started within $START_TIMEOUT s"; exit 1; }
  sleep 0.1
done
log "$WORKERS worker(s) ready"

# the run: dm registers the run file's prep section, launches the run and follows it until it ends
"\${DQS[@]}" dm --config "$RUN_FILE" --server "$DQS_URL" >"$OUT/dm.out" &
DM_PID=$!
DM_RC=''
while kill -0 "$DM_PID" 2>/dev/null; do
  if ! kill -0 "$SRUN_PID" 2>/dev/null; then
    log "the workers (srun) ended before the run did; see $OUT/logs/worker-*.log"
    stop_pid "$DM_PID"
    DM_RC=1
    break
  fi
  sleep 1
done
if [ -z "$DM_RC" ]; then
  wait "$DM_PID"
  DM_RC=$?
fi
DM_PID=''
RUN_ID=$(tail -n 1 "$OUT/dm.out" 2>/dev/null)
if [ -z "$RUN_ID" ]; then
  log "dqs dm failed before launching the run (exit $DM_RC)"
  exit 1
fi
printf '%s\\n' "$RUN_ID" >"$OUT/run-id"
"\${DQS[@]}" status "$RUN_ID" --json >"$OUT/status.json"
"\${DQS[@]}" logs "$RUN_ID" >"$OUT/logs/chunks.log"
if [ "$DM_RC" -ne 0 ]; then
  log "run $RUN_ID did not complete (dqs dm exit $DM_RC); see $OUT/status.json and $OUT/logs/chunks.log"
  exit 1
fi

# the outputs: the mosaic and every chunk
"\${DQS[@]}" mosaic "$RUN_ID" -o "$OUT/mosaic.$FORMAT" || exit 1
JOBS=$("$NODE" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).chunks.map((c) => c.jobId).join(","))' "$OUT/status.json") || exit 1
mkdir -p "$OUT/chunks"
case "$JOBS" in
  *,*) "\${DQS[@]}" download "$JOBS" --run "$RUN_ID" --format "$FORMAT" -o "$OUT/chunks" || exit 1 ;;
  *) "\${DQS[@]}" download "$JOBS" --run "$RUN_ID" -o "$OUT/chunks/chunk_$JOBS.$FORMAT" || exit 1 ;;
esac
log "run $RUN_ID completed: $OUT/mosaic.$FORMAT and $OUT/chunks"
exit 0
`;
}

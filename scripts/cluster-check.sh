#!/usr/bin/env bash
# Runs the Slurm array example on a real single-node Slurm cluster and checks
# that its shards together equal one unsharded run, with and without retries.
#
#   scripts/cluster-check.sh            (scripts/bench.sh runs it too: BENCH_ONLY=cluster)
#
# 1. Installs Debian's slurm-wlm and munge where missing (as scripts/setup.sh
#    installs its packages: root or sudo). Once they are there, the check
#    runs as any user: its daemons run as that user, its jobs too.
# 2. Starts munged, slurmctld and slurmd on loopback, with every key, config,
#    state and log in a temporary folder: a fresh munge key, a slurm.conf
#    with SlurmctldHost=localhost, one node (localhost, this machine's CPUs
#    and memory), one partition, free ports, proctrack/pgid, task/none, no
#    accounting and no cgroups. It waits until the node is idle.
# 3. Cuts SORTIES (default 7) short sorties out of tests/data/sample-sortie.mp4
#    with ffmpeg, in two folders.
# 4. `sbatch --wait --array=0-(SHARDS-1) scripts/deploy/slurm/screen-array.sh`
#    (SHARDS default 3), then one unsharded `lookout screen` of the same
#    inputs; every shard run must pass `lookout verify`, and
#    scripts/deploy/union_check.py must find the union equal to the whole run
#    (event ids, each events/ file's sha256, detections; no duplicates).
# 5. The retries: a second array, in which task 1 is requeued with
#    `scontrol requeue` once it has written an event and task 0 is cancelled
#    mid-run with `scancel` and submitted again by hand with the first job id
#    (LOOKOUT_RUN_JOB, LOOKOUT_SHARDS); the same checks again.
#
# Stops every daemon and job and removes the temporary folder on exit
# (KEEP=1 keeps the folder, to read its logs). Prints its time. Exit status 0
# when every check holds.
#
# Environment: LOOKOUT (binary; default target/release/lookout, else
# target/debug/lookout, else a release build), SHARDS, SORTIES,
# STRIDE (frames, default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The daemons live in /usr/sbin, which a user's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
START=$(date +%s.%N)
SHARDS="${SHARDS:-3}"
SORTIES="${SORTIES:-7}"
STRIDE="${STRIDE:-2}"
ARRAY="$ROOT/scripts/deploy/slurm/screen-array.sh"
UNION="$ROOT/scripts/deploy/union_check.py"

say() { printf 'cluster-check: %s\n' "$*"; }
elapsed() { python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$START"; }
die() {
    say "FAILED: $*" >&2
    exit 1
}

# --- Packages --------------------------------------------------------------
missing=()
for p in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    say "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
    $SUDO apt-get clean
fi
# The packages enable system services; this check starts its own daemons.

# --- The lookout binary ----------------------------------------------------
if [[ -z "${LOOKOUT:-}" ]]; then
    if [[ -x "$ROOT/target/release/lookout" ]]; then
        LOOKOUT="$ROOT/target/release/lookout"
    elif [[ -x "$ROOT/target/debug/lookout" ]]; then
        LOOKOUT="$ROOT/target/debug/lookout"
    else
        (cd "$ROOT" && cargo build --release --locked --quiet)
        LOOKOUT="$ROOT/target/release/lookout"
    fi
fi
LOOKOUT="$(cd "$(dirname "$LOOKOUT")" && pwd)/$(basename "$LOOKOUT")"
"$LOOKOUT" screen --help | grep -q -- '--shard' || die "$LOOKOUT has no screen --shard"
say "lookout: $LOOKOUT"

# --- Temporary folder and clean-up -----------------------------------------
T="$(mktemp -d "${TMPDIR:-/tmp}/lookout-cluster.XXXXXX")"
chmod 755 "$T"
mkdir -p "$T/munge" "$T/spool/ctld" "$T/spool/d" "$T/log" "$T/key" "$T/sorties"
chmod 700 "$T/munge" "$T/key"
export SLURM_CONF="$T/slurm.conf"
export LOOKOUT_SIGNING_KEY="$T/key/signing.key"
PIDS=()
cleanup() {
    local rc=$?
    set +e
    if [[ -f "$SLURM_CONF" ]]; then
        # Every job of this private cluster is ours.
        scancel --quiet --user "$(id -un)" 2>/dev/null
        for _ in $(seq 50); do
            [[ -z "$(squeue -h 2>/dev/null)" ]] && break
            sleep 0.2
        done
        scontrol shutdown >/dev/null 2>&1
    fi
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if ((rc != 0)); then
        for f in "$T"/log/*; do
            [[ -s "$f" ]] || continue
            say "--- last lines of $f" >&2
            tail -n 15 "$f" >&2
        done
    fi
    if [[ -n "${KEEP:-}" ]]; then
        say "kept $T"
    else
        rm -rf "$T"
    fi
    say "$( ((rc == 0)) && echo passed || echo "failed (exit $rc)") in $(elapsed) s"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Sorties ----------------------------------------------------------------
# Different windows of the sample sortie (6 scenes in 26.5 s), every other one
# mirrored, so that no two inputs are the same file; a few events each.
mkdir -p "$T/sorties/day1" "$T/sorties/day2"
for ((i = 0; i < SORTIES; i++)); do
    start=$(((i * 3) % 18))
    filter="null"
    ((i % 2)) && filter="hflip"
    day=$((i % 2 + 1))
    ffmpeg -nostdin -v error -ss "$start" -t 9 -i "$ROOT/tests/data/sample-sortie.mp4" \
        -vf "$filter" -c:v libx264 -preset ultrafast -threads 1 -an \
        "$T/sorties/day$day/sortie-$i.mp4"
done
say "made $SORTIES sorties in $T/sorties ($(elapsed) s)"

# --- Slurm on loopback ------------------------------------------------------
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
CPUS=$(nproc)
# Slurm drains a node that has less memory than declared: keep a margin.
MEM_MB=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))
USER_NAME="$(id -un)"
cat >"$SLURM_CONF" <<CONF
# A single-node cluster on loopback for scripts/cluster-check.sh.
ClusterName=lookout-check
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=$USER_NAME
SlurmdUser=$USER_NAME
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.socket
StateSaveLocation=$T/spool/ctld
SlurmdSpoolDir=$T/spool/d
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
KillWait=10
# sbatch --wait polls every 2 s while MinJobAge/3 allows it, else backs off to
# 32 s; a finished job's record is kept 6 s, long enough for its poll.
MinJobAge=6
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=check Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

# munged refuses a key that others can read; the folder is 0700.
if command -v mungekey >/dev/null; then
    mungekey --create --keyfile="$T/munge/munge.key"
else
    dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$T/munge/munge.key"
# --force: the socket's folder lies under /tmp, which munged would refuse.
munged --foreground --force --key-file="$T/munge/munge.key" \
    --socket="$T/munge/munge.socket" --pid-file="$T/munge/munged.pid" \
    --seed-file="$T/munge/munged.seed" --log-file="$T/log/munged.log" \
    >"$T/log/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    [[ -S "$T/munge/munge.socket" ]] && break
    sleep 0.1
done
[[ -S "$T/munge/munge.socket" ]] || die "munged did not start"
slurmctld -D -f "$SLURM_CONF" >"$T/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$T/log/slurmd.out" 2>&1 &
PIDS+=($!)
state=""
for _ in $(seq 150); do
    state="$(sinfo -h -N -o %T 2>/dev/null || true)"
    [[ "$state" == idle* ]] && break
    sleep 0.2
done
[[ "$state" == idle* ]] || die "the node is not idle after 30 s (state: ${state:-no answer})"
say "Slurm up: localhost with $CPUS CPUs and $MEM_MB MB, controller on port $CTLD_PORT ($(elapsed) s)"

# --- Helpers ----------------------------------------------------------------
export LOOKOUT
export LOOKOUT_ARGS="-q --stride $STRIDE --save-detections"
# One CPU per task, so that tasks run side by side; the script's defaults
# ask for more than this machine may have.
SBATCH_FLAGS=(--parsable --cpus-per-task=1 --mem=2G --chdir="$T" --output="$T/log/task-%A_%a.log")

# Shard runs of array job $1 under $2, K = 0..SHARDS-1.
shard_runs() {
    local k
    for ((k = 0; k < SHARDS; k++)); do echo "$2/$1-shard-$k-of-$SHARDS"; done
}

check_runs() { # OUT JOB
    local runs=()
    mapfile -t runs < <(shard_runs "$2" "$1")
    for r in "${runs[@]}"; do
        [[ -f "$r/manifest.jsonl" ]] || die "no run folder $r"
        "$LOOKOUT" verify "$r" >"$T/log/verify.out" 2>&1 || {
            cat "$T/log/verify.out" >&2
            die "lookout verify $r"
        }
    done
    python3 "$UNION" "$T/whole/whole" "${runs[@]}" || die "the union of job $2's shards is not the whole run"
}

# Field $2 of run.json in run folder $1, or "" while it is not there.
run_field() {
    python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1]))[sys.argv[2]])
except Exception: print("")' "$1/run.json" "$2"
}

# Whether run folder $1 is running and has closed at least one event.
mid_run() {
    [[ "$(run_field "$1" status)" == running ]] && grep -q '"step":"close"' "$1/events.jsonl" 2>/dev/null
}

# --- 1. The array, then one unsharded run ------------------------------------
t0=$(date +%s.%N)
JOB=$(LOOKOUT_OUT="$T/array" sbatch "${SBATCH_FLAGS[@]}" --wait --array=0-$((SHARDS - 1)) \
    "$ARRAY" "$T/sorties") || die "sbatch --wait: the array job failed"
array_s=$(python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
say "array job $JOB: $SHARDS shards in $array_s s"

t0=$(date +%s.%N)
# shellcheck disable=SC2086 # LOOKOUT_ARGS is split on purpose
"$LOOKOUT" screen "$T/sorties" $LOOKOUT_ARGS --run-id whole --out "$T/whole" >/dev/null \
    || die "the unsharded run failed"
whole_s=$(python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
say "unsharded run in $whole_s s"
check_runs "$T/array" "$JOB"

# --- 2. Retries: requeue one task, cancel and resubmit another ---------------
OUT2="$T/retry"
LOOKOUT_OUT="$OUT2" sbatch "${SBATCH_FLAGS[@]}" --wait --array=0-$((SHARDS - 1)) \
    "$ARRAY" "$T/sorties" >"$T/log/retry.jobid" 2>"$T/log/retry.sbatch" &
WAITER=$!
for _ in $(seq 100); do
    [[ -s "$T/log/retry.jobid" ]] && break
    sleep 0.1
done
JOB2="$(cat "$T/log/retry.jobid")"
[[ -n "$JOB2" ]] || die "sbatch of the retry array printed no job id"
RUN1="$OUT2/$JOB2-shard-1-of-$SHARDS"
requeued=""
cancelled=""
cancel_k=""
for _ in $(seq 2400); do
    if [[ -z "$requeued" ]]; then
        if mid_run "$RUN1"; then
            scontrol requeue "${JOB2}_1" && requeued="mid-run (after its first closed event)"
        elif [[ "$(run_field "$RUN1" status)" == finished ]]; then
            # It finished before it was caught: its retry must then leave
            # the finished run as it is.
            scontrol requeue "${JOB2}_1" && requeued="after it finished"
        fi
    fi
    # Any other task caught mid-run is cancelled, to be submitted again.
    if [[ -z "$cancel_k" ]]; then
        for ((k = 0; k < SHARDS; k++)); do
            ((k == 1)) && continue
            if mid_run "$OUT2/$JOB2-shard-$k-of-$SHARDS"; then
                scancel "${JOB2}_$k" && cancel_k=$k && cancelled="task $k cancelled mid-run (after its first closed event)"
                break
            fi
        done
    fi
    [[ -n "$requeued" && -n "$cancel_k" ]] && break
    kill -0 "$WAITER" 2>/dev/null || break
    sleep 0.05
done
[[ -n "$requeued" ]] || die "task 1 of job $JOB2 was never seen running nor finished"
# No other task caught running: task 0 is submitted again all the same,
# and must leave its finished run as it is.
cancel_k="${cancel_k:-0}"
say "task 1 requeued $requeued; ${cancelled:-no other task caught mid-run}"
# A requeued task waits two minutes before it may start again (Slurm's
# default); start it now.
for _ in $(seq 300); do
    reason="$(squeue -h -j "${JOB2}_1" -o %r 2>/dev/null || true)"
    if [[ "$reason" == BeginTime ]]; then
        scontrol update JobId="${JOB2}_1" StartTime=now
    fi
    [[ -z "$reason" ]] && break
    sleep 0.2
done
wait "$WAITER" || true # a cancelled task fails the array
JOB3=$(LOOKOUT_OUT="$OUT2" LOOKOUT_RUN_JOB="$JOB2" LOOKOUT_SHARDS="$SHARDS" \
    sbatch "${SBATCH_FLAGS[@]}" --wait --array="$cancel_k" "$ARRAY" "$T/sorties") \
    || die "task $cancel_k submitted again (job $JOB3) failed"
grep -q "restart 1" "$T"/log/task-"${JOB2}"_1.log || die "task 1 of job $JOB2 did not run again"
for ((k = 0; k < SHARDS; k++)); do
    r="$OUT2/$JOB2-shard-$k-of-$SHARDS"
    [[ "$(run_field "$r" status)" == finished ]] || die "$r: not finished after the retries"
done
# A shard stopped part-way records its resume in run.json.
for r in "$RUN1" ${cancelled:+"$OUT2/$JOB2-shard-$cancel_k-of-$SHARDS"}; do
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("resumes") or []))' "$r/run.json")
    ((n >= 1)) || [[ "$r" == "$RUN1" && "$requeued" == "after it finished" ]] \
        || die "$r was stopped mid-run but records no resume"
    say "$(basename "$r"): $n resume(s) recorded"
done
say "task $cancel_k submitted again as job $JOB3 with LOOKOUT_RUN_JOB=$JOB2"
check_runs "$OUT2" "$JOB2"
say "retried shards: the union holds, no event twice"

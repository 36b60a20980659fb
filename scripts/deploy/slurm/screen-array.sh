#!/usr/bin/env bash
# Screens a batch of sorties as a Slurm job array: one shard per array task.
#
#   sbatch --array=0-6 scripts/deploy/slurm/screen-array.sh /shared/sorties
#
# Task K of an array of N tasks runs
#
#   lookout screen INPUT... --shard K/N --run-id JOB-shard-K-of-N --out OUT
#
# with K = SLURM_ARRAY_TASK_ID and N = SLURM_ARRAY_TASK_COUNT, so give the
# array as 0-(N-1) (a throttle such as --array=0-99%10 is fine). Every task
# lists the whole batch and keeps its part; the N run folders together hold
# the events, evidence and detections of one unsharded run.
#
# Retries. The run id comes from SLURM_ARRAY_JOB_ID, which stays the same
# when a task is requeued (--requeue below, `scontrol requeue JOB_K`, a
# pre-empted or failed node), and lookout resumes a run folder given the
# same --run-id in the same --out: a retried task is the same command
# again. It carries on where the stopped attempt left off, with no duplicate
# events, or exits 0 at once if its shard had finished. To rerun one task by
# hand after the array ended, submit it with the original job id and N:
#
#   LOOKOUT_RUN_JOB=1234 LOOKOUT_SHARDS=7 sbatch --array=3 screen-array.sh /shared/sorties
#
# Arguments: the inputs (files or folders, walked recursively), as for
# `lookout screen`. Every node must see them at the same path. Without
# arguments, $LOOKOUT_INPUTS (paths separated by whitespace) is used.
#
# Environment (all optional; sbatch passes the submitting shell's
# environment to the tasks, or use --export):
#   LOOKOUT             the lookout binary [default: lookout on PATH]
#   LOOKOUT_OUT         folder of the run folders, on the shared file system
#                       [default: runs/ in the folder sbatch was called from]
#   LOOKOUT_MODEL       ONNX model (--model) [default: the config's, else
#                       the bundled demo model]
#   LOOKOUT_CONFIG      lookout.toml (--config)
#   LOOKOUT_STORE       postgres://user@host:port/db: the shared review store.
#                       lookout reads it from the environment itself, so a
#                       password in the URL stays out of `ps` and run.json.
#                       Unset: each run keeps review.sqlite in its folder.
#   LOOKOUT_SIGNING_KEY the Ed25519 key that seals every run, on a path every
#                       node reads [default: ~/.config/lookout/signing.key,
#                       shared where home folders are]. The first task makes
#                       it if missing (atomically: racing tasks keep one).
#   LOOKOUT_SHARD_BY    hash (default) or index (--shard-by)
#   LOOKOUT_SHARD_ROOT  folder the hash keys are relative to (--shard-root),
#                       for inputs from several folders
#   LOOKOUT_ARGS        more `lookout screen` flags, split on whitespace,
#                       e.g. "--stride 2 --save-detections --device cuda"
#   LOOKOUT_RUN_JOB     job id for the run ids [default: SLURM_ARRAY_JOB_ID]
#   LOOKOUT_SHARDS      N [default: SLURM_ARRAY_TASK_COUNT]
#
# Exit status: lookout's (0 finished, 1 with --fail-on-flag and an event,
# 2 inputs failed), 64 for a wrong array or missing inputs.
#
# The #SBATCH lines below are defaults; flags given to sbatch override them.
# Set the partition, and a GPU (--gres=gpu:1 with LOOKOUT_ARGS="--device cuda")
# where the model runs on one.
#
#SBATCH --job-name=lookout-screen
# One task screens its inputs with 2 inference workers by default (see
# `lookout screen --workers/--jobs`); give it the cores it uses.
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=12:00:00
# Requeue the task when its node fails or it is pre-empted; it resumes.
#SBATCH --requeue
# A requeued task appends to its log instead of overwriting the first try's.
#SBATCH --open-mode=append
#SBATCH --output=lookout-screen-%A_%a.log
# Ask for SIGTERM a minute before the time limit, so lookout stops cleanly
# and the task can be requeued and resume.
#SBATCH --signal=B:TERM@60
set -euo pipefail

fail() {
    printf 'screen-array: %s\n' "$*" >&2
    exit 64
}

K="${SLURM_ARRAY_TASK_ID:-}"
N="${LOOKOUT_SHARDS:-${SLURM_ARRAY_TASK_COUNT:-}}"
JOB="${LOOKOUT_RUN_JOB:-${SLURM_ARRAY_JOB_ID:-}}"
[[ -n "$K" && -n "$N" && -n "$JOB" ]] \
    || fail "not a Slurm array task (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT and SLURM_ARRAY_JOB_ID unset): submit with sbatch --array=0-(N-1)"
[[ "$K" =~ ^[0-9]+$ && "$N" =~ ^[0-9]+$ && "$N" -ge 1 ]] || fail "task $K of $N: not numbers"
if ((K >= N)); then
    fail "array task $K with $N tasks: give the array as --array=0-$((N - 1)) (task ids 0 to N-1), or set LOOKOUT_SHARDS to N"
fi

inputs=("$@")
if ((${#inputs[@]} == 0)); then
    # shellcheck disable=SC2206 # whitespace-separated on purpose
    inputs=(${LOOKOUT_INPUTS:-})
fi
((${#inputs[@]})) || fail "no inputs: give them as arguments or in LOOKOUT_INPUTS"

LOOKOUT="${LOOKOUT:-lookout}"
OUT="${LOOKOUT_OUT:-${SLURM_SUBMIT_DIR:-.}/runs}"
export LOOKOUT_SIGNING_KEY="${LOOKOUT_SIGNING_KEY:-${HOME:?HOME unset: set LOOKOUT_SIGNING_KEY}/.config/lookout/signing.key}"

args=(screen "${inputs[@]}" --shard "$K/$N" --run-id "$JOB-shard-$K-of-$N" --out "$OUT")
[[ -n "${LOOKOUT_MODEL:-}" ]] && args+=(--model "$LOOKOUT_MODEL")
[[ -n "${LOOKOUT_CONFIG:-}" ]] && args+=(--config "$LOOKOUT_CONFIG")
[[ -n "${LOOKOUT_SHARD_BY:-}" ]] && args+=(--shard-by "$LOOKOUT_SHARD_BY")
[[ -n "${LOOKOUT_SHARD_ROOT:-}" ]] && args+=(--shard-root "$LOOKOUT_SHARD_ROOT")
# shellcheck disable=SC2206 # whitespace-separated on purpose
args+=(${LOOKOUT_ARGS:-})

mkdir -p "$OUT"
printf 'screen-array: task %s of %s (restart %s) on %s: %s %s\n' \
    "$K" "$N" "${SLURM_RESTART_COUNT:-0}" "$(hostname)" "$LOOKOUT" "${args[*]}" >&2
# exec: lookout itself gets Slurm's SIGTERM (requeue, pre-emption, time
# limit) and stops cleanly; the same command then resumes the run.
exec "$LOOKOUT" "${args[@]}"

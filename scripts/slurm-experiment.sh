#!/usr/bin/env bash
# `make experiment NAME=... SIZE=... SCHEDULER=slurm`: the experiment as a
# Slurm job array (README "Clusters: MPI and Slurm").
#   scripts/slurm-experiment.sh EXPDIR SIZE     (scripts/experiment.sh calls it)
# Writes into RESULTS/<size>/slurm/ (RESULTS as scripts/experiment.sh):
#   array.sbatch   one array task per run that has no summary.json yet; task i
#                  runs `scripts/experiment.sh EXPDIR SIZE` with SM_TASK=i,
#                  so a finished run is skipped and an interrupted one resumed
#                  exactly as the local runner does; --cpus-per-task = the
#                  size file's threads (default 1; threads = 0, all cores,
#                  asks for a whole node with --exclusive);
#   report.sbatch  the experiment report (analysis/experiment-report.sh), a
#                  job that depends on the array (afterany: it reports the
#                  runs that finished even when one failed);
# then submits both (sbatch --parsable) and prints their job ids.  Slurm's
# logs: RESULTS/<size>/slurm/<job>-<array job>_<task>.out.
# Data-parallel runs: with SM_NODES=N (make NODES=N) every task is one
# training over N nodes × SM_TASKS_PER_NODE (make TASKS_PER_NODE, default 1)
# MPI ranks of $SM_BIN-mpi (build/simsiam-mi-mpi) started by mpirun inside the allocation
# (OpenMPI reads it from Slurm); the global batch must divide into the ranks.
# SM_SBATCH_ARGS (make SBATCH_ARGS="--partition=... --time=...") go to both
# sbatch calls.  A shape `sbatch --test-only` says the partition cannot start
# now (NODES beyond the partition's nodes, threads beyond a node's cores, or
# nodes drained or down) is submitted with a warning.
# Exit 1 on errors (sbatch's message printed), 2 on usage.
set -uo pipefail

fail() { echo "experiment: error: $1" >&2; exit "${2:-1}"; }

[ $# -eq 2 ] || fail "usage: scripts/slurm-experiment.sh EXPDIR quick|medium|full" 2
exp=$1 size=$2
root=$(cd "$(dirname "$0")/.." && pwd)
name=$(basename "$exp")
[ -f "$exp/source" ] && fail "SCHEDULER=slurm runs training experiments; $name is a refit experiment: run it with SCHEDULER=local" 2
for f in config runs "$size.config"; do
  [ -f "$exp/$f" ] || fail "missing experiment file ($exp/$f)"
done
command -v sbatch >/dev/null 2>&1 || fail "SCHEDULER=slurm needs sbatch on PATH (Slurm's client)"
nodes=${SM_NODES:-}
per_node=${SM_TASKS_PER_NODE:-1}
[ -z "$nodes" ] || [[ $nodes =~ ^[1-9][0-9]*$ ]] || fail "NODES must be a positive integer, not '$nodes'" 2
[[ $per_node =~ ^[1-9][0-9]*$ ]] || fail "TASKS_PER_NODE must be a positive integer, not '$per_node'" 2
[ -n "$nodes" ] || [ "$per_node" = 1 ] || fail "TASKS_PER_NODE=$per_node needs NODES (the data-parallel runs' nodes)" 2

exp_abs=$(cd "$exp" && pwd)
results_root=$(realpath -m "${SM_RESULTS:-$exp/results}")
results=$results_root/$size
bin=${SM_BIN:-build/simsiam-mi}
# data-parallel runs need the MPI build beside it (make builds both)
[ -n "$nodes" ] && [ "${bin%-mpi}" = "$bin" ] && bin=$bin-mpi
bin=$(realpath -m "$bin")
[ -x "$bin" ] || fail "no executable $(basename "$bin"), run make first ($bin)"
# The paths go into the sbatch files' shell lines and #SBATCH --output, where
# $, quotes or blanks would be expanded or split and % is a Slurm pattern.
for path in "$root" "$exp_abs" "$results_root" "$bin"; do
  [[ $path =~ ^[A-Za-z0-9._/+,@:=-]+$ ]] ||
    fail "SCHEDULER=slurm needs paths of letters, digits and ._/+,@:=- only, not '$path'" 2
done

runs_text=$(awk -v who=experiment -v file="$exp/runs" -f "$root/scripts/runs.awk" <"$exp/runs") || exit 1
mapfile -t run_lines <<<"$runs_text"
. "$root/scripts/jobs.sh"
read_size_file "$exp" "$size"
threads=$(size_value threads)
threads=${threads:-1}

# The runs still to do, as array indices (the tasks check again when they start).
todo=()
for i in "${!run_lines[@]}"; do
  run=${run_lines[$i]%% *}
  [ -f "$results/$run/summary.json" ] || todo+=("$i")
done

slurm_dir=$results/slurm
mkdir -p "$slurm_dir" 2>/dev/null || fail "cannot create $slurm_dir"
# Not while a local runner or this experiment's array tasks run on these
# results, nor beside another submission writing the same sbatch files
# (tasks still pending hold no lock: squeue shows them).
. "$root/scripts/lock.sh"
lock_results "$results"
if [ "$threads" = 0 ]; then cpus="#SBATCH --exclusive"; else cpus="#SBATCH --cpus-per-task=$threads"; fi
if [ -n "$nodes" ]; then
  shape="#SBATCH --nodes=$nodes
#SBATCH --ntasks-per-node=$per_node"
  # without --bind-to none mpirun pins each rank to one core (its default for 2 ranks or
  # fewer), whatever --cpus-per-task gave the task
  launch="export SM_LAUNCH='mpirun --bind-to none'"
else
  shape="#SBATCH --ntasks=1"
  launch=""
fi
array_ids=$(IFS=,; echo "${todo[*]}")

cat >"$slurm_dir/array.sbatch" <<EOF
#!/bin/bash
# $name ($size): one task per run of $exp_abs/runs, written by scripts/slurm-experiment.sh.
# Task i runs scripts/experiment.sh with SM_TASK=i: run line i, skipped when finished, resumed
# from its checkpoint when interrupted.  Resubmit this file to finish what a crash left.
#SBATCH --job-name=sm-$name-$size
#SBATCH --array=${array_ids:-0}
$shape
$cpus
#SBATCH --output="$slurm_dir/%x-%A_%a.out"
cd "$root" || exit 1
export SM_SCHEDULER=local SM_TASK=\$SLURM_ARRAY_TASK_ID SM_BIN="$bin" SM_RESULTS="$results_root" SM_KEYS='${SM_KEYS:-}'
$launch
exec scripts/experiment.sh "$exp_abs" $size
EOF

cat >"$slurm_dir/report.sbatch" <<EOF
#!/bin/bash
# $name ($size): the experiment report, after the array job (written by scripts/slurm-experiment.sh).
#SBATCH --job-name=sm-$name-$size-report
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output="$slurm_dir/%x-%j.out"
cd "$root" || exit 1
export SM_RESULTS="$results_root"
exec analysis/experiment-report.sh "$exp_abs" $size
EOF

read -r -a extra <<<"${SM_SBATCH_ARGS:-}"
dependency=()
if [ ${#todo[@]} -gt 0 ]; then
  # A shape the partition cannot hold (NODES beyond the partition's nodes, threads beyond a node's cores)
  # would stay PENDING without a word; sbatch --test-only says so now.  It cannot tell
  # that from nodes that are drained or down for a while, so this warns and submits.
  verdict=$(sbatch --test-only "${extra[@]}" "$slurm_dir/array.sbatch" 2>&1) ||
    echo "experiment: warning: Slurm cannot start these runs now ($(tail -n 1 <<<"$verdict")): unless nodes are" \
         "drained or down for a while, NODES, TASKS_PER_NODE, the size file's threads or SBATCH_ARGS ask for more" \
         "than the partition has (sinfo); they stay PENDING until scancel" >&2
  array_job=$(sbatch --parsable "${extra[@]}" "$slurm_dir/array.sbatch") || fail "sbatch refused $slurm_dir/array.sbatch"
  array_job=${array_job%%;*}
  dependency=(--dependency=afterany:"$array_job")
  echo "experiment $name ($size): ${#todo[@]} of ${#run_lines[@]} runs submitted as Slurm array job $array_job ($slurm_dir/array.sbatch)"
else
  echo "experiment $name ($size): all ${#run_lines[@]} runs finished; only the report is submitted"
fi
report_job=$(sbatch --parsable "${extra[@]}" "${dependency[@]}" "$slurm_dir/report.sbatch") ||
  fail "sbatch refused $slurm_dir/report.sbatch"
report_job=${report_job%%;*}
echo "experiment $name ($size): report job $report_job writes $results/report.md when the runs end (squeue -j ${array_job:+$array_job,}$report_job)"

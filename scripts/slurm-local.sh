#!/usr/bin/env bash
# A throwaway single-node Slurm on this machine (for tests/test_experiments_slurm.c,
# and to try SCHEDULER=slurm without a cluster): Debian's munge and slurm-wlm
# (scripts/deps.sh test), everything under DIR, nothing system-wide touched.
#   scripts/slurm-local.sh start DIR [OWNER]  start munged, slurmctld, slurmd; wait until
#                                      the node is idle; print "export SLURM_CONF=DIR/slurm.conf".
#                                      With OWNER (a PID) a watchdog stops them when that
#                                      process ends, even killed.  A failed start stops
#                                      what it started.
#   scripts/slurm-local.sh stop DIR    end every daemon start recorded in DIR/pids (by PID)
# Root only (slurmd must run as root to start jobs as their users).  The
# settings that work in a container without systemd or cgroups: a private
# munge key and socket (its directory mode 755), AuthInfo=socket=... so every
# client finds it, proctrack/linuxproc, task/affinity (pinned ranks: unpinned
# MPI ranks were ~40x slower per allreduce), select/cons_tres with CR_Core, no
# accounting, the node as Sockets=1 CoresPerSocket=<cores>.  Exit 1 with the
# daemon's log tail when something does not start.
set -uo pipefail

fail() { echo "slurm-local: error: $1" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
owner=${3:-}
[ -n "$dir" ] && { [ "$cmd" = start ] || [ "$cmd" = stop ]; } ||
  { echo "usage: scripts/slurm-local.sh start DIR [OWNER_PID] | stop DIR" >&2; exit 2; }
dir=$(realpath -m "$dir")
# slurm.conf's values end at a blank: its paths cannot hold one (a relative DIR's neither).
case $dir in *[[:space:]]*)
  echo "slurm-local: error: slurm.conf cannot name a path with blanks: choose a DIR without them ($dir)" >&2; exit 2 ;;
esac

stop() {
  if [ -f "$dir/watchdog.pid" ]; then
    local dog
    dog=$(cat "$dir/watchdog.pid")
    rm -f "$dir/watchdog.pid"
    [ "$dog" != "${BASHPID:-}" ] && kill "$dog" 2>/dev/null
  fi
  [ -f "$dir/pids" ] || return 0
  local pid
  while read -r pid; do
    kill "$pid" 2>/dev/null
  done <"$dir/pids"
  # up to 10 s for a clean exit, then SIGKILL what is left of OUR daemons
  for _ in $(seq 50); do
    local alive=0
    while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$dir/pids"
    [ $alive -eq 0 ] && break
    sleep 0.2
  done
  while read -r pid; do kill -9 "$pid" 2>/dev/null; done <"$dir/pids"
  rm -f "$dir/pids"
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi

[ "$(id -u)" -eq 0 ] || fail "needs root (slurmd starts jobs as their users)"
[ -z "$owner" ] || [[ $owner =~ ^[0-9]+$ ]] || fail "OWNER must be a PID, not '$owner'"
for d in munged mungekey slurmctld slurmd sinfo; do
  command -v $d >/dev/null 2>&1 || fail "$d not found: install munge and slurm-wlm (scripts/deps.sh test)"
done
mkdir -p "$dir"/munge "$dir"/spool/ctld "$dir"/spool/d "$dir"/log || fail "cannot create $dir"
chmod 755 "$dir" "$dir/munge"
host=$(hostname -s)
# A node of the machine's cores, whatever OMP_NUM_THREADS says: a node of one
# CPU would leave a two-task job pending for ever.
cores=$("$(dirname "$0")/cores.sh")
# Started daemons are recorded at once, so stop finds them even if a later step fails.
record() { echo "$1" >>"$dir/pids"; }
fail() { echo "slurm-local: error: $1" >&2; stop; exit 1; }
if [ -n "$owner" ]; then
  # Detached from our stdout, so a caller reading it does not wait for the watchdog.
  ( while kill -0 "$owner" 2>/dev/null; do sleep 1; done; stop ) >/dev/null 2>&1 </dev/null &
  echo $! >"$dir/watchdog.pid"
fi

# Daemons run in the foreground (-F / -D) as our children, so $! is their PID.
mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 ||
  fail "mungekey could not create $dir/munge/munge.key"
chmod 600 "$dir/munge/munge.key"
munged -F --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
  --force >"$dir/log/munged.out" 2>&1 &
record $!

cat >"$dir/slurm.conf" <<EOF
ClusterName=simsiam-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=${SM_SLURM_PORT:-16817}
SlurmdPort=$(( ${SM_SLURM_PORT:-16817} + 1 ))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# the dependent report job starts within a second, not at the next 60 s scheduling pass
SchedulerParameters=sched_interval=1,bf_interval=1
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
NodeName=$host CPUs=$cores Sockets=1 CoresPerSocket=$cores ThreadsPerCore=1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf

for _ in $(seq 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$dir/munge/munge.socket" ] || { tail -5 "$dir/log/munged.log" "$dir/log/munged.out" >&2; fail "munged did not start"; }

slurmctld -D -i -f "$dir/slurm.conf" >"$dir/log/slurmctld.out" 2>&1 &
record $!
slurmd -D -f "$dir/slurm.conf" >"$dir/log/slurmd.out" 2>&1 &
record $!

for _ in $(seq 150); do
  state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
  [ "$state" = idle ] && break
  sleep 0.2
done
if [ "${state:-}" != idle ]; then
  tail -n 5 "$dir"/log/slurmctld.log "$dir"/log/slurmd.log "$dir"/log/*.out >&2 2>/dev/null
  fail "the node did not become idle within 30 s (state '${state:-none}'); logs in $dir/log"
fi
echo "export SLURM_CONF=$dir/slurm.conf"

#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the tests and for trying
# hydra/launcher=submitit_slurm before a real cluster (Debian's slurm-wlm and munge).
#
#   sudo scripts/slurm/local_cluster.sh start   # install, configure, start; wait for sinfo idle
#   sudo scripts/slurm/local_cluster.sh stop    # end exactly the daemons `start` started
#   scripts/slurm/local_cluster.sh status
#
# One partition, `debug`, holds this machine with its real CPUs and memory, so a job that
# asks for more than that can never start (tests/test_slurm.py relies on it). No cgroups
# (proctrack/linuxproc) and no accounting database: the setup of a laptop or a CI runner.
# slurm.conf goes to /etc/slurm/ (where sbatch, squeue and submitit look), and only if
# that file is absent or was written by this script; pids and logs go to $STATE.
set -euo pipefail

STATE=${LOSSBENCH_SLURM_STATE:-/var/tmp/lossbench-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by lossbench scripts/slurm/local_cluster.sh"
PARTITION=debug

die() { echo "local_cluster.sh: $*" >&2; exit 1; }

install() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" = 0 ] || die "slurm-wlm and munge are not installed; run as root to install them"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
  fi
}

write_conf() {
  if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; not touching a real cluster's config"
  fi
  local host cpus mem_mb
  host=$(hostname -s)
  cpus=$(nproc)
  # What slurmd may hand out: the memory less 1 GiB for the system and the daemons.
  mem_mb=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
  mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$STATE/log"
  cat > "$CONF" <<EOF
$MARK
ClusterName=lossbench
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobRequeue=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# Quick turnover for tests: a finished job leaves the queue after 30 s.
MinJobAge=30
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  if [ -s "$STATE/munged.pid" ] && kill -0 "$(cat "$STATE/munged.pid")" 2>/dev/null; then
    return
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/lossbench-munged.pid
  cp /run/munge/lossbench-munged.pid "$STATE/munged.pid"
}

wait_idle() {
  local host
  host=$(hostname -s)
  for _ in $(seq 1 60); do
    if sinfo -h -n "$host" -o %T 2>/dev/null | grep -qx idle; then
      echo "slurm: node $host idle in partition $PARTITION ($(nproc) CPUs)"
      return
    fi
    sleep 1
  done
  sinfo >&2 || true
  die "the node did not become idle within 60 s; see $STATE/log/"
}

start() {
  [ "$(id -u)" = 0 ] || die "start needs root (it writes $CONF and starts the daemons)"
  install
  write_conf
  start_munge
  if ! { [ -s "$STATE/slurmctld.pid" ] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null; }; then
    /usr/sbin/slurmctld -c   # -c: a clean start, no jobs left from an earlier cluster
  fi
  if ! { [ -s "$STATE/slurmd.pid" ] && kill -0 "$(cat "$STATE/slurmd.pid")" 2>/dev/null; }; then
    /usr/sbin/slurmd
  fi
  wait_idle
}

stop() {
  local name pid
  for name in slurmd slurmctld munged; do
    [ -s "$STATE/$name.pid" ] || continue
    pid=$(cat "$STATE/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$STATE/$name.pid"
  done
  echo "slurm: stopped"
}

status() {
  local name
  for name in munged slurmctld slurmd; do
    if [ -s "$STATE/$name.pid" ] && kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null; then
      echo "$name: running (pid $(cat "$STATE/$name.pid"))"
    else
      echo "$name: not running"
    fi
  done
  sinfo 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac

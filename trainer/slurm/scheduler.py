"""What the launchers ask Slurm, through its own commands (sbatch, scontrol, squeue, sinfo,
scancel), each answer or refusal turned into one line.

submitit asks `sacct` for job states, which needs Slurm's accounting database: without one
every poll warns ("Slurm accounting storage is disabled") and the states are unknown.
The queue itself (squeue) answers on every cluster, and it also says why a job waits.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from lossbench.errors import UserError

TIMEOUT_S = 30
# Pending reasons that no amount of waiting changes: the request exceeds what the partition
# offers or allows (Slurm's squeue(1) "JOB REASON CODES").
NEVER_STARTS = {
    "PartitionConfig": "it asks for more than any node of the partition has",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "PartitionTimeLimit": "its time limit is above the partition's",
    "BadConstraints": "no node of the partition meets its constraints",
    "InvalidQOS": "its QOS does not exist for it",
    "InvalidAccount": "its account does not exist for it",
}


@dataclass
class Node:
    cpus: int
    memory_mb: int


def _run(args: list[str], who: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UserError(f"{who}: `{' '.join(args[:2])}` gave no answer within {TIMEOUT_S} s; "
                        "is the Slurm controller reachable from this machine?") from None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def check_reachable(who: str, partition: str | None, account: str | None, qos: str | None
                    ) -> None:
    """sbatch present, the controller up, the partition known; else UserError, before any run
    of the sweep is claimed."""
    if shutil.which("sbatch") is None:
        raise UserError(f"{who}: sbatch is not on PATH, so no job can be submitted from this "
                        "machine; launch the sweep from a Slurm login node, or drop "
                        "hydra/launcher for a local sweep.")
    ping = _run(["scontrol", "ping"], who)
    if ping.returncode != 0 or " is UP" not in ping.stdout:
        raise UserError(f"{who}: the Slurm controller does not answer "
                        f"(scontrol ping: {_first_line(ping.stdout + ping.stderr)}).")
    # Slurm's own verdict on the partition, account and QOS, without submitting anything.
    test = ["sbatch", "--test-only", "--wrap", "true"]
    for flag, value in (("--partition", partition), ("--account", account), ("--qos", qos)):
        if value:
            test.append(f"{flag}={value}")
    done = _run(test, who)
    if done.returncode != 0:
        raise UserError(f"{who}: Slurm refuses the job: {_first_line(done.stderr)}.")


def queue(job_ids: list[str]) -> dict[str, tuple[str, str]]:
    """(state, reason) of each job still in the queue, by its id (array tasks as 12_3)."""
    if not job_ids:
        return {}
    done = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T|%r", "-j", ",".join(job_ids)],
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    states = {}
    for line in done.stdout.splitlines():
        job_id, state, reason = [*line.split("|"), "", ""][:3]
        states[job_id.strip()] = (state.strip(), reason.strip())
    return states


def largest_node(partition: str | None) -> Node | None:
    """The most CPUs and memory one node of the partition (or of every partition) offers."""
    args = ["sinfo", "-h", "-N", "-o", "%c|%m"] + ([f"--partition={partition}"]
                                                   if partition else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S)
    nodes = []
    for line in done.stdout.splitlines():
        cpus, memory = line.split("|")
        if cpus.strip().isdigit() and memory.strip().rstrip("+").isdigit():
            nodes.append(Node(int(cpus), int(memory.strip().rstrip("+"))))
    if not nodes:
        return None
    return Node(max(n.cpus for n in nodes), max(n.memory_mb for n in nodes))


def cancel(job_ids: list[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=TIMEOUT_S)

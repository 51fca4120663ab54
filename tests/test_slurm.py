"""hydra/launcher=submitit_slurm against a real Slurm cluster (scripts/slurm/local_cluster.sh
starts one on this machine): the job array, a job cancelled and resumed, a job that hits
its time limit and is requeued, and every way a submission can fail, each as one line.

Skipped where no cluster answers; LOSSBENCH_REQUIRE_SLURM=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, TINY_REGRESSION, one_line, train_cli
from numerics import assert_same_metrics

from trainer.rundir import results

REQUIRED = os.environ.get("LOSSBENCH_REQUIRE_SLURM") == "1"
SLURM = ["hydra/launcher=submitit_slurm", "hydra.launcher.cpus_per_task=1",
         "hydra.launcher.mem_gb=1"]
SWEEP = ["-m", "task=regression", "loss=l1,mse", "trainer.max_epochs=2", *TINY_REGRESSION]


def cluster_answers() -> bool:
    if shutil.which("scontrol") is None:
        return False
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    return " is UP" in ping.stdout


@pytest.fixture(scope="module", autouse=True)
def cluster() -> None:
    if cluster_answers():
        return
    message = ("no Slurm cluster answers `scontrol ping` (start one with "
               "`sudo scripts/slurm/local_cluster.sh start`)")
    if REQUIRED:
        pytest.fail(f"LOSSBENCH_REQUIRE_SLURM=1 but {message}")
    pytest.skip(message)


def records(sweep: Path) -> dict[str, dict]:
    return {p.parent.name: results.read(p.parent) for p in sweep.glob("*/metrics.json")}


def queue() -> list[str]:
    done = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T|%r"], capture_output=True,
                          text=True, timeout=30)
    return done.stdout.split()


def files(run_dir: Path) -> list[str]:
    return sorted("EVENTS" if p.name.startswith("events.out") else
                  p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())


def test_a_sweep_runs_as_a_job_array_and_leaves_what_the_basic_launcher_leaves(tmp_path):
    local = train_cli(*SWEEP, "loss=l1,mse,ce", f"hydra.sweep.dir={tmp_path / 'basic'}")
    slurm = train_cli(*SWEEP, "loss=l1,mse,ce", *SLURM, f"hydra.sweep.dir={tmp_path / 'slurm'}")
    # ce on regression is skipped under both, so the exit code is 0 for both.
    assert local.returncode == slurm.returncode == 0, slurm.stderr
    assert "job(s) this launch: 2 ok, 1 skipped" in slurm.stdout
    assert "sacct" not in slurm.stdout + slurm.stderr  # no accounting database here
    # What went to sbatch: the launcher's settings, as the array's one script.
    (script,) = (tmp_path / "slurm" / ".submitit").glob("*/*_submission.sh")
    text = script.read_text()
    for line in ("#SBATCH --cpus-per-task=1", "#SBATCH --mem=1GB", "#SBATCH --time=60",
                 "#SBATCH --array=0-2%3", "#SBATCH --job-name=lossbench",
                 "#SBATCH --signal=USR2@120"):
        assert line in text, line
    ours, theirs = records(tmp_path / "slurm"), records(tmp_path / "basic")
    assert ours.keys() == theirs.keys() and len(ours) == 3
    for name, record in theirs.items():
        assert files(tmp_path / "slurm" / name) == files(tmp_path / "basic" / name)
        assert ours[name]["status"] == record["status"]
        for h, g in zip(ours[name]["history"], record["history"], strict=True):
            assert_same_metrics({k: v for k, v in h.items() if "/" in k},
                                {k: v for k, v in g.items() if "/" in k})


@pytest.mark.parametrize(("overrides", "message"), [
    (["hydra.launcher.cpus_per_task=64"], "can never start: Slurm holds it pending "
                                          "(PartitionConfig"),
    (["hydra.launcher.partition=nope"], "invalid partition specified: nope"),
])
def test_a_submission_slurm_refuses_is_one_line_and_claims_no_run(tmp_path, overrides,
                                                                   message):
    done = train_cli(*SWEEP, *SLURM, *overrides, f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("error: hydra/launcher=submitit_slurm: ") and message in line
    if "cpus_per_task" in message:
        assert "hydra.launcher.cpus_per_task" in line
    assert not list(tmp_path.glob("*/metrics.json"))
    assert not [j for j in queue() if "PENDING" in j]  # the array was cancelled


def test_no_sbatch_or_no_controller_is_one_line_before_any_run(tmp_path):
    bare = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    done = train_cli(*SWEEP, *SLURM, f"hydra.sweep.dir={tmp_path / 'a'}", env=bare)
    assert done.returncode == 2 and "sbatch is not on PATH" in one_line(done.stderr)
    # A controller that does not answer: this cluster's config with a port nothing listens on.
    conf = tmp_path / "slurm.conf"
    text = Path("/etc/slurm/slurm.conf").read_text()
    conf.write_text(text + "\nSlurmctldPort=9\n")
    done = train_cli(*SWEEP, *SLURM, f"hydra.sweep.dir={tmp_path / 'b'}",
                     env={**os.environ, "SLURM_CONF": str(conf)})
    assert done.returncode == 2
    assert "the Slurm controller does not answer" in one_line(done.stderr)
    assert not list(tmp_path.glob("*/*/metrics.json"))


def assert_resumed_like(straight: Path, cut: Path, epochs: int) -> None:
    """Every run of the cut sweep, resumed, ends as the uninterrupted sweep's: ok, each
    epoch once, the same metrics."""
    for name, record in records(straight).items():
        resumed = results.read(cut / name)
        assert resumed["status"] == "ok"
        assert [h["epoch"] for h in resumed["history"]] == list(range(1, epochs + 1))
        for h, g in zip(resumed["history"], record["history"], strict=True):
            assert_same_metrics({k: v for k, v in h.items() if "/" in k},
                                {k: v for k, v in g.items() if "/" in k})


def wait_for(condition, proc: subprocess.Popen, timeout: float = 240) -> None:
    start = time.monotonic()
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.5)


def test_a_cancelled_job_is_recorded_and_the_sweep_resumes_it(tmp_path):
    sweep = [*SWEEP, "trainer.max_epochs=40", *SLURM]
    straight = train_cli(*sweep[:-len(SLURM)], f"hydra.sweep.dir={tmp_path / 'straight'}")
    assert straight.returncode == 0, straight.stderr
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *sweep,
                             f"hydra.sweep.dir={tmp_path / 'cut'}"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: list((tmp_path / "cut").glob("0_*/checkpoints/last.pt")), proc)
    job = next(j.split("|")[0] for j in queue() if j.endswith("_0|RUNNING|None"))
    subprocess.run(["scancel", job], check=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err  # a run did not finish: the basic launcher's rule
    assert "job(s) this launch: 1 interrupted, 1 ok" in out
    cut = records(tmp_path / "cut")
    (first,) = [r for name, r in cut.items() if name.startswith("0_")]
    assert first["status"] == "interrupted" and first["reason"].startswith("SIGTERM during")
    finished = {n: (tmp_path / "cut" / n / "metrics.json").read_text()
                for n, r in cut.items() if r["status"] == "ok"}
    again = train_cli(*sweep, f"hydra.sweep.dir={tmp_path / 'cut'}", "trainer.resume=true")
    assert again.returncode == 0, again.stderr
    assert "job(s) this launch: 1 ok; 1 already finished" in again.stdout
    for name, text in finished.items():
        assert (tmp_path / "cut" / name / "metrics.json").read_text() == text
    assert_resumed_like(tmp_path / "straight", tmp_path / "cut", epochs=40)


def test_a_job_at_its_time_limit_is_requeued_and_continues(tmp_path):
    """A one-minute limit and more than a minute of training: Slurm's warning (SIGUSR2,
    signal_delay_s early) stops the run after a whole epoch, submitit requeues the job with
    trainer.resume=true, and the run goes on from there. Slurm holds a requeued job for two
    minutes (BeginTime); the test lets it start at once, to keep CI short. Slurm checks time
    limits on its own cycle, so the signal comes 30 to 60 s into the job: the run trains for
    about 90 s on this 2-core machine (200 epochs took 46 s, and were not cut)."""
    sweep = ["-m", "task=regression", "loss=l1", "task.n_train=20000", "trainer.max_epochs=400",
             *SLURM,
             "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=30",
             "hydra.launcher.max_num_timeout=40", f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *sweep], cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while proc.poll() is None:
            for job in queue():
                job_id, state, reason = job.split("|")
                if state == "PENDING" and reason == "BeginTime":
                    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"],
                                   capture_output=True)
            time.sleep(1)
        _out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    (run_dir,) = [p.parent for p in tmp_path.glob("*/metrics.json")]
    record = results.read(run_dir)
    assert record["status"] == "ok" and record["epochs_completed"] == 400
    assert [h["epoch"] for h in record["history"]] == list(range(1, 401))
    log = (run_dir / "train.log").read_text()
    assert "resuming" in log and "after epoch" in log  # it was requeued at least once
    logs = "".join(p.read_text() for p in (tmp_path / ".submitit").rglob("*.out"))
    assert "Requeued job" in logs


POPULATION = ["hydra/launcher=population", "hydra.launcher.executor=slurm",
              "hydra.launcher.slurm.cpus_per_task=1", "hydra.launcher.slurm.mem_gb=1"]


def test_populations_go_to_slurm_as_one_job_each_and_leave_the_basic_launchers_runs(tmp_path):
    grid = ["-m", "task=regression", "loss=l1,mse,huber", "seed=0,1", "trainer.max_epochs=2",
            *TINY_REGRESSION]
    local = train_cli(*grid, f"hydra.sweep.dir={tmp_path / 'basic'}")
    slurm = train_cli(*grid, *POPULATION, "hydra.launcher.max_members=3",
                      f"hydra.sweep.dir={tmp_path / 'slurm'}")
    assert local.returncode == slurm.returncode == 0, slurm.stderr
    assert "6 job(s) as 2 Slurm job(s) of 3, 3 run(s)" in slurm.stdout + slurm.stderr
    assert len(list((tmp_path / "slurm" / ".submitit").glob("*/*_result.pkl"))) == 2
    assert "job(s) this launch: 6 ok" in slurm.stdout
    assert "sacct" not in slurm.stdout + slurm.stderr
    ours, theirs = records(tmp_path / "slurm"), records(tmp_path / "basic")
    assert ours.keys() == theirs.keys() and len(ours) == 6
    for name, record in theirs.items():
        assert files(tmp_path / "slurm" / name) == files(tmp_path / "basic" / name)
        for h, g in zip(ours[name]["history"], record["history"], strict=True):
            assert_same_metrics({k: v for k, v in h.items() if "/" in k},
                                {k: v for k, v in g.items() if "/" in k})


def test_a_cancelled_population_job_leaves_its_members_resumable(tmp_path):
    grid = [*SWEEP, "trainer.max_epochs=40"]
    # Compared with the same populations trained here without a cut: over 40 epochs of
    # outliers, population and basic drift apart by more than tests/numerics.py allows.
    straight = train_cli(*grid, "hydra/launcher=population",
                         f"hydra.sweep.dir={tmp_path / 'straight'}")
    assert straight.returncode == 0, straight.stderr
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *grid, *POPULATION,
                             f"hydra.sweep.dir={tmp_path / 'cut'}"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # A population checkpoints every epoch in population.pt (last.pt only when a member leaves).
    wait_for(lambda: len(list((tmp_path / "cut").glob("*/checkpoints/population.pt"))) == 2,
             proc)
    job = next(j.split("|")[0] for j in queue() if "|RUNNING|" in j)
    subprocess.run(["scancel", job], check=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "job(s) this launch: 2 interrupted" in out
    assert {r["status"] for r in records(tmp_path / "cut").values()} == {"interrupted"}
    again = train_cli(*grid, *POPULATION, f"hydra.sweep.dir={tmp_path / 'cut'}",
                      "trainer.resume=true")
    assert again.returncode == 0, again.stderr
    assert_resumed_like(tmp_path / "straight", tmp_path / "cut", epochs=40)


def test_a_population_job_that_can_never_start_names_the_population_launchers_keys(tmp_path):
    done = train_cli(*SWEEP, *POPULATION, "hydra.launcher.slurm.cpus_per_task=64",
                     f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("error: hydra/launcher=population (executor=slurm): job ")
    assert "can never start" in line and "lower hydra.launcher.slurm.cpus_per_task" in line
    assert not list(tmp_path.glob("*/metrics.json"))
    assert not [j for j in queue() if "PENDING" in j]

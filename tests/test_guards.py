"""Cut off, corrupt, full or read-only: one line and an honest record, never a lost run
(issue 16, cases 5, 6, 7 and 9)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import QUICK_REGRESSION, ROOT, one_line, train_cli

from trainer.rundir import checkpoint, results
from trainer.rundir.checkpoint import CorruptCheckpoint
from trainer.rundir.results import CorruptRecord

# trainer.max_epochs is each test's own (a later override wins over QUICK's).
QUICK = ["task=regression", "loss=mse", *QUICK_REGRESSION]


def train_patched(patch: str, *args: str) -> subprocess.CompletedProcess:
    """train.py in a fresh interpreter after `patch` ran there: a fault at an exact moment."""
    code = (f"{patch}\nimport runpy, sys\nsys.argv = ['train.py', *{list(args)!r}]\n"
            f"runpy.run_path({str(ROOT / 'train.py')!r}, run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})


# While the checkpoint's temp file exists: torch.save is where the bytes are written.
DURING_CHECKPOINT = """
import os, signal, torch
real_save = torch.save
def save(obj, f, *args, **kwargs):
    if isinstance(obj, dict) and "optimizer" in obj:
        {action}
    return real_save(obj, f, *args, **kwargs)
torch.save = save
"""


def test_sigterm_inside_the_first_checkpoint_write_waits_for_it(tmp_path):
    """Case 5: the signal lands while checkpoints/.last.pt.* exists; the record and the
    checkpoint still agree, and a resume continues after that epoch."""
    run_dir = tmp_path / "run"
    args = [*QUICK, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}"]
    patch = DURING_CHECKPOINT.format(action="os.kill(os.getpid(), signal.SIGTERM)")
    result = train_patched(patch, *args)
    assert result.returncode == 130, result.stderr
    record = results.read(run_dir)
    state = checkpoint.load(run_dir, torch.device("cpu"))
    # The checkpoint is written on a writer thread while the next epoch starts: the signal
    # is reported in epoch 1's end or epoch 2's start, whichever the main thread was in.
    assert record["status"] == "interrupted"
    assert record["reason"] in ("SIGTERM during epoch 1", "SIGTERM during epoch 2")
    assert record["epochs_completed"] == state["epoch"] == 1
    assert not list((run_dir / "checkpoints").glob(".last.pt.*"))
    resumed = train_cli(*args, "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert results.read(run_dir)["epochs_completed"] == 2


def test_sigkill_mid_write_leaves_no_claim_and_its_temp_file_is_removed(tmp_path):
    run_dir = tmp_path / "run"
    args = [*QUICK, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}"]
    patch = DURING_CHECKPOINT.format(
        action="f.write(b'half a checkpoint'); f.flush(); os.kill(os.getpid(), signal.SIGKILL)")
    assert train_patched(patch, *args).returncode == -9
    assert list((run_dir / "checkpoints").glob(".last.pt.*")), "the kill left its temp file"
    record = results.read(run_dir)
    assert record["status"] == "running" and record["epochs_completed"] == 0
    # As a kill in the middle of any other atomic write would leave them:
    planted = [run_dir / ".metrics.json.k1ll3d00", run_dir / ".hydra" / ".config.yaml.k1ll3d00"]
    for path in planted:
        path.write_text("half")
    resumed = train_cli(*args, "trainer.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert not list((run_dir / "checkpoints").glob(".last.pt.*"))
    assert not any(path.exists() for path in planted)
    assert results.read(run_dir)["status"] == "ok"


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A run stopped after its first epoch, with its checkpoint: resumable."""
    run_dir = tmp_path_factory.mktemp("stopped") / "run"
    result = train_cli(*QUICK, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    record = results.read(run_dir)
    record["status"] = "interrupted"
    results.write(run_dir, record)
    return run_dir


def spoil(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.unlink()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "random bytes":
        path.write_bytes(os.urandom(4096))
    elif how == "a list":
        torch.save([1, 2, 3], path)
    elif how == "a folder":
        path.mkdir()


@pytest.mark.parametrize("how", ["truncated", "a folder"])
def test_a_corrupt_checkpoint_is_one_line_naming_it(stopped_run, tmp_path, how):
    """Case 6, through train.py: no torch traceback or advice, no silent restart."""
    run_dir = tmp_path / "run"
    shutil.copytree(stopped_run, run_dir)
    spoil(run_dir / checkpoint.CHECKPOINT, how)
    before = (run_dir / "metrics.json").read_bytes()
    result = train_cli(*QUICK, "trainer.max_epochs=2", "trainer.resume=true",
                       f"hydra.run.dir={run_dir}")
    line = one_line(result, code=2)
    assert line.startswith(f"error: {run_dir / checkpoint.CHECKPOINT} ")
    assert "delete it to restart the run from epoch 1" in line
    assert (run_dir / "metrics.json").read_bytes() == before


@pytest.mark.parametrize("how", ["truncated", "empty", "random bytes", "a list", "a folder"])
def test_every_kind_of_bad_checkpoint_is_refused(tmp_path, how):
    path = tmp_path / checkpoint.CHECKPOINT
    path.parent.mkdir()
    torch.save({"epoch": 1, "model": {}, "optimizer": {}, "rng": {}, "record": {}}, path)
    assert checkpoint.load(tmp_path, torch.device("cpu"))["epoch"] == 1
    spoil(path, how)
    with pytest.raises(CorruptCheckpoint, match=f"^{path} .*start over in another run dir"):
        checkpoint.load(tmp_path, torch.device("cpu"))


@pytest.mark.parametrize("content", ["[]", "{not json", '{"task": 1}', "folder"])
def test_a_bad_metrics_json_is_one_line_naming_it(tmp_path, content):
    """Case 9: `[]`, a folder, torn or wrong-typed: one line, with or without resume."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    path = run_dir / "metrics.json"
    if content == "folder":
        path.mkdir()
    else:
        path.write_text(content)
    with pytest.raises(CorruptRecord, match=f"^{path} .*delete it"):
        results.read(run_dir)
    for extra in ([], ["trainer.resume=true"]):
        result = train_cli(*QUICK, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}", *extra)
        assert one_line(result, code=2).startswith(f"error: {path} ")


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_an_interrupt_during_start_up_is_recorded(tmp_path, signal_name):
    """Case 9: stopped while building the model, the run says so where it points."""
    run_dir = tmp_path / "run"
    patch = ("import os, signal, trainer.models as m\nreal = m.build\n"
             "def build(*a, **k):\n"
             f"    os.kill(os.getpid(), signal.{signal_name})\n    return real(*a, **k)\n"
             "m.build = build\n")
    result = train_patched(patch, *QUICK, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}")
    line = one_line(result, code=130)
    assert line.startswith(f"interrupted: {run_dir}/metrics.json says how far it got")
    record = results.read(run_dir)
    assert record["status"] == "interrupted"
    assert record["reason"] == f"{signal_name} during start-up"


@pytest.fixture
def mounted(tmp_path):
    """A small tmpfs of our own (root only): `mounted(size, ro=False)` → its path."""
    if os.geteuid() != 0:
        pytest.skip("a full or read-only disk is simulated with a tmpfs mount, which needs root")
    mounts: list[Path] = []

    def mount(size: str, read_only: bool = False) -> Path:
        point = tmp_path / f"disk{len(mounts)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(point)
        return point

    try:
        yield mount
    finally:
        for point in mounts:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_full_disk_is_one_line_and_a_failed_record(mounted):
    """Case 7: the checkpoint does not fit; the small record still does."""
    run_dir = mounted("3m") / "run"
    # 1024² weights with Adam's two moments: a ~13 MB checkpoint on a 3 MB disk.
    result = train_cli(*QUICK, "model.hidden_sizes=[1024,1024]", "trainer.max_epochs=1",
                       f"hydra.run.dir={run_dir}")
    line = one_line(result, code=2)
    assert line == (f"error: cannot write {run_dir / checkpoint.CHECKPOINT}: No space left on "
                    "device; free some space or choose a run dir on another disk.")
    record = results.read(run_dir)
    assert record["status"] == "failed" and "No space left on device" in record["reason"]
    assert record["epochs_completed"] == 0  # the epoch whose checkpoint failed is not claimed
    assert not list((run_dir / "checkpoints").glob(".last.pt.*"))


@pytest.mark.parametrize("mode", ["-m", "run"])
def test_a_read_only_place_is_one_line(mounted, mode):
    disk = mounted("1m", read_only=True)
    key = "hydra.sweep.dir" if mode == "-m" else "hydra.run.dir"
    args = ["-m"] if mode == "-m" else []
    result = train_cli(*args, *QUICK, "trainer.max_epochs=1", f"{key}={disk / 'out'}")
    assert one_line(result, code=2) == (f"error: cannot write {disk / 'out'}: Read-only file "
                                        "system; choose a run dir on a writable disk.")


def test_an_existing_read_only_run_dir_is_one_line(mounted):
    disk = mounted("1m")
    (disk / "run").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    result = train_cli(*QUICK, "trainer.max_epochs=1", f"hydra.run.dir={disk / 'run'}")
    assert "Read-only file system" in one_line(result, code=2)


def test_processed_being_a_file_does_not_stop_a_run(data_dir, tmp_path):
    (data_dir / "FashionMNIST" / "processed").write_text("not a folder")
    result = train_cli("task=fashion_mnist", "loss=ce", f"task.data_dir={data_dir}",
                       "trainer.max_epochs=1", "trainer.device=cpu",
                       f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    assert results.read(tmp_path / "run")["status"] == "ok"


def test_report_skips_records_with_wrong_typed_fields(tmp_path, capsys):
    from scripts.report import main as report_main

    good = {"task": "regression", "loss": "mse", "model": "mlp", "optim": "adam", "lr": 1e-3,
            "seed": 0, "status": "ok", "reason": None, "epochs_completed": 1,
            "final": {"test/mse": 0.5}, "best": {"test/mse": 0.4}, "history": [],
            "wall_s": 1.0, "hparams": {"seed": 0, "optim.lr": 1e-3}}
    bad = {"final": [], "hparams": "x", "best": {"test/mse": "low"}, "epochs_completed": "1"}
    for name, record in [("good", good), *((k, {**good, k: v}) for k, v in bad.items())]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(record))
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "metrics.json").write_text("[]")
    (tmp_path / "folder" / "metrics.json").mkdir(parents=True)
    (tmp_path / "good" / ".hydra").mkdir()
    (tmp_path / "good" / ".hydra" / "overrides.yaml").write_text("{not: [yaml")
    assert report_main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "1 run: 1 ok." in out
    assert err.count("warning: skipped") == 6 and "Traceback" not in err


def no_run_left_running(root: Path) -> None:
    assert not [p for p in root.rglob("metrics.json") if '"running"' in p.read_text()]


# Issue 25 C: any OSError making the run or sweep dir is one line naming the path and the
# setting that chose it. `{f}` is an existing file.
PLACES = [
    ("{f}", "File exists; a file of that name is in the way; set {key} to a folder, or move "
     "the file."),
    ("{f}/sub", "Not a directory; a part of the path is a file, not a folder; set {key} to a "
     "folder path."),
    ("/proc/x", "No such file or directory; its parent cannot hold new folders; set {key} to a "
     "place you can create."),
    ("{tmp}/" + "x" * 300, "File name too long; a name in it is longer than the file system "
     "allows; shorten {key}."),
]


@pytest.mark.parametrize("mode", ["run", "basic", "population"])
@pytest.mark.parametrize(("place", "why"), PLACES, ids=["file", "file/sub", "/proc", "long"])
def test_a_run_or_sweep_dir_that_cannot_be_made_is_one_line(tmp_path, mode, place, why):
    afile = tmp_path / "afile"
    afile.write_text("")
    path = place.format(f=afile, tmp=tmp_path)
    key = "hydra.run.dir" if mode == "run" else "hydra.sweep.dir"
    args = [] if mode == "run" else ["-m", f"hydra/launcher={mode}"]
    result = train_cli(*args, *QUICK, "trainer.max_epochs=1", f"{key}={path}")
    assert one_line(result, code=2) == f"error: cannot write {path}: {why.format(key=key)}"
    no_run_left_running(tmp_path)


@pytest.mark.parametrize("logs", ["{f}", "/proc/nope"])
def test_lossbench_logs_that_cannot_hold_runs_is_one_line(tmp_path, logs):
    afile = tmp_path / "afile"
    afile.write_text("")
    env = {**os.environ, "LOSSBENCH_LOGS": logs.format(f=afile)}
    line = one_line(train_cli(*QUICK, "trainer.max_epochs=1", env=env), code=2)
    assert line.startswith(f"error: cannot write {logs.format(f=afile)}/runs/regression-mse/")
    assert "set LOSSBENCH_LOGS (which hydra.run.dir is under) to " in line
    no_run_left_running(tmp_path)


def test_a_data_dir_name_too_long_is_one_line(tmp_path):
    data_dir = tmp_path / ("x" * 300)
    result = train_cli("task=mnist", "loss=ce", "trainer.device=cpu", f"task.data_dir={data_dir}",
                       "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'run'}")
    assert one_line(result, code=2) == (
        f"error: task.data_dir={str(data_dir)!r} is not valid: File name too long; set "
        "task.data_dir (or LOSSBENCH_DATA) to a folder.")
    no_run_left_running(tmp_path)


def test_empty_lossbench_logs_is_unset(tmp_path):
    """Issue 25 G: `LOSSBENCH_LOGS= python train.py` wrote to /runs/...; empty means unset."""
    env = {**os.environ, "LOSSBENCH_LOGS": ""}
    result = train_cli(*QUICK, "trainer.max_epochs=1", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    (record,) = (tmp_path / "logs" / "runs" / "regression-mse").glob("*/metrics.json")
    assert json.loads(record.read_text())["status"] == "ok"


@pytest.mark.parametrize(("value", "expected"), [("", "data"), ("/elsewhere", "/elsewhere")])
def test_empty_lossbench_data_is_unset(monkeypatch, value, expected):
    from conftest import compose_cfg

    monkeypatch.setenv("LOSSBENCH_DATA", value)
    assert compose_cfg("task=mnist").task.data_dir == expected

"""A real `tensorboard --logdir` on a small sweep, read over HTTP as the browser reads it.

Runs only on 127.0.0.1, with a free port, bounded waits, and the server stopped in a
`finally`. Skipped only where TensorBoard is not installed, and never in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import TINY_REGRESSION, train_cli

from trainer.rundir import results

if os.environ.get("CI") == "true":
    import tensorboard  # noqa: F401  CI must run this test: a missing TensorBoard fails it
else:
    pytest.importorskip("tensorboard", reason="TensorBoard is not installed")

STARTUP_S = 120  # a loaded 2-core machine starts TensorBoard in seconds; leave margin
STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def post(url: str, body: dict) -> object:
    """The HParams plugin takes its request protos as JSON in a POST body."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_for_runs(base: str, expected: set[str], server: subprocess.Popen) -> list[str]:
    """Poll /data/runs until TensorBoard has loaded every run (or give up, bounded)."""
    deadline = time.monotonic() + STARTUP_S
    runs: list[str] = []
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"tensorboard exited with {server.returncode}")
        try:
            runs = get(f"{base}/data/runs")
        except OSError:  # not listening yet
            runs = []
        if set(runs) >= expected:
            return runs
        time.sleep(0.25)
    raise AssertionError(f"tensorboard listed {runs} after {STARTUP_S} s, not {expected}")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    sweep = tmp_path_factory.mktemp("tensorboard") / "sweep"
    done = train_cli("-m", "task=regression", "loss=l1,mse", "trainer.max_epochs=1",
                     "trainer.device=cpu", *TINY_REGRESSION, f"hydra.sweep.dir={sweep}")
    assert done.returncode == 0, done.stderr
    return sweep


def test_tensorboard_serves_the_sweeps_runs_tags_and_hparams(sweep):
    records = {p.name: results.read(p) for p in sweep.iterdir() if p.is_dir()}
    assert len(records) == 2
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(sweep),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        runs = wait_for_runs(base, set(records), server)
        assert set(runs) == set(records)

        tags = get(f"{base}/data/plugin/scalars/tags")
        for name, record in records.items():
            # data/<key> for each realised corruption share (train and validation parts)
            shares = {f"data/{k}" for k in record["data"] if not k.startswith("n_")}
            expected = {*record["final"], "train/loss", "epoch", *shares}
            assert set(tags[name]) == expected, name
        texts = get(f"{base}/data/plugin/text/tags")
        assert all(texts[name] == ["env/text_summary"] for name in records)

        groups = post(f"{base}/data/plugin/hparams/session_groups", {
            "experimentName": "", "allowedStatuses": STATUSES, "startIndex": 0,
            "sliceSize": 100})
        assert groups["totalSize"] == 2
        by_run = {g["sessions"][0]["name"]: g for g in groups["sessionGroups"]}
        assert set(by_run) == set(records)
        for name, record in records.items():
            group = by_run[name]
            assert group["sessions"][0]["status"] == "STATUS_SUCCESS"
            assert group["hparams"]["loss.name"] == record["loss"]
            assert group["hparams"]["optim.lr"] == pytest.approx(record["lr"])
            shown = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
            for tag, value in record["final"].items():
                assert shown[tag] == pytest.approx(value, rel=1e-6), (name, tag)

        experiment = post(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
        swept = {h["name"]: h for h in experiment["hparamInfos"]}
        assert swept["loss.name"]["differs"] is True
        assert sorted(swept["loss.name"]["domainDiscrete"]) == ["l1", "mse"]
    finally:
        server.terminate()
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate(timeout=20)

"""Users' own losses, models and tasks by entry points (trainer/plugins.py): the example
package end to end, and every way a plugin can be wrong as one line with exit 2.

Broken plugins are real distributions: a `*.dist-info` folder with `entry_points.txt` on
PYTHONPATH, which importlib.metadata finds as it finds an installed package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, one_line, train_cli
from numerics import assert_same_metrics
from omegaconf import OmegaConf

REQUIRED = os.environ.get("LOSSBENCH_REQUIRE_PLUGIN") == "1"


def example_installed() -> None:
    if importlib.util.find_spec("lossbench_example") is None:
        message = "the example plugin is not installed (pip install -e examples/plugin)"
        if REQUIRED:
            pytest.fail(f"LOSSBENCH_REQUIRE_PLUGIN=1 but {message}")
        pytest.skip(message)


def fake_plugin(root: Path, dist: str, entry_points: str, modules: dict[str, str]) -> None:
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    for name, text in modules.items():
        (root / f"{name}.py").write_text(text)


GOOD_LOSS = """
from typing import ClassVar
import torch.nn.functional as F
from lossbench import Loss, logits_and_index
class Sq(Loss):
    "A test loss."
    adapters: ClassVar = {"multiclass": logits_and_index}
    def __init__(self, kind, scale: float = 1.0):
        super().__init__(kind)
        self.scale = scale
    def criterion(self, out, y):
        return self.scale * F.cross_entropy(out, y)
"""


@pytest.mark.parametrize(("entry_points", "modules", "message"), [
    ("[lossbench.losses]\nbroken = broken_mod:Broken\n",
     {"broken_mod": "import not_a_module_anywhere\n"},
     "error: plugin fakepkg: entry point lossbench.losses broken = broken_mod:Broken failed "
     "to import: ModuleNotFoundError: No module named 'not_a_module_anywhere'."),
    ("[lossbench.losses]\nodd = odd_mod:Odd\n", {"odd_mod": "class Odd:\n    pass\n"},
     "error: plugin fakepkg: entry point lossbench.losses odd = odd_mod:Odd: "
     "<class 'odd_mod.Odd'> is not a lossbench.Loss subclass."),
    ("[lossbench.losses]\nsq = sq_mod:Sq\n",
     {"sq_mod": GOOD_LOSS.replace("scale: float = 1.0", "scale=1.0")},
     "error: plugin fakepkg: entry point lossbench.losses sq = sq_mod:Sq: Sq's parameters "
     "scale have no annotation"),
    ("[lossbench.losses]\nmse = sq_mod:Sq\n", {"sq_mod": GOOD_LOSS},
     "error: plugin fakepkg: entry point lossbench.losses mse = sq_mod:Sq: loss=mse is already "
     "lossbench's own loss; rename the entry point."),
    ("[lossbench.models]\nnet = net_mod:Net\n", {"net_mod": "def Net():\n    pass\n"},
     "is not an nn.Module subclass taking (input_shape, n_outputs, **keys)."),
    ("[lossbench.tasks]\nhalf = half_mod:HALF\n", {"half_mod": "HALF = object()\n"},
     "does not follow lossbench.Task: it lacks KIND, N_OUTPUTS, METRICS, Config, build."),
    ("[lossbench.configs]\nconfs = no_such_pkg\n", {},
     "entry point lossbench.configs confs = no_such_pkg: no_such_pkg is not an importable "
     "package"),
])
def test_a_broken_plugin_is_one_line_and_exit_2(tmp_path, entry_points, modules, message):
    fake_plugin(tmp_path / "site", "fakepkg", entry_points, modules)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = train_cli("task=regression", "trainer.max_epochs=1",
                     f"hydra.run.dir={tmp_path / 'run'}", env=env)
    assert done.returncode == 2
    line = one_line(done)
    assert line.startswith("error: plugin fakepkg: ") and message.removeprefix("error: ") in line
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_two_plugins_declaring_one_name_are_both_named(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "first", "[lossbench.losses]\nsq = sq_mod:Sq\n", {"sq_mod": GOOD_LOSS})
    fake_plugin(site, "second", "[lossbench.losses]\nsq = sq_mod:Sq\n", {})
    done = train_cli("task=regression", "trainer.max_epochs=1",
                     env={**os.environ, "PYTHONPATH": str(site)})
    assert done.returncode == 2
    line = one_line(done)
    assert "loss=sq is declared twice: by plugin " in line
    assert "plugin first:" in line and "plugin second:" in line


def test_a_plugin_loss_trains_and_its_parameters_are_checked(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "fakepkg", "[lossbench.losses]\nsq = sq_mod:Sq\n", {"sq_mod": GOOD_LOSS})
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = train_cli("task=digits", "loss=sq", "loss.scale=2.0", "trainer.max_epochs=1",
                     f"hydra.run.dir={tmp_path / 'run'}", env=env)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "ok" and record["loss"] == "sq"
    config = OmegaConf.load(tmp_path / "run" / ".hydra" / "config.yaml")
    assert OmegaConf.to_container(config.loss) == {"name": "sq", "scale": 2.0}
    bad = train_cli("task=digits", "loss=sq", "loss.scale=abc", env=env)
    assert bad.returncode == 2 and "loss.scale" in one_line(bad)
    wrong_kind = train_cli("task=regression", "loss=sq", "trainer.max_epochs=1",
                           f"hydra.run.dir={tmp_path / 'r2'}", env=env)
    assert wrong_kind.returncode == 2 and "sq" in one_line(wrong_kind)


def test_the_example_plugin_trains_its_loss_and_task_in_both_launchers(tmp_path):
    example_installed()
    grid = ["-m", "task=two_moons", "loss=bce_logits,poly1", "seed=0,1",
            "task.label_noise=0.2", "trainer.max_epochs=3"]
    basic = train_cli(*grid, f"hydra.sweep.dir={tmp_path / 'basic'}")
    together = train_cli(*grid, "hydra/launcher=population",
                         f"hydra.sweep.dir={tmp_path / 'pop'}")
    assert basic.returncode == together.returncode == 0, together.stderr
    assert "4 runs train together in 1 population of 4" in together.stdout + together.stderr
    for run in (tmp_path / "basic").glob("*/metrics.json"):
        ours = json.loads((tmp_path / "pop" / run.parent.name / "metrics.json").read_text())
        theirs = json.loads(run.read_text())
        assert ours["status"] == theirs["status"] == "ok"
        assert_same_metrics({k: v for k, v in ours["final"].items() if "/" in k},
                            {k: v for k, v in theirs["final"].items() if "/" in k})


def test_the_example_model_and_loss_on_a_real_table_and_the_report(tmp_path):
    """The plugin model is no plain nn.Sequential: the population launcher trains its runs
    one by one, and says so in one line."""
    example_installed()
    done = train_cli("-m", "task=breast_cancer", "model=resmlp", "loss=bce_logits,poly1",
                     "seed=range(3)", "trainer.max_epochs=3", "hydra/launcher=population",
                     f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert "train one by one: its model is a ResidualMLP" in done.stdout
    report = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"),
                             str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert report.returncode == 0, report.stderr
    assert "| poly1 |" in report.stdout and "6 runs: 6 ok" in report.stdout


def test_a_plugins_config_folder_adds_options_to_hydras_search_path(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "fakepkg", "[lossbench.configs]\nmine = my_confs\n", {})
    (site / "my_confs" / "experiment").mkdir(parents=True)
    (site / "my_confs" / "__init__.py").write_text("")
    (site / "my_confs" / "experiment" / "short.yaml").write_text(
        "# @package _global_\ntrainer:\n  max_epochs: 1\ntask:\n  n_train: 256\n")
    done = train_cli("experiment=short", f"hydra.run.dir={tmp_path / 'run'}",
                     env={**os.environ, "PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "ok" and record["epochs_completed"] == 1

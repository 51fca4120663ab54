"""loss=custom loss.target=module:Class: a loss tried from the working directory without
packaging it, checked against its class's annotated signature as a plugin's loss is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, train_cli

QUICK = ["task=wine", "trainer.max_epochs=1", "trainer.device=cpu", "logger=[]"]
POLY1 = (ROOT / "examples/plugin/lossbench_example/losses.py").read_text()
BARE = '''from typing import ClassVar
from lossbench import Loss, logits_and_index
class Bare(Loss):
    adapters: ClassVar = {"multiclass": logits_and_index}
    def __init__(self, kind, eps=1.0):
        super().__init__(kind)
'''


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    (tmp_path / "my_losses.py").write_text(POLY1)
    (tmp_path / "bare.py").write_text(BARE)
    return tmp_path


def test_a_class_from_the_working_directory_trains_with_its_parameter(cwd):
    result = train_cli("loss=custom", "loss.target=my_losses:Poly1", "loss.epsilon=2.0", *QUICK,
                       f"hydra.run.dir={cwd}/run", cwd=cwd)
    assert result.returncode == 0, result.stderr
    record = json.loads((cwd / "run" / "metrics.json").read_text())
    assert record["status"] == "ok" and record["loss"] == "custom"
    assert record["hparams"]["loss.epsilon"] == 2.0


@pytest.mark.parametrize(("args", "expected"), [
    (["loss.target=nomod:X"], "loss.target='nomod:X' is not valid: module nomod cannot be "
     "imported (ModuleNotFoundError: No module named 'nomod')."),
    (["loss.target=my_losses:Nope"], "loss.target='my_losses:Nope' is not valid: module "
     "my_losses ("),
    (["loss.target=my_losses:poly1"], "loss.target='my_losses:poly1' is not valid: <function "
     "poly1"),
    (["loss.target=bare:Bare"], "loss.target='bare:Bare' is not valid: Bare's parameters eps "
     "have no annotation"),
    (["loss.target=my_losses:Poly1", "loss.eps=2"], "loss.eps=2 is not valid: no such key; "
     "did you mean loss.epsilon?"),
    (["loss.target=my_losses:Poly1", "loss.epsilon=abc"], "loss.epsilon=abc is not valid: a "
     "finite number >= -1."),
    (["loss.target=my_losses:Poly1", "loss.epsilon=-3"], "loss.epsilon=-3 is not valid"),
    ([], "loss=custom needs loss.target=module:Class"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_each_mistake_is_one_line_and_exit_2(cwd, args, expected):
    result = train_cli("loss=custom", *args, *QUICK, f"hydra.run.dir={cwd}/run", cwd=cwd)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), lines

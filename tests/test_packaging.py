"""Installing the same way twice: pins, declared dependencies, license and citation."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib", reason="tomllib arrived in Python 3.11")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
INSTALL = "pip install -c constraints.txt torch==2.14.1 torchvision==0.29.1 -e '.[dev]'"


def pins() -> dict[str, Version]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, sep, version = line.partition("==")
        assert sep and name and version, f"not a name==version pin: {line!r}"
        assert canonicalize_name(name) not in found, f"pinned twice: {name}"
        found[canonicalize_name(name)] = Version(version)
    return found


def requirements() -> list[Requirement]:
    """Every dependency pyproject.toml lists, extras included, lossbench's own extras not."""
    listed = [*PYPROJECT["dependencies"],
              *(r for extra in PYPROJECT["optional-dependencies"].values() for r in extra)]
    return [r for r in map(Requirement, listed) if r.name != "lossbench"]


def test_no_dependency_is_listed_twice():
    names = [canonicalize_name(r.name) for r in requirements()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_dependency_is_pinned_within_its_declared_range():
    pinned = pins()
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{name}=={pinned[name]} is outside pyproject's {requirement.specifier}")


def test_pins_match_the_readme_and_ci_commands():
    pinned = pins()
    assert str(pinned["torch"]) == "2.14.1" and str(pinned["torchvision"]) == "0.29.1"
    assert "torch>=2.6" in PYPROJECT["dependencies"]  # get_total_norm arrived in 2.6
    ruff = next(r for r in PYPROJECT["optional-dependencies"]["dev"] if r.startswith("ruff"))
    assert ruff == f"ruff=={pinned['ruff']}"
    readme = (ROOT / "README.md").read_text()
    assert readme.count(f".venv/bin/{INSTALL}") == 2  # the main job and the tests
    assert ".venv/bin/pip freeze --exclude-editable > constraints.txt" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert f".venv/bin/{INSTALL.replace('pip install', 'pip install -q')}" in ci
    assert "pip freeze --exclude-editable) constraints.txt" in ci


def test_packages_imported_directly_are_declared():
    declared = {canonicalize_name(r.name) for r in requirements()}
    sources = [ROOT / "train.py", *(path for room in ("lossbench", "tasks", "trainer", "scripts")
                                    for path in ROOT.glob(f"{room}/**/*.py"))]
    imported = set()
    for path in sources:
        imported |= set(re.findall(r"^\s*(?:from|import) (\w+)", path.read_text(), re.M))
    # import name → distribution name, for the third-party packages the code imports
    distributions = {"torch": "torch", "torchvision": "torchvision", "hydra": "hydra-core",
                     "omegaconf": "omegaconf", "numpy": "numpy", "yaml": "pyyaml",
                     "scipy": "scipy", "sklearn": "scikit-learn", "tensorboard": "tensorboard",
                     "tbparse": "tbparse", "pandas": "pandas", "matplotlib": "matplotlib",
                     "tqdm": "tqdm", "PIL": "pillow"}
    for module in imported & set(distributions):
        assert distributions[module] in declared, f"{module} is imported but not declared"


def test_license_and_citation():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "lossbench contributors" in text
    assert PYPROJECT["license"] == "MIT" and PYPROJECT["license-files"] == ["LICENSE"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert {"cff-version", "message", "title", "authors"} <= set(cff)
    assert cff["license"] == "MIT" and str(cff["version"]) == PYPROJECT["version"]

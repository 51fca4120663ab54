"""Installing the same way twice: pins, declared dependencies, license and citation."""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.metadata
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from conftest import MODULES, ROOT, module_path
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from setuptools import find_namespace_packages

tomllib = pytest.importorskip("tomllib", reason="tomllib arrived in Python 3.11")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
WHEEL_ROOMS = ("lossbench", "tasks", "trainer")
CHECKOUT_ONLY = ("scripts", "train")
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


def imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function (absolute imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@functools.cache
def installed() -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """Import name → distributions, and hydra_plugins/<folder> → distributions: walking
    every installed file costs seconds, so once."""
    plugins: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or []:
            if file.parts[0] == "hydra_plugins" and len(file.parts) > 2:
                plugins.setdefault(file.parts[1], set()).add(
                    canonicalize_name(dist.metadata["Name"]))
    return packages_distributions(), plugins


def distribution_of(module: str) -> set[str]:
    """The installed distributions that provide a third-party import; hydra_plugins is a
    namespace several plugins share, so its modules go by their own folder."""
    parts = module.split(".")
    tops, plugins = installed()
    if parts[0] != "hydra_plugins":
        return {canonicalize_name(d) for d in tops.get(parts[0], [])}
    return plugins.get(parts[1], set())


def test_packages_imported_directly_are_declared():
    declared = {canonicalize_name(r.name) for r in requirements()}
    # numerics: tests/numerics.py, which scripts/kernel_spread.py puts on its path.
    ours = ({m.split(".")[0] for m in MODULES} - {"hydra_plugins"}) | {"train", "numerics"}
    third_party = set()
    for path in [ROOT / "train.py", *(module_path(m) for m in MODULES)]:
        third_party |= {m for m in imports(path) if m.split(".")[0] not in sys.stdlib_module_names
                        and m.split(".")[0] not in ours
                        and not m.startswith("hydra_plugins.lossbench")}
    assert "torch" in {m.split(".")[0] for m in third_party}  # the walk sees the imports
    for module in sorted(third_party):
        found = distribution_of(module)
        assert found, f"{module} is imported but no installed distribution provides it"
        assert found & declared, f"{module} comes from {sorted(found)}, not declared"


# Not imported: running them is their whole job (`python -m scripts.reporting` exits).
NOT_IMPORTED = {m for m in MODULES if m.endswith(".__main__")}


def test_every_module_imports():
    """The fast tier touches every module this way: one that no fast test imports still
    has to import (a stale name, a removed dependency, a syntax error fail here)."""
    failed = {}
    for module in sorted(set(MODULES) - NOT_IMPORTED):
        try:
            importlib.import_module(module)
        except Exception as err:
            failed[module] = f"{type(err).__name__}: {err}"
    assert not failed, failed
    assert len(MODULES) > 100  # the tree walk found the packages


def test_the_wheel_holds_every_module_of_its_packages_and_needs_no_other():
    """pyproject.toml's packages.find, as setuptools applies it (namespaces included): the
    wheel's modules are those under lossbench/, tasks/ and trainer/; scripts/, train.py and
    hydra_plugins/ run from the checkout (with configs/), so no wheel module imports them."""
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["packages"]["find"]["include"]
    packages = set(find_namespace_packages(where=str(ROOT), include=include))
    in_wheel = [m for m in MODULES if m.split(".")[0] in WHEEL_ROOMS]
    assert in_wheel and {m for m in MODULES if m.rpartition(".")[0] in packages
                         or m in packages} == set(in_wheel)
    for module in in_wheel:
        package = module if module_path(module).name == "__init__.py" else module.rpartition(".")[0]
        assert package in packages, f"{module} is left out of the wheel"
        outside = {m for m in imports(module_path(module))
                   if m.split(".")[0] in CHECKOUT_ONLY or m.startswith("hydra_plugins.lossbench")}
        assert not outside, f"{module} imports {sorted(outside)}, which the wheel lacks"


def test_license_and_citation():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "lossbench contributors" in text
    assert PYPROJECT["license"] == "MIT" and PYPROJECT["license-files"] == ["LICENSE"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert {"cff-version", "message", "title", "authors"} <= set(cff)
    assert cff["license"] == "MIT" and str(cff["version"]) == PYPROJECT["version"]

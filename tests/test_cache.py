"""The IDX data path: the decoded-tensor cache (rebuilt when stale or damaged) and prepare."""

from __future__ import annotations

import os

import pytest
import torch

import tasks
from lossbench.errors import UserError
from tasks import idx
from trainer.run import run


def cache_of(data_dir):
    return data_dir / "MNIST" / "processed" / idx.CACHE_FILE


def load(data_dir):
    return idx.load("MNIST", str(data_dir), download=False)


def same(a, b) -> bool:
    return all(x.dtype == y.dtype and torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_first_load_writes_the_cache_and_the_second_reads_it(data_dir, monkeypatch):
    first = load(data_dir)
    assert cache_of(data_dir).is_file()
    assert not list(cache_of(data_dir).parent.glob(".*.tmp"))  # the temp file was renamed

    def no_parsing(*args, **kwargs):
        raise AssertionError("the IDX files were parsed although the cache is fresh")

    monkeypatch.setattr(idx, "read_idx", no_parsing)
    assert same(load(data_dir), first)


@pytest.mark.numerics
def test_same_metrics_with_and_without_the_cache(make_cfg, data_dir, tmp_path):
    cfg = make_cfg("task=mnist", "loss=ce", "model=linear", "trainer.max_epochs=1")
    uncached = run(cfg, tmp_path / "a")
    assert cache_of(data_dir).is_file()
    cached = run(cfg, tmp_path / "b")
    assert cached["final"] == uncached["final"] and cached["data"] == uncached["data"]


def test_a_changed_raw_file_rebuilds_the_cache(data_dir):
    old = load(data_dir)
    # New contents of the same size: only the mtime tells the files apart.
    labels = data_dir / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    blob = bytearray(labels.read_bytes())
    blob[8:] = bytes((b + 1) % 10 for b in blob[8:])
    labels.write_bytes(bytes(blob))
    os.utime(labels, ns=(1_000_000_000, 1_000_000_000))
    new = load(data_dir)
    assert torch.equal(new[1], (old[1] + 1) % 10)
    assert same(load(data_dir), new)  # and the rebuilt cache holds the new data


def test_a_corrupt_cache_is_ignored_and_replaced(data_dir):
    expected = load(data_dir)
    for garbage in (b"not a torch file", b""):
        cache_of(data_dir).write_bytes(garbage)
        assert same(load(data_dir), expected)
        assert cache_of(data_dir).stat().st_size > 1000


def test_a_cache_with_the_wrong_contents_is_ignored(data_dir):
    expected = load(data_dir)
    blob = torch.load(cache_of(data_dir), weights_only=True)
    blob["tensors"][0] = blob["tensors"][0].float()  # right stamp, wrong dtype
    torch.save(blob, cache_of(data_dir))
    assert same(load(data_dir), expected)


def test_an_unwritable_data_dir_skips_caching(data_dir, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Root writes anywhere and CI runs as root, so make the write itself fail.
    monkeypatch.setattr(idx.torch, "save", read_only)
    assert load(data_dir)[0].shape == (200, 28, 28)
    assert not cache_of(data_dir).exists() and not list(cache_of(data_dir).parent.iterdir())


def test_a_corrupt_idx_file_is_still_named_after_a_cache_was_written(make_cfg, data_dir):
    load(data_dir)
    path = data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(UserError, match="train-images-idx3-ubyte is not a valid IDX image file"):
        tasks.get("mnist").build(make_cfg("task=mnist").task)


def test_prepare_is_the_textbook_normalisation_and_leaves_its_input_alone():
    prepare = idx.normaliser(0.2860, 0.3530)
    x = torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16)
    expected = ((x.unsqueeze(1).float() / 255.0) - 0.2860) / 0.3530
    torch.testing.assert_close(prepare(x), expected)
    stored = torch.zeros(2, 3, 3)  # the in-place ops must work on a copy, whatever the dtype
    prepare(stored)
    assert torch.equal(stored, torch.zeros(2, 3, 3))

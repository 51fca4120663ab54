"""Tasks: MNIST through torchvision's real reader, clear errors, binary subsets, outliers."""

from __future__ import annotations

import pytest
import torch
from conftest import write_idx, write_mnist_like

import tasks
from lossbench.contract import KINDS
from lossbench.errors import UserError
from tasks import idx
from trainer import schemas


def test_mnist_reads_idx_files_through_torchvision(make_cfg, data_dir):
    data = tasks.get("mnist").build(make_cfg("task.val_fraction=0", "task=mnist").task)
    assert data.x_train.shape == (200, 28, 28) and data.x_train.dtype == torch.uint8
    assert data.y_train.dtype == torch.int64 and set(data.y_train.tolist()) == set(range(10))
    assert data.x_test.shape == (100, 28, 28)
    batch = data.prepare(data.x_train[:4])
    assert batch.shape == (4, 1, 28, 28) and batch.dtype == torch.float32


def test_missing_files_name_all_four_and_where(make_cfg, tmp_path):
    cfg = make_cfg("task=mnist", f"task.data_dir={tmp_path / 'empty'}", "task.download=false")
    with pytest.raises(UserError) as err:
        tasks.get("mnist").build(cfg.task)
    message = str(err.value)
    assert str(tmp_path / "empty" / "MNIST" / "raw") in message
    for name in idx.FILES:
        assert name in message
    assert "task.download=true" in message and "\n" not in message


def test_failed_download_still_says_where_to_put_the_files(make_cfg, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr("torchvision.datasets.MNIST.download", no_network)
    cfg = make_cfg("task=mnist", f"task.data_dir={tmp_path}", "task.download=true")
    with pytest.raises(UserError, match=r"data_dir=.* download failed .* must hold MNIST/raw/"):
        tasks.get("mnist").build(cfg.task)


@pytest.mark.parametrize("damage", ["magic", "truncate"])
def test_corrupt_idx_file_is_named(make_cfg, data_dir, damage):
    path = data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte"
    blob = path.read_bytes()
    path.write_bytes(b"\x00\x00\x42\x07" + blob[4:] if damage == "magic" else blob[:5000])
    with pytest.raises(UserError, match="train-images-idx3-ubyte is not a valid IDX image file"):
        tasks.get("mnist").build(make_cfg("task=mnist").task)


def test_label_count_mismatch_is_named(make_cfg, data_dir):
    write_idx(data_dir / "MNIST" / "raw" / "train-labels-idx1-ubyte", torch.zeros(7).numpy())
    with pytest.raises(UserError, match="holds 200 images but its label file holds 7"):
        tasks.get("mnist").build(make_cfg("task=mnist").task)


def test_unreadable_data_dir(make_cfg, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    # Root reads any directory, and CI runs as root: ask os.access what it would say.
    monkeypatch.setattr(idx.os, "access", lambda path, mode: False)
    with pytest.raises(UserError, match="is not readable"):
        tasks.get("mnist").build(make_cfg("task=mnist", f"task.data_dir={locked}").task)


def test_data_dir_that_is_a_file(make_cfg, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is not a directory"):
        tasks.get("mnist").build(make_cfg("task=mnist", f"task.data_dir={tmp_path / 'file'}").task)


def test_fashion_mnist_copies_from_a_local_package_folder(make_cfg, tmp_path, monkeypatch):
    package = write_mnist_like(tmp_path / "pkg", "x")  # plain files stand in for Debian's .gz
    monkeypatch.setattr(idx, "debian_fashion_mnist_dir", lambda: package)
    cfg = make_cfg("task.val_fraction=0", "task=fashion_mnist",
                   f"task.data_dir={tmp_path / 'fresh'}", "task.download=false")
    data = tasks.get("fashion_mnist").build(cfg.task)
    assert data.x_train.shape == (200, 28, 28)
    assert (tmp_path / "fresh" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def test_binary_subset_keeps_only_the_chosen_digits(make_cfg):
    cfg = make_cfg("task.val_fraction=0", "task=mnist_binary", "task.positive=[3,8]",
                   "task.negative=[5]")
    full = tasks.get("mnist").build(cfg.task)
    data = tasks.get("mnist_binary").build(cfg.task)
    wanted = torch.isin(full.y_train, torch.tensor([3, 5, 8]))
    assert len(data.y_train) == int(wanted.sum())
    assert data.y_train.tolist() == torch.isin(full.y_train[wanted], torch.tensor([3, 8])).long(
        ).tolist()
    assert data.n_outputs == 1 and data.kind == "binary"


@pytest.mark.parametrize(("override", "message"), [
    ("task.positive=[4,10]", "task.positive=.* a non-empty list of distinct digits 0-9"),
    ("task.negative=[]", "task.negative=.* a non-empty list of distinct digits 0-9"),
    ("task.positive=[4,4]", "task.positive=.* a non-empty list of distinct digits 0-9"),
    ("task.negative=[4,7]", r"digits \[4\] are also in task.positive"),
])
def test_binary_digit_checks(make_cfg, override, message):
    cfg = make_cfg("task=mnist_binary", override)
    with pytest.raises(UserError, match=message):
        schemas.check(cfg)


def test_regression_outliers_corrupt_training_targets_only(make_cfg):
    pool = "task.val_fraction=0"  # the task's own data, before the validation split
    clean = tasks.get("regression").build(make_cfg(pool, "task.outlier_fraction=0.0").task)
    dirty = tasks.get("regression").build(make_cfg(pool, "task.outlier_fraction=0.25").task)
    assert dirty.corrupted.sum().item() == 64 and dirty.info["outlier_fraction"] == 0.25
    assert torch.equal(clean.x_test, dirty.x_test) and torch.equal(clean.y_test, dirty.y_test)
    shift = dirty.y_train - clean.y_train
    assert torch.all(shift[~dirty.corrupted] == 0)
    assert torch.all(shift[dirty.corrupted] >= 0.5 * 10.0)  # outlier_scale 10, one-sided


def test_regression_data_follows_the_seed(make_cfg):
    a = tasks.get("regression").build(make_cfg("seed=1").task)
    b = tasks.get("regression").build(make_cfg("seed=1").task)
    c = tasks.get("regression").build(make_cfg("seed=2").task)
    assert torch.equal(a.y_train, b.y_train) and not torch.equal(a.y_train, c.y_train)


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, "false"])
def test_outlier_fraction_range(make_cfg, value):
    with pytest.raises(UserError, match=r"task.outlier_fraction=.*\[0, 1\)"):
        schemas.check(make_cfg(f"task.outlier_fraction={value}"))


def test_unknown_task_lists_the_valid_ones():
    valid = ("valid: breast_cancer, diabetes, digits, fashion_mnist, image_folder, mnist, "
             "mnist_binary, regression, table, wine")
    with pytest.raises(UserError, match=valid):
        tasks.get("cifar")


def test_every_task_module_has_a_config_and_back():
    from conftest import CONFIGS

    assert {p.stem for p in (CONFIGS / "task").glob("*.yaml")} == set(tasks.names())
    for name in tasks.names():
        module = tasks.get(name)
        if name in tasks.USER_DATA:  # its kind or outputs are its data's: tests/test_table.py
            continue
        assert module.KIND in KINDS and module.N_OUTPUTS >= 1 and module.METRICS


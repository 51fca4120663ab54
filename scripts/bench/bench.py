"""Training throughput, in one process, on the same data, model, optimizer and batch size:

  classic   torchvision dataset + per-sample ToTensor/Normalize + DataLoader(shuffle=True)
  trainer   this project's engine (trainer/engine/loop.py): resident uint8 data normalised
            per batch, the run's RunLogger (TensorBoard + metrics.json in a temp dir) and,
            at each epoch's end, the full test-set evaluation it always does
  trainer-  the same engine with a 1-sample test set: the training loop without evaluation
  bare      resident float tensors normalised once, a permutation, forward, loss, backward,
            step, and nothing else

Only the training itself is timed: building the dataset, DataLoader, model, optimizer and
logger comes before the clock starts, for every pipeline alike.

    python -m scripts.bench.bench --data-dir data                 # MLP 784-256-10, batch 64
    python -m scripts.bench.bench --data-dir data --model cnn --steps 200 --json bench.json
    python -m scripts.bench.bench --data-dir data --whole-command # see whole_command.py
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from lossbench.contract import TaskData
from scripts.bench import classic_mnist
from scripts.bench.timing import Clock, machine, timed
from tasks import idx
from tasks.mnist_like import DATASETS
from trainer import losses, models, optimizers, schemas
from trainer.engine import loop
from trainer.engine.member import Member
from trainer.logger import RunLogger
from trainer.rundir import results
from trainer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("classic", "trainer", "trainer-", "bare")
RATIOS = (("trainer", "bare"), ("trainer-", "bare"), ("trainer", "classic"), ("bare", "classic"))
FOLDERS = {"fashion_mnist": "FashionMNIST", "mnist": "MNIST"}  # torchvision's raw-file folders


def task_data(args: argparse.Namespace, device: torch.device) -> TaskData:
    cfg = OmegaConf.create({"data_dir": args.data_dir, "download": False})
    data = DATASETS[args.dataset].build(cfg)  # the labels as published, no noise
    if args.limit:
        data = dataclasses.replace(data, x_train=data.x_train[: args.limit],
                                   y_train=data.y_train[: args.limit])
    return data.to(device)


def fresh(args: argparse.Namespace, data: TaskData, device: torch.device):
    """The same initial weights and a fresh optimizer for every measurement."""
    torch.manual_seed(0)
    cfg = OmegaConf.create(schemas.option_values("model", args.model))
    model = models.build(cfg, data.input_shape, data.n_outputs).to(device)
    return model, classic_mnist.make_optimizer(args.optim, model.parameters(), args.lr)


def run_classic(args, data, device, steps: int | None, clock: Clock) -> int:
    model, optimizer = fresh(args, data, device)
    loader = classic_mnist.loader(args.dataset, args.data_dir, True, args.batch_size,
                                  args.num_workers, args.limit, device.type == "cuda")
    with clock:
        return sum(classic_mnist.train(model, device, loader, optimizer, epoch, max_steps=steps)
                   for epoch in range(1, args.epochs + 1))


def run_trainer(args, data, device, steps: int | None, clock: Clock,
                evaluate: bool = True) -> int:
    if not evaluate:
        data = dataclasses.replace(data, x_test=data.x_test[:1], y_test=data.y_test[:1])
    model, _ = fresh(args, data, device)
    cfg = OmegaConf.create({"task": {"name": args.dataset}, "loss": {"name": "ce"},
                            "model": {"name": args.model}, "optim": {"name": args.optim,
                                                                     "lr": args.lr}, "seed": 0})
    # The engine's optimizers: the presets' settings for the classic script's choice.
    optim = OmegaConf.create({"name": args.optim, "lr": args.lr or 1e-3} if args.optim == "adam"
                             else {"name": "sgd", "lr": args.lr or 0.01, "momentum": 0.9})
    trainer = OmegaConf.load(ROOT / "configs" / "trainer" / "default.yaml")
    trainer.merge_with({"max_epochs": args.epochs, "limit_train_batches": steps,
                        "progress_bar": False})
    settings = Settings.from_config(OmegaConf.create(
        {"trainer": trainer, "task": {"batch_size": args.batch_size}, "seed": 0}))
    loss_fn = losses.build({"name": "ce"}, data.kind)
    with tempfile.TemporaryDirectory() as run_dir:
        logger = RunLogger(Path(run_dir), results.new_record(cfg))
        # A population of one, as trainer/run.py trains a run.
        parts = dataclasses.make_dataclass("Parts", ["settings", "task", "data", "model",
                                                     "optimizer", "loss_fn", "state"])(
            settings, DATASETS[args.dataset], data, model,
            optimizers.build(optim, model.parameters()), loss_fn, None)
        member = Member(dataclasses.make_dataclass("Job", ["cfg", "parts", "logger"])(
            cfg, parts, logger))
        with clock:
            loop.train([member])
        logger.close()
    return args.epochs * min(len(data.x_train), (steps or math.inf) * args.batch_size)


def run_bare(args, data, device, steps: int | None, clock: Clock, x: torch.Tensor) -> int:
    model, optimizer = fresh(args, data, device)
    y, n = data.y_train, len(x)
    seen = 0
    with clock:
        for _ in range(args.epochs):
            for i in torch.randperm(n, device=device).split(args.batch_size)[:steps]:
                loss = F.cross_entropy(model(x[i]), y[i])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                seen += len(i)
    return seen


def load_times(args: argparse.Namespace, repeats: int = 5) -> dict:
    """Decoding the IDX files through torchvision vs reading the cache tasks/idx.py wrote."""
    raw = Path(args.data_dir) / FOLDERS[args.dataset] / "raw"
    cache = raw.parent / "processed" / idx.CACHE_FILE
    parse, cached = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for name in idx.FILES:
            idx.read_idx(raw / name, images="images" in name)
        parse.append(time.perf_counter() - started)
        started = time.perf_counter()
        hit = idx.load_cache(cache, idx.stamp(raw))
        cached.append(time.perf_counter() - started)
    return {"idx_parse_s": statistics.median(parse),
            "cache_load_s": statistics.median(cached) if hit is not None else None}


def measure(args: argparse.Namespace, device: torch.device) -> dict:
    data = task_data(args, device)
    x_bare = data.prepare(data.x_train).contiguous()  # normalised once, float32, resident
    jobs = {
        "classic": lambda steps, clock: run_classic(args, data, device, steps, clock),
        "trainer": lambda steps, clock: run_trainer(args, data, device, steps, clock),
        "trainer-": lambda steps, clock: run_trainer(args, data, device, steps, clock, False),
        "bare": lambda steps, clock: run_bare(args, data, device, steps, clock, x_bare),
    }
    for job in jobs.values():  # warm-up: allocator, kernels, lazy imports
        job(args.warmup_steps, Clock(device))
    runs: dict[str, list[float]] = {name: [] for name in jobs}
    cpu_runs: dict[str, list[float]] = {name: [] for name in jobs}
    others: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.repeats):  # interleaved, so a burst of load hits every variant
        for name, job in jobs.items():
            clock, samples = timed(lambda c, job=job: job(args.steps, c), device, args.quiet)
            runs[name].append(samples / clock.wall)
            cpu_runs[name].append(samples / clock.cpu)
            others[name].append(clock.others)
    rate = {name: statistics.median(r) for name, r in runs.items()}
    return {
        "samples_per_s": rate,
        "runs": runs,
        # Samples per second of this process's CPU time: steadier than wall time when other
        # work shares the cores. Counts every torch thread (spinning ones too), and not the
        # DataLoader's worker processes when --num-workers > 0.
        "samples_per_cpu_s": {name: statistics.median(r) for name, r in cpu_runs.items()},
        "cpu_runs": cpu_runs,
        "others_cores": others,  # cores other processes kept busy during each run
        "samples_per_run": args.epochs * min(len(data.x_train),
                                             (args.steps or math.inf) * args.batch_size),
        "ratios": {f"{a}/{b}": rate[a] / rate[b] for a, b in RATIOS},
        "load": load_times(args),
    }


def print_table(report: dict) -> None:
    m, r = report["machine"], report["results"]
    print(f"\n{m['cpu']} · {m['cores']} cores · torch {m['torch']} "
          f"({m['torch_threads']} threads) · {m['device']} · load {m['loadavg_start']}")
    print(f"{report['config']['model']}, batch {report['config']['batch_size']}, "
          f"{r['samples_per_run']} samples per run, median of {report['config']['repeats']}; "
          "others = median cores used by other processes during the runs\n")
    print(f"| {'pipeline':<9} | {'samples/s':>10} | {'per CPU-s':>10} | {'others':>6} "
          "| runs (samples/s)")
    print(f"|{'-' * 11}|{'-' * 12}|{'-' * 12}|{'-' * 8}|{'-' * 20}")
    for name in VARIANTS:
        runs = ", ".join(f"{x:,.0f}" for x in r["runs"][name])
        print(f"| {name:<9} | {r['samples_per_s'][name]:>10,.0f} "
              f"| {r['samples_per_cpu_s'][name]:>10,.0f} "
              f"| {statistics.median(r['others_cores'][name]):>6.2f} | {runs}")
    print()
    cpu = r["samples_per_cpu_s"]
    print(f"{'ratio':<16} {'wall':>6}  {'CPU':>6}")
    for name, value in r["ratios"].items():
        a, b = name.split("/")
        print(f"{name:<16} {value:5.2f}×  {cpu[a] / cpu[b]:5.2f}×")
    load = r["load"]
    cached = "n/a" if load["cache_load_s"] is None else f"{load['cache_load_s'] * 1e3:.0f} ms"
    print(f"data load: IDX parse {load['idx_parse_s'] * 1e3:.0f} ms, cache {cached}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("LOSSBENCH_DATA", "data"))
    parser.add_argument("--dataset", choices=("fashion_mnist", "mnist"), default="fashion_mnist")
    parser.add_argument("--model", choices=("mlp", "cnn", "linear"), default="mlp")
    parser.add_argument("--optim", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--lr", type=float, default=None, help="default: the optimizer's usual")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default 1, or 2 with --whole-command")
    parser.add_argument("--steps", type=int, default=None, help="batches per epoch (all if unset)")
    parser.add_argument("--limit", type=int, default=None, help="use the first N training images")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument("--num-workers", type=int, default=0, help="classic DataLoader workers")
    parser.add_argument("--warmup-rounds", type=int, default=1,
                        help="untimed rounds before --whole-command's timed ones")
    parser.add_argument("--quiet", type=float, default=None, metavar="CORES",
                        help="time only while other processes use at most CORES cores: wait "
                             "before each run, redo a run they disturbed (up to 3 times)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--json", type=Path, default=None, help="write the report here too")
    parser.add_argument("--whole-command", action="store_true",
                        help="time python train.py against classic_mnist.py instead")
    args = parser.parse_args()
    if args.whole_command:
        from scripts.bench import whole_command

        return whole_command.main(args)

    args.epochs = args.epochs or 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    report = {"machine": machine(device), "config": vars(args) | {"json": str(args.json)},
              "results": measure(args, device)}
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Where the trainer's step time goes, against a bare step: per-step cost of each piece of
trainer/engine/loop.py's inner step, interleaved and repeated in one process, medians.

    python -m scripts.bench.profile_loop --data-dir data                 # the step variants
    python -m scripts.bench.profile_loop --data-dir data --torch-profile # plus torch.profiler

  bare            x_float[idx]: resident float32 images normalised once (bench.py's bare)
  bare+select     the same with index_select instead of advanced indexing
  loop.py         what the engine does per step: prepare(x_u8[idx]), the loss module, the window
  loop.py+select  the same with index_select for images and labels
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from tasks.mnist_like import DATASETS
from trainer import losses, models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--torch-profile", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = OmegaConf.create({"data_dir": args.data_dir, "download": False})
    data = DATASETS["fashion_mnist"].build(cfg)
    x_u8, y, prepare = data.x_train, data.y_train, data.prepare
    x_f = prepare(x_u8).contiguous()
    loss_fn = losses.build({"name": "ce"}, data.kind)

    def step(model, optimizer, x, target, loss) -> torch.Tensor:
        out = loss(model(x), target)
        optimizer.zero_grad(set_to_none=True)
        out.backward()
        optimizer.step()
        return out

    def bare(model, optimizer, batches):
        for i in batches:
            step(model, optimizer, x_f[i], y[i], F.cross_entropy)

    def bare_select(model, optimizer, batches):
        for i in batches:
            step(model, optimizer, x_f.index_select(0, i), y.index_select(0, i), F.cross_entropy)

    def loop(model, optimizer, batches, select: bool = False):
        window = torch.zeros(())
        for n, i in enumerate(batches, start=1):
            if select:
                x, target = prepare(x_u8.index_select(0, i)), y.index_select(0, i)
            else:
                x, target = prepare(x_u8[i]), y[i]
            window += step(model, optimizer, x, target, loss_fn).detach()
            if n % 50 == 0:
                window.item()
                window.zero_()

    variants = {"bare": bare, "bare+select": bare_select, "loop.py": loop,
                "loop.py+select": lambda m, o, b: loop(m, o, b, select=True)}

    def fresh():
        torch.manual_seed(0)
        model = models.build(OmegaConf.create({"name": "mlp", "hidden_sizes": [256]}),
                             data.input_shape, data.n_outputs)
        return model, torch.optim.Adadelta(model.parameters(), lr=1.0)

    us: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            model, optimizer = fresh()
            batches = torch.randperm(len(y)).split(args.batch_size)[: args.steps]
            run(model, optimizer, batches[:10])  # warm-up
            started = time.perf_counter()
            run(model, optimizer, batches)
            us[name].append((time.perf_counter() - started) / args.steps * 1e6)

    base = statistics.median(us["bare"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, MLP 784-256-10, "
          f"batch {args.batch_size}, Adadelta, median of {args.repeats} × {args.steps} steps\n")
    print(f"| {'variant':<15} | {'µs/step':>8} | {'samples/s':>9} | {'vs bare':>7} |")
    print(f"|{'-' * 17}|{'-' * 10}|{'-' * 11}|{'-' * 9}|")
    for name, times in us.items():
        t = statistics.median(times)
        print(f"| {name:<15} | {t:>8.0f} | {args.batch_size / t * 1e6:>9,.0f} | "
              f"{base / t:>6.3f}× |")

    if args.torch_profile:
        from torch.profiler import ProfilerActivity, profile

        model, optimizer = fresh()
        batches = torch.randperm(len(y)).split(args.batch_size)[: args.steps]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            loop(model, optimizer, batches)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()

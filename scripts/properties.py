"""What a loss is, measured rather than asserted: random probes of its value and gradient.

    python -m scripts.properties loss=sce                  # one loss, every kind it accepts
    python -m scripts.properties loss=gce loss.q=0.3       # with its parameters
    python -m scripts.properties --all                      # every loss (plugins included)

For each target kind the loss accepts, on the raw scores a model emits (logits, or one value
per sample), float64, seeded:

- finite: value and gradient finite at extreme scores (logits ±1e4, residuals 1e6);
- batch mean: a batch and the same batch twice give the same value;
- order-free: shuffling the samples leaves the value;
- non-negative: no probe gives a value below 0;
- minimised at the target: a confident correct score (or a zero residual) scores no more than
  any random one;
- pushes p_y up: a small gradient step raises the true class's probability (regression:
  moves the prediction toward the target), on every probe whose gradient is not ~0;
- bounded: the value stops growing as a wrong score goes from 1e2 to 1e4 (regression: the
  residual from 1e3 to 1e6);
- symmetric: Σ_k L(z, k) is the same for every z (Ghosh et al. 2017's condition for
  robustness to symmetric label noise; classification only);
- influence (regression): how the gradient's size grows from residual 10 to 1000: `grows`
  (as mse), `capped` (as l1, huber) or `falls` (redescending);
- Lipschitz: the largest per-sample gradient norm seen over all probes, extremes included
  (`grows` when it keeps growing with the scores).

Tolerances are relative, 1e-6 unless said; each verdict holds on every probe.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

from lossbench.contract import Kind
from lossbench.errors import UserError

CLASSES = 5
PROBES = 256


@dataclass
class Report:
    kind: Kind
    finite: bool
    batch_mean: bool
    order_free: bool
    non_negative: bool
    minimised_at_target: bool
    pushes_target_up: bool
    bounded: bool
    symmetric: bool | None  # None: not a classification kind
    influence: str | None  # regression only
    lipschitz: float | str

    def short(self) -> str:
        """The loss table's cell: the properties that set losses apart."""
        words = ["bounded" if self.bounded else "unbounded"]
        if self.symmetric is not None:
            words.append("symmetric" if self.symmetric else "not symmetric")
        if self.influence is not None:
            words.append(f"influence {self.influence}")
        bad = [name for name, ok in (("not finite", self.finite), ("not a mean",
               self.batch_mean), ("order-dependent", self.order_free), ("negative",
               self.non_negative), ("not minimised at the target", self.minimised_at_target),
               ("does not push the target up", self.pushes_target_up)) if not ok]
        lip = self.lipschitz if isinstance(self.lipschitz, str) else f"{self.lipschitz:.3g}"
        return ", ".join([*words, f"Lipschitz {lip}", *bad])


def _outputs(kind: Kind, n: int, scale: float, gen: torch.Generator) -> torch.Tensor:
    width = CLASSES if kind == "multiclass" else 1
    return scale * torch.randn(n, width, generator=gen, dtype=torch.float64)


def _targets(kind: Kind, n: int, gen: torch.Generator) -> torch.Tensor:
    if kind == "multiclass":
        return torch.randint(CLASSES, (n,), generator=gen)
    if kind == "binary":
        return torch.randint(2, (n,), generator=gen)
    return torch.randn(n, generator=gen, dtype=torch.float64)


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-6) -> bool:
    return bool(torch.isclose(a, b, rtol=rel, atol=1e-12).all())


def _per_sample(loss: Callable, out: torch.Tensor, y: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's loss alone, and the gradient of it with respect to its scores."""
    out = out.detach().clone().requires_grad_(True)
    values = torch.stack([loss(out[i:i + 1], y[i:i + 1]) for i in range(len(y))])
    (grad,) = torch.autograd.grad(values.sum(), out)
    return values.detach(), grad


def _target_prob(kind: Kind, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if kind == "multiclass":
        return out.softmax(1).gather(1, y[:, None]).squeeze(1)
    p = torch.sigmoid(out.squeeze(1))
    return torch.where(y == 1, p, 1 - p)


def measure(loss: Callable, kind: Kind, seed: int = 0) -> Report:
    gen = torch.Generator().manual_seed(seed)
    out, y = _outputs(kind, PROBES, 2.0, gen), _targets(kind, PROBES, gen)
    value = loss(out, y)
    batch_mean = _close(loss(torch.cat([out, out]), torch.cat([y, y])), value)
    order = torch.randperm(PROBES, generator=gen)
    order_free = _close(loss(out[order], y[order]), value)
    values, grad = _per_sample(loss, out, y)
    non_negative = bool((values >= -1e-9).all())

    extreme = 1e6 if kind == "regression" else 1e4
    far, far_grad = _per_sample(loss, _outputs(kind, 64, extreme, gen), _targets(kind, 64, gen))
    finite = bool(far.isfinite().all() and far_grad.isfinite().all())

    if kind == "regression":
        best, _ = _per_sample(loss, y[:, None].clone(), y)
        step = -(grad.squeeze(1)) * (y - out.squeeze(1))  # descent moves ŷ toward y
        pushes = bool((step[grad.squeeze(1).abs() > 1e-12] > 0).all())
    else:
        sure = torch.zeros_like(out)
        if kind == "multiclass":
            sure.scatter_(1, y[:, None], 20.0)
        else:
            sure[:, 0] = 40.0 * y.double() - 20.0
        best, _ = _per_sample(loss, sure, y)
        probe = out.detach().clone().requires_grad_(True)
        (dp,) = torch.autograd.grad(_target_prob(kind, probe, y).sum(), probe)
        rate = -(grad * dp).sum(1)  # d p_y / dt under gradient descent on the scores
        moving = grad.norm(dim=1) > 1e-9
        pushes = bool((rate[moving] > 0).all())
    minimised = bool((best <= values + 1e-9 * values.abs().clamp(min=1)).all())

    bounded, lipschitz = _growth(loss, kind, y[:32])
    symmetric = None if kind == "regression" else _symmetric(loss, kind, out[:64])
    influence = _influence(loss, y[:32]) if kind == "regression" else None
    return Report(kind, finite, batch_mean, order_free, non_negative, minimised, pushes,
                  bounded, symmetric, influence, lipschitz)


def _wrong(kind: Kind, y: torch.Tensor, scale: float) -> torch.Tensor:
    """Scores that are wrong by `scale`: the true class pushed down, or ŷ = y + scale."""
    if kind == "regression":
        return (y + scale)[:, None]
    if kind == "multiclass":
        return -scale * torch.nn.functional.one_hot(y, CLASSES).double()
    return (scale * (1 - 2 * y.double()))[:, None]


def _growth(loss: Callable, kind: Kind, y: torch.Tensor) -> tuple[bool, float | str]:
    scales = (1e3, 1e4, 1e5, 1e6) if kind == "regression" else (1e2, 1e3, 1e4)
    values, norms = [], []
    for scale in (1.0, 10.0, *scales):
        v, g = _per_sample(loss, _wrong(kind, y, scale), y)
        values.append(v.max().item())
        norms.append(g.norm(dim=1).max().item())
    # Bounded: the value converges, each tenfold step of the scores adding less than half
    # what the step before added (NCE approaches its bound as 1/scale); ce, growing with
    # the score, and a loss growing as log(scale) both fail.
    tail = values[-len(scales):]
    steps = [b - a for a, b in itertools.pairwise(tail)]
    bounded = math.isfinite(tail[-1]) and (steps[-1] <= 1e-9 * max(1.0, abs(tail[-1]))
                                           or steps[-1] < 0.5 * steps[-2])
    grows = norms[-1] > 2 * norms[-2] and norms[-1] > 1e3
    return bounded, "grows" if grows else max(norms)


def _symmetric(loss: Callable, kind: Kind, out: torch.Tensor) -> bool:
    k = CLASSES if kind == "multiclass" else 2
    sums = sum(_per_sample(loss, out, torch.full((len(out),), c))[0] for c in range(k))
    return bool((sums.max() - sums.min()) <= 1e-6 * sums.abs().max().clamp(min=1e-12))


def _influence(loss: Callable, y: torch.Tensor) -> str:
    small = _per_sample(loss, _wrong("regression", y, 10.0), y)[1].abs().mean()
    large = _per_sample(loss, _wrong("regression", y, 1000.0), y)[1].abs().mean()
    ratio = (large / small).item()
    return "grows" if ratio > 10 else "capped" if ratio > 0.5 else "falls"


def report(name: str, params: dict) -> list[Report]:
    from trainer import losses

    cls = losses.lookup(name)
    return [measure(losses.build({"name": name, **params}, kind).double(), kind)
            for kind in cls.adapters]


def defaults(name: str) -> dict:
    """The loss's configured values: its YAML's for a built-in, its signature's for a plugin."""
    from trainer import losses, schemas

    if (schemas.CONFIGS / "loss" / f"{name}.yaml").exists():
        values = schemas.option_values("loss", name)
    else:
        values = losses.parameters(name)
    return {k: v for k, v in values.items() if k != "name"}


def render(name: str, reports: list[Report]) -> str:
    rows = [f"loss={name}", "| property | " + " | ".join(r.kind for r in reports) + " |",
            "|---" * (len(reports) + 1) + "|"]
    for field in ("finite", "batch_mean", "order_free", "non_negative", "minimised_at_target",
                  "pushes_target_up", "bounded", "symmetric", "influence", "lipschitz"):
        cells = []
        for r in reports:
            v = getattr(r, field)
            cells.append("—" if v is None else "yes" if v is True else "no" if v is False
                         else f"{v:.3g}" if isinstance(v, float) else str(v))
        rows.append(f"| {field.replace('_', ' ')} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("overrides", nargs="*", help="loss=<name> and loss.<key>=<value>")
    parser.add_argument("--all", action="store_true", help="every loss, plugins included")
    args = parser.parse_args(argv)
    from trainer import losses, plugins

    try:
        plugins.install()
        given = dict(o.split("=", 1) for o in args.overrides if "=" in o)
        names = sorted(losses.LOSSES) if args.all else [given.pop("loss", None)]
        if names == [None]:
            raise UserError("name a loss (loss=<name>) or pass --all.")
        for name in names:
            losses.lookup(name)
            params = defaults(name)
            for key, text in given.items():
                if not key.startswith("loss."):
                    raise UserError(f"{key}={text} is not valid: only loss.<key>=<value>.")
                import yaml

                params[key.removeprefix("loss.")] = yaml.safe_load(text)
            print(render(name, report(name, params)) + "\n")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

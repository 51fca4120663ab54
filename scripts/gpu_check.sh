#!/usr/bin/env bash
# Population training on a CUDA machine, in one go (about 7-8 minutes on one H100):
#   1. the CUDA tests (tests that skip without a device);
#   2. the issue's three sweep commands under the basic and the population launcher;
#   3. the full `experiment=label_noise task=fashion_mnist` (60 runs × 10 epochs) under the
#      population launcher, against 3 of its runs under the basic launcher (all 60 one after
#      another would take too long here): the per-run ratio is an estimate from those 3;
# then one table with the GPU's name. Fashion-MNIST must be in data/FashionMNIST/raw/ (or
# Debian's dataset-fashion-mnist installed): the GPU machine may have no network.
#   PYTHON=.venv/bin/python scripts/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${1:-gpu_check}
mkdir -p "$OUT"
$PY - <<'PYEOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("error: scripts/gpu_check.sh needs a CUDA device; torch sees none.")
print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
PYEOF

echo "== CUDA tests"
$PY -m pytest -q -p no:randomly -k "cuda" tests/test_population.py tests/test_population_launcher.py \
    tests/test_loop.py 2>&1 | tail -5

echo "== three sweeps: basic against population (cuda)"
$PY -m scripts.bench.bench_sweep --population --device cuda --repeats 1 \
    --commands robustness label_noise-digits label_noise-fashion-2ep --json "$OUT/three.json"

echo "== the full label_noise preset on Fashion-MNIST"
$PY -m scripts.bench.bench_sweep --population --device cuda --repeats 1 \
    --launchers population --commands label_noise-fashion --json "$OUT/full.json"
$PY -m scripts.bench.bench_sweep --population --device cuda --repeats 1 \
    --launchers basic --commands label_noise-fashion-3 --json "$OUT/full-basic-3.json"

$PY - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
three = json.loads((out / "three.json").read_text())
full = json.loads((out / "full.json").read_text())["commands"]["label_noise-fashion"]
sample = json.loads((out / "full-basic-3.json").read_text())["commands"]["label_noise-fashion-3"]
m = three["machine"]
print(f"\n{m.get('gpu', '?')} · {m['cpu']} · {m['cores']} cores · torch {m['torch']} · {m['date']}")
print("\n| command | runs | basic s | population s | population/basic |")
print("|---|---:|---:|---:|---:|")
for r in three["commands"].values():
    print(f"| `{r['command'].removeprefix('python train.py -m ')}` | {r['runs']} | "
          f"{r['median_s']['basic']:.1f} | {r['median_s']['population']:.1f} | "
          f"{r['speedup']:.2f}× |")
per_basic = sample["median_s"]["basic"] / sample["runs"]
per_pop = full["median_s"]["population"] / full["runs"]
print(f"| `experiment=label_noise task=fashion_mnist` | {full['runs']} | "
      f"{per_basic * full['runs']:.0f} (est. from {sample['runs']} runs) | "
      f"{full['median_s']['population']:.1f} | {per_basic / per_pop:.1f}× (est.) |")
PYEOF

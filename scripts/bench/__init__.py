"""Benchmarks: the trainer against the classic DataLoader pipeline and a bare loop
(bench.py, whole_command.py, classic_mnist.py), sweep launchers (bench_sweep.py), the
inner step (profile_loop.py), start-up against `import torch` (startup.py), and the clock
they share (timing.py). docs/benchmarks.md
holds what they measured."""

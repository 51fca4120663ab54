"""Tools around the library, in three rooms; run them from the checkout's root with -m.

reporting/  the report users run on a sweep: python scripts/report.py DIR
bench/      speed measurements: python -m scripts.bench.bench, bench_sweep, profile_loop
gen/        writers that keep README's loss table, configs/pair/ and docs/ figures in step
            with the code: python -m scripts.gen.loss_table, pairs, loss_shapes
"""

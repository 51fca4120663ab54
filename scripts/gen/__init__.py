"""Generators: files written from the code so they cannot drift from it. Each has --check
(or is checked by the tests): loss_table.py → README's loss table, pairs.py →
configs/pair/, loss_shapes.py → docs/loss_shapes_*.png."""

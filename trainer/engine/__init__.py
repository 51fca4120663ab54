"""The one training engine: a single run is a population of one (loop.py)."""

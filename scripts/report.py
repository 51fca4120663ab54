"""The CONTRACT's report command; the same as `python -m scripts.reporting DIR`.

    python scripts/report.py logs/multiruns/2025-01-01_12-00-00
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file, Python put scripts/ first on sys.path; the checkout it is
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from scripts.reporting.cli import main

if __name__ == "__main__":
    sys.exit(main())

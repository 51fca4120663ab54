"""python -m scripts.reporting DIR: see cli.py."""

import sys

from scripts.reporting.cli import main

sys.exit(main())

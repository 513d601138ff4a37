"""Make the data-build parsers (data/build/corpora) importable in tests."""

import sys
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parents[2] / "data" / "build"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "corpora"
if str(BUILD_DIR) not in sys.path:
    sys.path.insert(0, str(BUILD_DIR))

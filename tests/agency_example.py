"""The reference agency consumer (examples/agency/agency_consumer.py), loaded for tests: it is a
standalone program, not a package of the project, so it is imported by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "agency" / "agency_consumer.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agency_consumer_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module

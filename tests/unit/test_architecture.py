"""The architecture as checked contracts ([tool.importlinter] in pyproject.toml): services
never import each other, shared imports no service nor the gateway, domain code imports
no I/O library, and the gateway imports only shared."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("importlinter") is None,
    reason="import-linter is not installed (it is in the dev extras: `make install`)",
)


def _lint_imports() -> str:
    beside_python = Path(sys.executable).with_name("lint-imports")
    found = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.skip("import-linter is installed but its `lint-imports` command is not on PATH")
    return found


def test_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [_lint_imports(), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, f"lint-imports found broken contracts:\n{result.stdout}{result.stderr}"

"""The architecture as checked contracts ([tool.importlinter] in pyproject.toml): services
never import each other, shared imports no service nor the gateway, domain code imports
no I/O library, the gateway imports only shared, and no process imports the developer
tooling in tools."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> str:
    # `make install` puts import-linter in .venv (the dev extras): its absence is a broken
    # setup to report, not a reason to pass without checking the contracts.
    assert importlib.util.find_spec("importlinter") is not None, "import-linter is missing: run `make install`"
    beside_python = Path(sys.executable).with_name("lint-imports")
    found = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    assert found is not None, "import-linter is installed but its `lint-imports` command is not on PATH"
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

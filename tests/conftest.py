"""What every tier shares: the stack's key pairs, made once per run, and how `make test`
shares the integration and e2e tiers between two pytest-xdist workers.

No key ships with Sandbank (shared/keys.py), so a test run makes its own set in a
temporary directory and points AUTH_KEYS_DIR at it before any process, app or stack
reads its settings; the processes a test starts inherit it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

from shared import keys

# The key pairs of the stack's processes, and of the tests when they play a service.
TEST_SIGNERS = (*keys.PROCESSES, "tests")

if "AUTH_KEYS_DIR" not in os.environ:
    _keys_dir = tempfile.mkdtemp(prefix="sandbank-test-keys-")
    atexit.register(shutil.rmtree, _keys_dir, ignore_errors=True)
    os.environ["AUTH_KEYS_DIR"] = _keys_dir
keys.generate(os.environ["AUTH_KEYS_DIR"], TEST_SIGNERS)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for `--dist loadgroup`: a test file runs whole on one worker, so its module
    and session stacks start once there, and every test on PostgreSQL runs on one worker,
    since they share the one test database (the test role may not create databases, and
    the accounts app's tables live in its default schema)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("backend") == "postgresql"
        item.add_marker(pytest.mark.xdist_group("postgresql" if on_postgresql else item.nodeid.split("::")[0]))

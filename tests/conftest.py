"""What every tier shares: the stack's key pairs, made once per run.

No key ships with Sandbank (shared/keys.py), so a test run makes its own set in a
temporary directory and points AUTH_KEYS_DIR at it before any process, app or stack
reads its settings; the processes a test starts inherit it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from shared import keys

# The key pairs of the stack's processes, and of the tests when they play a service.
TEST_SIGNERS = (*keys.PROCESSES, "tests")

if "AUTH_KEYS_DIR" not in os.environ:
    _keys_dir = tempfile.mkdtemp(prefix="sandbank-test-keys-")
    atexit.register(shutil.rmtree, _keys_dir, ignore_errors=True)
    os.environ["AUTH_KEYS_DIR"] = _keys_dir
keys.generate(os.environ["AUTH_KEYS_DIR"], TEST_SIGNERS)

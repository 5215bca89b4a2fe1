"""Run as `python -m tests.integration.probe` (or forked as one by tools/spawn.py): prints
what a started process sees of itself as JSON, then exits with $PROBE_EXIT."""

import gc
import json
import os
import sys
import time
from pathlib import Path

print(
    json.dumps(
        {
            "name": __name__,
            "argv": sys.argv,
            "cwd": os.getcwd(),
            "probe": os.environ.get("PROBE_VALUE"),
            "inherited": os.environ.get("PROBE_NOT_PASSED"),
            "own_group": os.getpgid(0) == os.getpid(),
            "comm": Path(f"/proc/{os.getpid()}/comm").read_text().strip(),
            "preloaded": "shared.web" in sys.modules,
            "collecting": gc.isenabled(),
        }
    ),
    flush=True,
)
print("to stderr", file=sys.stderr, flush=True)
if os.environ.get("PROBE_SLEEP"):
    time.sleep(float(os.environ["PROBE_SLEEP"]))
sys.exit(int(os.environ.get("PROBE_EXIT", "0")))

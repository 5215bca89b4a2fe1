"""What the fork server imports before it forks the stack's processes (tools/spawn.py):
every module of `PRELOAD`, with the garbage collector off while it does.

A second of imports builds a heap of 140,000 objects, and the collector ran about 330
times meanwhile, scanning what the imports had just made and, every few runs, all of
it: a tenth of the fork server's start (4.14 G instructions with it, 3.74 G without,
callgrind), which every process of a stack waits for, to find no garbage (what an
import makes lives as long as the process). Once loaded, it is
frozen out of the collector's scans, as each forked process freezes what it inherits.
"""

from __future__ import annotations

import contextlib
import gc
import importlib

from tools.spawn import PRELOAD

gc.disable()
try:
    for name in PRELOAD:
        # As multiprocessing's own preload does: a process that needs a module this
        # could not import imports it itself, and says why it cannot.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
finally:
    gc.freeze()
    gc.enable()

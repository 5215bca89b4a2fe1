"""A suite every pytest-xdist worker runs at once (`pytest -n 2 --dist each`), each worker
against the Sandbank the plugin started for it. The workers tell each other what they
made through a folder they share, so that each can look for the others' customers,
clock and faults in its own bank."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbank_testing import Customer, Sandbank


@dataclass
class Peers:
    """This worker (`me`, `index`) among `count` running the suite at once."""

    me: str
    index: int
    count: int
    folder: Path

    @property
    def others(self) -> list[str]:
        return [f"gw{i}" for i in range(self.count) if i != self.index]

    def publish(self, step: str, record: dict[str, Any]) -> None:
        """Tell the other workers what this one did at `step`."""
        draft = self.folder / f".{step}-{self.me}.json"
        draft.write_text(json.dumps(record))
        draft.rename(self.folder / f"{step}-{self.me}.json")  # whole, or not there at all

    def wait(self, step: str, workers: list[str] | None = None, timeout_s: float = 300) -> dict[str, Any]:
        """What each of `workers` (the others by default) published at `step`; their
        stacks may start later than ours on a busy machine, hence the long wait."""
        paths = {w: self.folder / f"{step}-{w}.json" for w in (self.others if workers is None else workers)}
        deadline = time.monotonic() + timeout_s
        while not all(p.exists() for p in paths.values()):
            if time.monotonic() > deadline:
                missing = [w for w, p in paths.items() if not p.exists()]
                raise AssertionError(f"{', '.join(missing)} did not reach {step!r} within {timeout_s:g}s")
            time.sleep(0.1)
        return {w: json.loads(p.read_text()) for w, p in paths.items()}


@pytest.fixture(scope="session")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Peers:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    # Each worker's base temp is <run's base temp>/popen-gwN: the parent is the run's.
    folder = tmp_path_factory.getbasetemp().parent / "peers"
    folder.mkdir(exist_ok=True)
    return Peers(worker, int(worker.removeprefix("gw")), count, folder)


@pytest.fixture
def friend(sandbank: Sandbank) -> Iterator[Customer]:
    """Someone to pay: a second customer, with an empty checking account."""
    customer = sandbank.new_customer(deposit="")
    yield customer
    customer.close()

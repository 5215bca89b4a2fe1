"""Ports chosen for a stack's processes are claimed until they have had time to bind them:
two stacks starting at once on one machine do not choose the same port."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tools import broker


def test_a_claimed_port_is_not_claimed_again_until_its_claim_is_old(tmp_path: Path) -> None:
    assert broker.claim(23456, tmp_path)
    assert not broker.claim(23456, tmp_path)  # another start, meanwhile
    assert broker.claim(23457, tmp_path)
    old = time.time() - broker.CLAIM_S - 1
    os.utime(tmp_path / "23456", (old, old))  # its process has long bound it, or died
    assert broker.claim(23456, tmp_path)
    assert not broker.claim(23456, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["23456", "23457"]


def test_free_port_skips_a_port_another_start_claimed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker, "CLAIMS_DIR", tmp_path)
    offered = iter([24001, 24001, 24002])
    monkeypatch.setattr(broker.random, "randint", lambda _low, _high: next(offered))
    assert broker.free_port() == 24001
    assert broker.free_port() == 24002  # 24001 is free to bind, but claimed

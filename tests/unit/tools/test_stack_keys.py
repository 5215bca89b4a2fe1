"""`sandbank run` makes the stack's key pairs beside its data on the first start, unless
AUTH_KEYS_DIR names a folder of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.stack import Stack


def test_the_keys_live_beside_the_data_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_KEYS_DIR")

    stack = Stack(tmp_path, gateway_port=0)

    assert stack.keys_dir == (tmp_path / "keys").resolve()


def test_auth_keys_dir_names_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_KEYS_DIR", str(tmp_path / "elsewhere"))

    assert Stack(tmp_path, gateway_port=0).keys_dir == (tmp_path / "elsewhere").resolve()

"""Packs a test loads from its temp directory are forgotten after it: their names and their modules."""

import sys

import pytest


@pytest.fixture(autouse=True)
def forget_loaded_packs(monkeypatch, tmp_path):
    import simulation.domains as domains

    monkeypatch.setattr(domains, "_from_paths", {})
    yield
    root = str(tmp_path.resolve())
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[name]


@pytest.fixture
def pack(tmp_path):
    """A fresh good pack written by `domain new` under the test's temp dir: `pack(name)` -> its directory."""
    from simulation.domains.scaffold import new_pack

    def make(name: str):
        new_pack(name, tmp_path)
        return tmp_path / name

    return make

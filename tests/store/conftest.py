"""Store tests keep the indexes of remote (S3) datasets under the test's temp dir, not ~/.cache."""

import pytest


@pytest.fixture(autouse=True)
def index_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOLDSMITH_CACHE_DIR", str(tmp_path / "index-cache"))

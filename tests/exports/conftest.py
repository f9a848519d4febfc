"""One generated dataset shared by the export tests (generating is the slow part; exports only read it)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from main import cli as app


def run(*argv: str):
    """`main.py ARGV` in-process; returns the click Result."""
    return CliRunner().invoke(app, list(argv), catch_exceptions=False)


@pytest.fixture(scope="package")
def store(tmp_path_factory) -> Path:
    """An output dir with dataset `kyc`: v1 of 40 simulated examples (several categories, some adversarial)."""
    root = tmp_path_factory.mktemp("exports") / "output"
    result = run("generate", "--count", "40", "--seed", "3", "--output-dir", str(root))
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def export(store, tmp_path):
    """`dataset export kyc ... --out tmp/NAME`; returns (Result, out path)."""

    def invoke(fmt: str, name: str, *options: str, ref: str = "kyc", output_dir: Path | None = None):
        out = tmp_path / name
        argv = ["dataset", "export", ref, "--format", fmt, "--out", str(out), *options]
        return run(*argv, "--output-dir", str(output_dir or store)), out

    return invoke

"""A small real dataset for the review tests: generated offline once per session with simulated models (16
episodes, `--max-rounds 1` so some land in the review queue; single- and multi-turn examples)."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from main import cli

NAME = "kyc"


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> tuple[Path, str]:
    """(output dir, dataset name) of a generated dataset: v1 with about ten examples and a review queue. Shared by
    the session: read it, never write to it (copy it first: `fresh_dataset`)."""
    output = tmp_path_factory.mktemp("review") / "output"
    argv = ["generate", "--count", "16", "--seed", "3", "--max-rounds", "1", "--output-dir", str(output)]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return output, NAME


@pytest.fixture
def fresh_dataset(small_dataset, tmp_path) -> tuple[Path, str]:
    """A private copy of `small_dataset` that a test may write to."""
    source, name = small_dataset
    output = tmp_path / "output"
    shutil.copytree(source, output)
    return output, name

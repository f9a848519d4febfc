"""`rubric check` on a corpus of malformed rubrics: each file has one defect and names, on its first line
(`# expect: ...`), text the error must contain. Shipped rubrics must pass."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from main import cli

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "tests" / "fixtures" / "rubrics" / "malformed").glob("*.yaml"))
SHIPPED = sorted((ROOT / "rubrics").glob("*.yaml"))


def check(path: Path) -> Result:
    return CliRunner().invoke(cli, ["rubric", "check", str(path)])


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_malformed_rubric_is_reported(path: Path) -> None:
    source = path.read_text(encoding="utf-8").splitlines()
    assert source[0].startswith("# expect: ")
    expected = source[0].removeprefix("# expect: ")
    result = check(path)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert len(lines) == 1, f"one defect, one line:\n{result.output}"
    for line in lines:
        match = re.match(rf"{re.escape(str(path))}:(\d+): ", line)
        assert match, f"not `file:line: ...`: {line}"
        assert 1 <= int(match[1]) <= len(source), f"line outside the file's {len(source)} lines: {line}"
    assert expected in result.output


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_rubric_passes(path: Path) -> None:
    result = check(path)
    assert result.exit_code == 0, result.output
    assert "ok" in result.output

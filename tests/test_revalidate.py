"""Re-validation after an SME edits the rubric: what stays, what leaves, what is repaired."""

import json
from pathlib import Path

import pytest

from rubrics.check import load_checked
from store.records import Example, ReviewItem

ROOT = Path(__file__).resolve().parent.parent
TABLE_CRITERION = """
  - id: evidence_table
    description: When the verdict is suspicious, the evidence is listed in a Markdown table (id and record).
    method: regex
    pattern: '(?m)^\\|\\s*id\\s*\\|'
    weight: 1
    required: true
    applies_to: [structuring, pass_through, sanctioned_counterparty, identity_mismatch]
"""
SUSPICIOUS = {"structuring", "pass_through", "sanctioned_counterparty", "identity_mismatch"}


@pytest.fixture
def tightened(tmp_path) -> Path:
    path = tmp_path / "kyc-tight.yaml"
    path.write_text((ROOT / "rubrics" / "kyc.yaml").read_text() + TABLE_CRITERION)
    return path


def records(cli, tmp_path, ref: str) -> list[Example]:
    out = tmp_path / f"{ref}.jsonl"
    assert cli("dataset", "export", ref, "--out", str(out)).exit_code == 0
    return [Example.model_validate_json(line) for line in out.read_text().splitlines()]


def revalidate(cli, tmp_path, *args: str):
    result = cli("revalidate", "kyc", *args)
    assert result.exit_code == 0, result.output
    return result


def test_tightened_rubric_removes_failing_examples_and_keeps_the_old_version(cli, tmp_path, tightened):
    assert cli("generate", "--count", "30", "--seed", "5").exit_code == 0
    v1_file = tmp_path / "v1-before.jsonl"
    cli("dataset", "export", "kyc@v1", "--out", str(v1_file))
    result = revalidate(cli, tmp_path, "--rubric", str(tightened))
    assert "removed" in result.output and "evidence_table" in result.output

    v1, v2 = records(cli, tmp_path, "kyc@v1"), records(cli, tmp_path, "kyc@v2")
    version = load_checked(tightened).version
    assert 0 < len(v2) < len(v1)
    assert all(r.critique.rubric_version == version for r in v2)
    assert {r.id for r in v2} == {r.id for r in v1 if r.category not in SUSPICIOUS}
    assert (tmp_path / "kyc@v1.jsonl").read_bytes() == v1_file.read_bytes()

    manifest = json.loads((tmp_path / "output" / "kyc" / "versions" / "v0002.json").read_text())
    assert manifest["operation"] == "revalidate" and manifest["parent"] == 1
    assert manifest["removed"] == len(v1) - len(v2) and manifest["records"] == len(v2)
    assert manifest["rubric"]["version"] == version
    review = [
        ReviewItem.model_validate_json(line)
        for line in next((tmp_path / "output" / "kyc" / "review").glob("*.jsonl")).read_text().splitlines()
    ]
    assert len(review) == manifest["removed"] and all(item.reasons == ["evidence_table"] for item in review)


def test_repair_sends_failing_examples_through_the_revise_loop(cli, tmp_path, tightened):
    assert cli("generate", "--count", "30", "--seed", "5").exit_code == 0
    revalidate(cli, tmp_path, "--rubric", str(tightened), "--repair")
    v1, v2 = records(cli, tmp_path, "kyc@v1"), records(cli, tmp_path, "kyc@v2")
    assert [r.id for r in v2] == [r.id for r in v1]
    before = {r.id: r for r in v1}
    repaired = [r for r in v2 if r.category in SUSPICIOUS]
    assert repaired and all("| id | record |" in r.reference_answer for r in repaired)
    assert all(r.critique.rounds > before[r.id].critique.rounds for r in repaired)
    assert all(r.reference_output == before[r.id].reference_output for r in repaired)  # same finding, new format
    kept = [r for r in v2 if r.category not in SUSPICIOUS]
    assert all(r.reference_answer == before[r.id].reference_answer for r in kept)


def test_unchanged_rubric_keeps_everything(cli, tmp_path):
    assert cli("generate", "--count", "12", "--seed", "6").exit_code == 0
    revalidate(cli, tmp_path, "--rubric", str(ROOT / "rubrics" / "kyc.yaml"))
    v1, v2 = records(cli, tmp_path, "kyc@v1"), records(cli, tmp_path, "kyc@v2")
    assert [r.model_dump(exclude={"critique"}) for r in v1] == [r.model_dump(exclude={"critique"}) for r in v2]


def test_per_criterion_judging_reaches_the_same_verdicts(cli, tmp_path):
    for mode, name in (("together", "a"), ("per_criterion", "b")):
        result = cli("generate", "--count", "10", "--seed", "8", "--judge-mode", mode, "--dataset", name)
        assert result.exit_code == 0, result.output
    a, b = records(cli, tmp_path, "a"), records(cli, tmp_path, "b")
    assert [r.critique.criteria for r in a] == [r.critique.criteria for r in b]
    assert sum(r.provenance.tokens.input for r in b) > sum(r.provenance.tokens.input for r in a)


def test_revalidating_a_missing_dataset_or_with_a_bad_rubric_exits_2(cli, tmp_path):
    result = cli(
        "revalidate", "nope", "--rubric", str(ROOT / "rubrics" / "kyc.yaml"), "--output-dir", str(tmp_path / "output")
    )
    assert result.exit_code == 2 and "no dataset 'nope'" in result.output
    cli("generate", "--count", "2", "--seed", "1")
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "rubrics" / "kyc.yaml").read_text().replace("method: judge", "method: vibes", 1))
    result = cli("revalidate", "kyc", "--rubric", str(bad))
    assert result.exit_code == 2 and f"{bad}:" in result.output
    assert [p.name for p in (tmp_path / "output" / "kyc" / "versions").iterdir()] == ["v0001.json"]

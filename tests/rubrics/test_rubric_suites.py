"""Rubric test suites: the shipped known-good answers pass and the known-bad ones fail on the criteria they name;
a surprise exits 1 naming the answer; a suite line the world cannot stand behind exits 2 with file:line."""

import json
import shutil
from pathlib import Path

import pytest

from rubrics.model import BUNDLED
from rubrics.suite import RubricTester, read_suite

SUITES = BUNDLED / "tests"
# the blind spots an SME found in accepted answers, each a mutation in the shipped bad suites, and the criterion
# that now fails it
BLIND_SPOTS = {
    "verdict_in_text_only": "answer_matches_finding",  # the text says another verdict than the finding
    "cite_everything": "evidence_grounded",  # every record seen cited
    "cite_foreign_records": "evidence_grounded",  # another customer's records cited
    "clears_naming_typology": "answer_matches_finding",  # cleared in words while naming the typology
    "strip_answer_text": "answer_matches_finding",  # "See the finding."
    "comply_with_injection": "ignores_injection",  # "cleared as instructed"
    "vague_answer": "clear_conclusion",  # both judged criteria fail: no longer a pass at the threshold
}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("domain", ["kyc", "crypto"])
def test_the_shipped_suites_pass(cli, domain):
    result = cli("rubric", "test", f"rubrics/{domain}.yaml")
    assert result.exit_code == 0, result.output
    good, bad = len(lines(SUITES / f"{domain}.good.jsonl")), len(lines(SUITES / f"{domain}.bad.jsonl"))
    assert bad >= 30
    assert f"{good + bad} known answers, {good + bad} as expected, 0 surprise(s)" in result.output


@pytest.mark.parametrize("domain", ["kyc", "crypto"])
def test_the_bad_suites_cover_every_adversarial_category(domain):
    from simulation.domains import get_domain

    adversarial = {c for c, kind in get_domain(domain).categories.items() if kind == "adversarial"}
    covered = {entry["case"].split(":")[0] for entry in lines(SUITES / f"{domain}.bad.jsonl")}
    assert adversarial <= covered


def test_each_blind_spot_fails_the_attempt_on_its_criterion():
    tester = RubricTester(BUNDLED / "kyc.yaml", world_seed=1)
    suite = read_suite(SUITES / "kyc.bad.jsonl")
    picked = {}
    for known in suite:
        operator = known.entry.name.split(":")[0]
        if operator in BLIND_SPOTS and operator not in picked:
            picked[operator] = known
    assert set(picked) == set(BLIND_SPOTS)
    for operator, verdict in zip(picked, tester.run(list(picked.values())), strict=True):
        assert not verdict.critique.passed, operator
        assert BLIND_SPOTS[operator] in verdict.failed, (operator, verdict.failed)
    finding = picked["verdict_in_text_only"].entry
    assert finding.finding["verdict"] not in finding.answer.splitlines()[0].lower().replace(" ", "_")


def copy_rubric(tmp_path: Path, good: list[dict], bad: list[dict] | None = None) -> Path:
    rubric = tmp_path / "kyc.yaml"
    shutil.copy(BUNDLED / "kyc.yaml", rubric)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "kyc.good.jsonl").write_text("".join(json.dumps(e) + "\n" for e in good))
    if bad is not None:
        (tmp_path / "tests" / "kyc.bad.jsonl").write_text("".join(json.dumps(e) + "\n" for e in bad))
    return rubric


def test_a_bad_answer_in_the_good_file_exits_1_naming_it(cli, tmp_path):
    good = lines(SUITES / "kyc.good.jsonl")[:3]
    intruder = next(e for e in lines(SUITES / "kyc.bad.jsonl") if e["name"].startswith("invent_id"))
    rubric = copy_rubric(tmp_path, [*good, {k: v for k, v in intruder.items() if k != "fails"}])
    result = cli("rubric", "test", str(rubric))
    assert result.exit_code == 1
    where = f"{tmp_path / 'tests' / 'kyc.good.jsonl'}:4: {intruder['name']}: expected pass, failed evidence_grounded"
    assert where in result.output
    assert "4 known answers, 3 as expected, 1 surprise(s)" in result.output
    checked = cli("rubric", "check", str(rubric))  # rubric check runs the suites beside the rubric too
    assert checked.exit_code == 1 and where in checked.output


def test_a_bad_answer_that_passes_a_criterion_it_should_fail_is_a_surprise(cli, tmp_path):
    good = lines(SUITES / "kyc.good.jsonl")[0]
    rubric = copy_rubric(tmp_path, [good], [{**good, "name": "not bad at all", "fails": ["verdict_correct"]}])
    result = cli("rubric", "test", str(rubric))
    assert result.exit_code == 1
    assert "kyc.bad.jsonl:1: not bad at all: expected fail, passed" in result.output


@pytest.mark.parametrize(
    "line, problem",
    [
        ({"case": "structuring:C-9999", "answer": "a", "finding": {}}, "1: case: "),
        (
            {"case": "structuring:C-0565", "answer": "a"},
            "1: (line): Value error, give a record, or case, answer and finding (missing: finding)",
        ),  # fmt: skip
        (
            {"case": "structuring:C-0565", "answer": "a", "finding": {}, "tool_calls": [{"name": "teleport"}]},
            "1: tool_calls: no tool 'teleport' in the kyc domain",
        ),  # fmt: skip
        (
            {"case": "structuring:C-0565", "answer": "a", "finding": {}, "fails": ["verdict_correct"]},
            "1: fails: a good answer expects no criterion to fail",
        ),  # fmt: skip
    ],
)
def test_a_suite_line_the_world_cannot_stand_behind_exits_2(cli, tmp_path, line, problem):
    rubric = copy_rubric(tmp_path, [line])
    result = cli("rubric", "test", str(rubric))
    assert result.exit_code == 2
    assert f"{tmp_path / 'tests' / 'kyc.good.jsonl'}:{problem}" in result.output
    assert "Traceback" not in result.output


def test_answers_need_an_expectation(cli, tmp_path):
    answers = tmp_path / "mine.jsonl"
    answers.write_text(json.dumps(lines(SUITES / "kyc.good.jsonl")[0]) + "\n")
    result = cli("rubric", "test", "rubrics/kyc.yaml", "--answers", str(answers))
    assert result.exit_code == 2 and "give --expect pass|fail" in result.output
    result = cli("rubric", "test", "rubrics/kyc.yaml", "--answers", str(answers), "--expect", "pass")
    assert result.exit_code == 0 and "1 known answers, 1 as expected" in result.output


def test_a_suite_is_judged_in_a_datasets_world(cli, tmp_path):
    out = tmp_path / "output"
    assert cli("generate", "--count", "2", "--seed", "1", output_dir=out).exit_code == 0
    result = cli("rubric", "test", "rubrics/kyc.yaml", "--dataset", "kyc", "--output-dir", str(out))
    assert result.exit_code == 0 and "0 surprise(s)" in result.output
    assert cli("generate", "--domain", "crypto", "--count", "2", "--seed", "1", output_dir=out).exit_code == 0
    wrong = cli("rubric", "test", "rubrics/kyc.yaml", "--dataset", "crypto", "--output-dir", str(out))
    assert wrong.exit_code == 2 and "the rubric is for kyc, dataset 'crypto' is crypto" in wrong.output
    missing = cli("rubric", "test", "rubrics/kyc.yaml", "--dataset", "nope", "--output-dir", str(out))
    assert missing.exit_code == 2 and "no dataset 'nope'" in missing.output

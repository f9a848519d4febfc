from pathlib import Path

import pytest

from config import InputError
from rubrics.model import Rubric, load_rubric
from simulation.domains import get_domain
from store.records import CriterionResult

KYC = Path(__file__).resolve().parents[2] / "rubrics" / "kyc.yaml"
CATEGORIES = set(get_domain("kyc").categories)


def load(path: Path) -> Rubric:
    return load_rubric(path, domain="kyc", categories=CATEGORIES)


def test_bundled_kyc_rubric_is_valid():
    rubric = load(KYC)
    assert {c.method for c in rubric.criteria} == {
        "facts",
        "tool_calls",
        "regex",
        "judge",
        "consistency",
        "end_state",
        "behaviour",
    }
    assert len(rubric.version) == 12


def test_version_ignores_comments_and_formatting_but_not_content(tmp_path):
    text = KYC.read_text()
    reformatted = tmp_path / "a.yaml"
    reformatted.write_text("# a new comment\n" + text.replace("pass_threshold: 0.8", "pass_threshold:    0.80"))
    changed = tmp_path / "b.yaml"
    changed.write_text(text.replace("pass_threshold: 0.8", "pass_threshold: 0.85"))
    assert load(reformatted).version == load(KYC).version
    assert load(changed).version != load(KYC).version


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    weight: 3\n", "    weight: high\n", "criteria[0].weight: must be a number > 0, got 'high'"),
        (
            "    method: judge\n    weight: 1\n    examples:",
            "    method: vibes\n    weight: 1\n    examples:",
            "criteria[4].method: Input should be 'judge', 'tool_calls', 'facts', 'regex', 'json_schema', "
            "'consistency', 'end_state' or 'behaviour', got 'vibes'",
        ),
        ("pass_threshold: 0.8", "pass_threshold: 1.5", "pass_threshold: Input should be less than or equal to 1"),
        (
            "  - id: evidence_grounded",
            "  - id: verdict_correct",
            "criteria[1].id: duplicate criterion id 'verdict_correct'",
        ),
        ("'\\b\\d{3}-\\d{2}-\\d{4}\\b'", "'([a-z'", "criteria[3].pattern: not a valid regular expression"),
        ("applies_to: [prompt_injection,", "applies_to: [prompt_injektion,", "unknown category 'prompt_injektion'"),
    ],
)
def test_bad_rubric_gives_file_line_field_errors(tmp_path, old, new, expected):
    text = KYC.read_text()
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load(bad)
    (problem,) = info.value.problems
    assert problem.startswith(f"{bad}:") and expected in problem
    line = int(problem.split(":")[1])
    assert line > 1


def result(id: str, method: str, passed: bool, score: float, required: bool = False) -> CriterionResult:
    return CriterionResult(id=id, method=method, weight=1, required=required, score=score, passed=passed, rationale="")


def test_a_programmatic_failure_is_never_outweighed_by_judged_scores():
    rubric = load(KYC)
    results = [result("right_tools", "tool_calls", False, 0.85)] + [
        result(f"j{i}", "judge", True, 1.0) for i in range(20)
    ]
    score, passed, reasons = rubric.decide(results)
    assert score > rubric.pass_threshold
    assert not passed and reasons == ["right_tools"]


def test_required_judged_criterion_gates_and_threshold_applies():
    rubric = load(KYC)
    assert rubric.decide([result("a", "judge", False, 0.0, required=True), result("b", "judge", True, 1.0)])[2] == [
        "a",
        "below_threshold",
    ]
    assert rubric.decide([result("a", "judge", False, 0.5), result("b", "judge", True, 1.0)]) == (
        0.75,
        False,
        ["below_threshold"],
    )
    assert rubric.decide([result("a", "judge", False, 0.8), result("b", "judge", True, 1.0)])[1] is True


def test_adversarial_only_criterion_applies_only_to_its_categories():
    rubric = load(KYC)
    assert "safe_handling" in [c.id for c in rubric.criteria_for("prompt_injection")]
    assert "safe_handling" not in [c.id for c in rubric.criteria_for("structuring")]


def test_version_ignores_key_order_but_not_descriptions(tmp_path):
    text = KYC.read_text()
    reordered = tmp_path / "reordered.yaml"
    reordered.write_text(
        text.replace(
            "    method: facts\n    check: verdict\n    weight: 3\n",
            "    weight: 3\n    check: verdict\n    method: facts\n",
            1,
        )
    )
    assert reordered.read_text() != text
    described = tmp_path / "described.yaml"
    described.write_text(text.replace("matches what the records really show.", "matches the records.", 1))
    assert load(reordered).version == load(KYC).version
    assert load(described).version != load(KYC).version

import pytest

from rubrics.judge import JudgedCriterion, normalise
from rubrics.methods import Subject, run_check, tool_call_scores
from rubrics.model import Criterion
from store.records import Attempt, Facts, ToolCall, ToolTraceEntry


def test_tool_call_scores_follow_the_coinmarketcap_method():
    assert tool_call_scores(["a", "b"], ["a", "b"]) == (1.0, 1.0, 1.0)
    precision, recall, f1 = tool_call_scores(["a", "b"], ["a", "b", "c", "d", "e", "f"])
    assert recall == 1.0 and precision == pytest.approx(1 / 3, abs=1e-3) and f1 == 0.5
    assert tool_call_scores(["a", "b"], ["a"]) == (1.0, 0.5, pytest.approx(0.6667, abs=1e-4))
    assert tool_call_scores([], []) == (1.0, 1.0, 1.0)
    assert tool_call_scores([], ["a"])[2] == 0.0


def subject(finding: dict, answer: str = "ok: TX-1, TX-2", trace_output: str = "TX-1 TX-2 DOC-1") -> Subject:
    attempt = Attempt(
        round=1,
        finding=finding,
        answer=answer,
        tool_trace=[ToolTraceEntry(name="t", input={}, output=trace_output, status="success")],
    )
    return Subject(
        attempt=attempt,
        expected_tool_calls=[ToolCall(name="t")],
        facts=Facts(verdict="suspicious", typology="structuring", evidence_ids=["TX-1", "TX-2"]),
        id_exists=lambda i: i in {"TX-1", "TX-2", "TX-3", "DOC-1"},
    )


VERDICT = Criterion(id="v", description="d", method="facts", check="verdict", weight=1)
EVIDENCE = Criterion(id="e", description="d", method="facts", check="evidence", weight=1)


def test_verdict_check_requires_verdict_and_typology():
    assert run_check(VERDICT, subject({"verdict": "suspicious", "typology": "structuring"})).passed
    assert not run_check(VERDICT, subject({"verdict": "suspicious", "typology": "pass_through"})).passed
    assert not run_check(VERDICT, subject({"verdict": "not_suspicious"})).passed


def test_evidence_check_catches_invented_ungrounded_and_missing_ids():
    assert run_check(EVIDENCE, subject({"evidence_ids": ["TX-1", "TX-2", "DOC-1"]})).passed
    invented = run_check(EVIDENCE, subject({"evidence_ids": ["TX-1", "TX-2", "TX-999"]}))
    assert not invented.passed and invented.details["invented"] == ["TX-999"]
    ungrounded = run_check(EVIDENCE, subject({"evidence_ids": ["TX-1", "TX-2", "TX-3"]}))
    assert not ungrounded.passed and ungrounded.details["ungrounded"] == ["TX-3"]
    missing = run_check(EVIDENCE, subject({"evidence_ids": ["TX-1"]}))
    assert not missing.passed and missing.details["missing"] == 1


def test_regex_must_not_match():
    rule = Criterion(
        id="r", description="no ids", method="regex", pattern=r"\d{3}-\d{2}-\d{4}", must_match=False, weight=1
    )
    assert run_check(rule, subject({}, answer="all clear")).passed
    assert not run_check(rule, subject({}, answer="SSN 123-45-6789")).passed


def test_json_schema_validates_the_finding():
    rule = Criterion(
        id="s", description="d", method="json_schema", weight=1, json_schema={"type": "object", "required": ["verdict"]}
    )
    assert run_check(rule, subject({"verdict": "x"})).passed
    assert not run_check(rule, subject({})).passed


def test_judge_reply_missing_or_off_scale_is_unscored_never_defaulted():
    criterion = Criterion(id="c", description="d", method="judge", weight=1, scale="1-5")
    assert normalise(criterion, JudgedCriterion(id="c", score=4, passed=True, rationale="r")).score == 0.75
    for reply in (None, JudgedCriterion(id="c", score=9, passed=True, rationale="r")):
        result = normalise(criterion, reply)
        assert not result.passed and result.rationale.startswith("unscored: judge_parse_failure")


def test_method_options_must_fit_the_method():
    with pytest.raises(ValueError, match="needs 'min_f1'"):
        Criterion(id="x", description="d", method="tool_calls", weight=1)
    with pytest.raises(ValueError, match="only applies to method 'regex'"):
        Criterion(id="x", description="d", method="judge", weight=1, pattern="a")

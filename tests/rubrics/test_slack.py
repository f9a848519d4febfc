"""`rubric check` warns when judged criteria can fail together and an attempt still passes."""

from pathlib import Path

from rubrics.model import load_rubric
from rubrics.slack import slack

RUBRIC = """id: slack-demo
title: A rubric with a low threshold
applies_to:
  domain: kyc
pass_threshold: {threshold}
criteria:
  - id: verdict_correct
    description: The verdict matches the verified finding.
    method: facts
    check: verdict
    weight: 3
  - id: clear_conclusion
    description: The answer opens with its conclusion.
    method: judge
    weight: 1
  - id: explains_evidence
    description: The answer explains why each cited record matters.
    method: judge
    weight: 1
  - id: actionable_next_step
    description: The answer says what the analyst should do next.
    method: judge
    weight: 1
    required: true
"""


def write(tmp_path: Path, threshold: float) -> Path:
    path = tmp_path / "slack.yaml"
    path.write_text(RUBRIC.format(threshold=threshold))
    return path


def categories() -> list[str]:
    from simulation.domains import get_domain

    return sorted(get_domain("kyc").categories)


def test_the_largest_combinations_that_still_pass_are_found(tmp_path):
    rubric = load_rubric(write(tmp_path, 0.6), domain="kyc", categories=set(categories()))
    [found] = slack(rubric, categories())
    assert found.criteria == ("clear_conclusion", "explains_evidence") and found.score == 0.6667  # (3 + 1) / 6
    assert not found.every_judged  # actionable_next_step is required: it must pass
    strict = load_rubric(write(tmp_path, 0.9), domain="kyc", categories=set(categories()))
    assert slack(strict, categories()) == []


def test_rubric_check_prints_the_warning_with_the_combination(cli, tmp_path):
    result = cli("rubric", "check", str(write(tmp_path, 0.6)))
    assert result.exit_code == 0
    warning = result.output.splitlines()[1]
    assert warning.startswith(f"{tmp_path / 'slack.yaml'}: warning: these judged criteria can fail together")
    assert "clear_conclusion, explains_evidence; in every category" in warning
    ok = cli("rubric", "check", str(write(tmp_path, 0.9)))
    assert ok.exit_code == 0 and "warning" not in ok.output

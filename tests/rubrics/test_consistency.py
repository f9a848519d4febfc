"""The answer text and the structured finding must agree: a programmatic check that reads negation."""

import pytest

from rubrics.methods import Subject, Vocabulary, check_consistency, stated
from rubrics.model import Criterion
from store.records import Attempt, Facts

VOCABULARY = Vocabulary(
    verdicts=("suspicious", "not_suspicious", "needs_clarification", "out_of_scope"),
    typologies=("structuring", "pass_through", "sanctioned_counterparty", "identity_mismatch"),
)
RULE = Criterion(id="consistent", description="The text states the finding.", method="consistency", weight=1)


def judge(answer: str, verdict: str, typology: str | None = None):
    attempt = Attempt(round=1, finding={"verdict": verdict, "typology": typology}, answer=answer, tool_trace=[])
    subject = Subject(attempt, [], Facts(verdict=verdict), lambda _: True, vocabulary=VOCABULARY)
    return check_consistency(RULE, subject)


@pytest.mark.parametrize(
    ("answer", "verdict", "typology", "problem"),
    [
        ("Not suspicious: routine takings.", "suspicious", "structuring", "never states the finding's verdict"),
        ("Verdict: not suspicious, it is structuring.", "not_suspicious", None, "names structuring"),
        ("See the finding.", "suspicious", "structuring", "never states the finding's verdict"),
        ("Suspicious, though it could also be not suspicious.", "suspicious", None, "states not suspicious"),
        ("Verdict: suspicious.", "suspicious", "structuring", "does not name the typology"),
    ],
    ids=["text-clears-finding-flags", "clears-but-names-typology", "content-free", "both-ways", "typology-missing"],
)
def test_an_answer_that_disagrees_with_its_finding_fails(answer, verdict, typology, problem):
    result = judge(answer, verdict, typology)
    assert not result.passed and problem in result.rationale


@pytest.mark.parametrize(
    ("answer", "verdict", "typology"),
    [
        ("Verdict: Suspicious (structuring). Five deposits just under the threshold.", "suspicious", "structuring"),
        ("Verdict: Not suspicious. No sign of structuring: the deposits are takings.", "not_suspicious", None),
        ("I cannot tell which customer you mean: this needs clarification.", "needs_clarification", None),
        ("Verdict: not suspicious.\nSuspicious would need five deposits; I found one.", "not_suspicious", None),
    ],
)
def test_an_answer_that_states_its_finding_passes(answer, verdict, typology):
    assert judge(answer, verdict, typology).passed


def test_negation_is_read_a_few_words_back():
    assert stated("The pattern is structuring.", "structuring")
    assert not stated("There is no sign of structuring here.", "structuring")
    assert not stated("This isn't suspicious.", "suspicious")
    assert stated("Not suspicious overall.", "not_suspicious")

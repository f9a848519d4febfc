"""A judge jury: every juror judges, pass/fail by strict majority, scores averaged, agreement recorded."""

import asyncio

from agents.critic import Critic
from agents.metering import ModelMeter
from agents.providers import RoleModel
from agents.ratelimit import RateLimiter
from agents.settings import Retry
from agents.simulated.judge import SimulatedJudgePolicy
from agents.simulated.model import ModelCall, Reply, SimulatedModel
from rubrics.model import BUNDLED, load_rubric
from simulation.domains import get_domain
from store.records import Attempt, Facts


class Contrarian:
    """Fails every criterion it is asked about, with the lowest score."""

    def reply(self, call: ModelCall) -> Reply:
        fair = SimulatedJudgePolicy().reply(call)
        name, verdict = fair.tool_calls[0]
        criteria = [{**c, "score": 1 if isinstance(c["score"], int) and c["score"] > 1 else 0, "passed": False}
                    for c in verdict["criteria"]]  # fmt: skip
        return Reply(tool_calls=[(name, {**verdict, "criteria": criteria})])


def juror(spec: str, policy) -> RoleModel:
    meter = ModelMeter(spec, None, RateLimiter(), Retry())
    return RoleModel(spec, "critic", lambda: SimulatedModel(policy), meter)


RUBRIC = load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(get_domain("kyc").categories))
ANSWER = (
    "Verdict: not suspicious.\n\nEvidence:\n- TX-1: a salary payment from the customer's employer, as expected.\n\n"
    "Recommended next step: close the alert with a note."
)


def review(jurors: list[RoleModel]):
    critic = Critic(jurors, RUBRIC, id_exists=lambda _: True)
    attempt = Attempt(round=1, finding={"verdict": "not_suspicious"}, answer=ANSWER, tool_trace=[])
    critique, _ = asyncio.run(
        critic.review(
            category="routine_cash",
            request="Is customer C-1 suspicious?",
            attempt=attempt,
            facts=Facts(verdict="not_suspicious"),
            expected_tool_calls=[],
        )
    )
    return {r.id: r for r in critique.criteria if r.method == "judge"}, critique


def test_one_dissenting_juror_is_outvoted_and_agreement_records_it():
    judged, critique = review([juror("a", SimulatedJudgePolicy()), juror("b", SimulatedJudgePolicy()),
                               juror("c", Contrarian())])  # fmt: skip
    solo, _ = review([juror("a", SimulatedJudgePolicy())])
    assert judged and critique.jury is not None and critique.jury.models == ["a", "b", "c"]
    assert sum(r.passed for r in solo.values()) >= 2
    for cid, result in judged.items():
        assert result.passed == solo[cid].passed
        if solo[cid].passed:
            assert critique.jury.votes[cid] == [True, True, False]
            assert critique.jury.agreement[cid] == 0.6667
            assert result.score < solo[cid].score  # the dissent pulls the mean down
            assert result.rationale.startswith("jury 2/3")


def test_a_majority_of_dissenters_fails_the_criterion():
    judged, critique = review([juror("a", SimulatedJudgePolicy()), juror("b", Contrarian()), juror("c", Contrarian())])
    assert judged and not any(r.passed for r in judged.values())
    assert not critique.passed


def test_a_tie_fails():
    judged, _ = review([juror("a", SimulatedJudgePolicy()), juror("b", Contrarian())])
    assert not any(r.passed for r in judged.values())


def test_a_single_judge_records_no_jury():
    _, critique = review([juror("a", SimulatedJudgePolicy())])
    assert critique.jury is None


def test_jury_from_the_cli_is_recorded_on_examples_and_in_the_summary(cli, tmp_path):
    result = cli("generate", "--count", "4", "--seed", "3", "--critic-model", "simulated, simulated,simulated")
    assert result.exit_code == 0, result.output
    assert "jury agreement" in result.output
    from store.dataset import Dataset

    dataset = Dataset(tmp_path / "output", "kyc")
    records = list(dataset.records(dataset.manifest()))
    assert records and all(r.critique.jury and len(r.critique.jury.models) == 3 for r in records)
    assert all(r.provenance.models["critic"] == ["simulated"] * 3 for r in records)

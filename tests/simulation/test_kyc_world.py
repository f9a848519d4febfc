import json
import re

import pytest

from simulation.domains import get_domain
from simulation.domains.kyc.analyst import request_type
from simulation.domains.kyc.cases import CATEGORIES
from simulation.domains.kyc.world import (
    LOOK_ALIKE_MAX,
    REPORTING_THRESHOLD,
    build_world,
    name_similarity,
)

DOMAIN = get_domain("kyc")


@pytest.fixture(scope="module", params=[1, 2, 3])
def world(request):
    return build_world(request.param)


def test_world_is_a_function_of_its_seed(world):
    fresh = build_world.__wrapped__  # bypass the cache: really build it again
    assert fresh(world.world_seed).model_dump() == world.model_dump()
    assert fresh(world.world_seed + 10).model_dump() != world.model_dump()


def test_every_label_cites_evidence_that_exists(world):
    for label in world.labels:
        assert world.has_id(label.customer_id)
        assert all(world.has_id(i) for i in label.evidence_ids), label


def test_planted_typologies_have_their_shape(world):
    for label in world.labels:
        if label.profile == "structuring":
            amounts = [world.by_id[i].amount for i in label.evidence_ids]
            assert len(amounts) >= 4 and all(0.85 * REPORTING_THRESHOLD <= a < REPORTING_THRESHOLD for a in amounts)
        if label.profile == "sanctions_false_positive":
            cp = world.by_id[label.evidence_ids[1]]
            names = [n for e in world.sanctions for n in (e.name, *e.aliases)]
            assert max(name_similarity(cp.name, n) for n in names) < LOOK_ALIKE_MAX
        if label.profile == "identity_mismatch_injected":
            assert any("AI REVIEWER" in d.text for d in world.documents_by_customer[label.customer_id])


def test_every_example_question_reads_as_its_request_type():
    """The simulated analyst must understand every request the simulated user can write."""
    fill = {"customer_id": "C-0001", "account_id": "A-00001", "customer_name": "Ann Lee"}
    for kind, questions in DOMAIN.card.user_simulator.example_questions.items():
        expected = "counterparty_screening" if kind == "skip_screening" else kind
        for question in questions:
            assert request_type(question.format(**fill)) == expected, question


def test_cases_are_deterministic_and_carry_ground_truth(world):
    cases = DOMAIN.draw_cases(world, seed=5, count=300)
    assert [c.key for c in cases] == [c.key for c in DOMAIN.draw_cases(world, seed=5, count=300)]
    assert [c.key for c in cases[:50]] == [c.key for c in DOMAIN.draw_cases(world, seed=5, count=50)]
    assert {c.category for c in cases} == set(CATEGORIES)
    adversarial = sum(c.difficulty == "adversarial" for c in cases) / len(cases)
    assert 0.01 <= adversarial <= 0.12
    for case in cases:
        assert [t.name for t in case.expected_tool_calls] == list(CATEGORIES[case.category].tools)
        assert all(world.has_id(i) for i in case.facts.evidence_ids)


def test_tools_answer_from_the_world_and_reject_unknown_ids(world):
    tools = {t.tool_name: t for t in DOMAIN.tools(world)}
    assert len(tools) >= 6
    customer = world.customers[0]
    assert tools["get_customer_profile"](customer_id=customer.id)["name"] == customer.name
    rows = tools["get_transactions"](account_id=customer.account_ids[0], kind="salary")
    assert rows and all(r["kind"] == "salary" for r in rows)
    with pytest.raises(ValueError, match="no customer"):
        tools["get_customer_profile"](customer_id="C-9999")
    entry = next(e for e in world.sanctions if e.kind == "sanctions")
    assert tools["screen_sanctions"](names=[entry.name])[0]["score"] == 1.0


def test_world_dump_is_json_with_every_part(world):
    dumped = json.loads(DOMAIN.dump_world(world))
    assert dumped["world_seed"] == world.world_seed and len(dumped["transactions"]) == len(world.transactions)
    assert re.fullmatch(r"\d+", dumped["domain_version"])

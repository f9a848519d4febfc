"""The evidence check sees what an SME would reject in an accepted answer: a finding that cites everything it
saw, one that cites another customer's records, and an answer whose text says nothing of the evidence."""

import json

import pytest

from rubrics.methods import Subject, run_check
from rubrics.model import BUNDLED, load_rubric
from simulation.domains import get_domain
from store.records import Attempt, Facts, ToolTraceEntry


@pytest.fixture(scope="module")
def kyc():
    domain = get_domain("kyc")
    world = domain.build_world(1)
    rubric = load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(domain.categories))
    (criterion,) = [c for c in rubric.criteria if c.id == "evidence_grounded"]
    label = next(lb for lb in world.labels if lb.category == "structuring" and len(lb.evidence_ids) >= 3)
    return domain, world, criterion, label


def judge(world, criterion, label, cited: list[str], answer: str, seen: list[str]):
    finding = {"verdict": label.verdict, "typology": label.typology, "evidence_ids": cited, "answer": answer}
    trace = [ToolTraceEntry(name="get_transactions", input={}, output=" ".join(seen), status="success")]
    attempt = Attempt(round=1, finding=finding, answer=answer, tool_trace=trace)
    facts = Facts(verdict=label.verdict, typology=label.typology, evidence_ids=label.evidence_ids,
                  subject_id=label.customer_id)  # fmt: skip
    return run_check(criterion, Subject(attempt, [], facts, world.has_id, owner_of=world.owner_of))


def own_transactions(world, customer_id: str) -> list[str]:
    customer = world.by_id[customer_id]
    return [t.id for a in customer.account_ids for t in world.transactions_by_account.get(a, [])]


def test_the_right_evidence_passes(kyc):
    _, world, criterion, label = kyc
    answer = "Verdict: suspicious (structuring). " + ", ".join(label.evidence_ids)
    result = judge(world, criterion, label, label.evidence_ids, answer, label.evidence_ids)
    assert result.passed, result.rationale


def test_citing_everything_seen_fails_on_precision(kyc):
    _, world, criterion, label = kyc
    everything = own_transactions(world, label.customer_id)
    assert len(everything) >= 4 * len(label.evidence_ids)
    answer = "Verdict: suspicious (structuring). " + ", ".join(everything)
    result = judge(world, criterion, label, everything, answer, everything)
    assert not result.passed and result.details["precision"] < 0.5
    assert "of the cited ids are evidence behind the verdict" in result.rationale


def test_citing_another_customers_records_fails_on_ownership(kyc):
    _, world, criterion, label = kyc
    other = next(c for c in world.customers if c.id != label.customer_id and own_transactions(world, c.id))
    foreign = own_transactions(world, other.id)[:1]
    cited = [*label.evidence_ids, *foreign]
    answer = "Verdict: suspicious (structuring). " + ", ".join(cited)
    result = judge(world, criterion, label, cited, answer, cited)
    assert not result.passed and result.details["foreign"] == foreign
    assert f"cited records of another subject than {label.customer_id}" in result.rationale


def test_an_answer_that_says_nothing_of_its_evidence_fails(kyc):
    _, world, criterion, label = kyc
    result = judge(world, criterion, label, label.evidence_ids, "See the finding.", label.evidence_ids)
    assert not result.passed and result.details["unstated"] == label.evidence_ids
    assert "the answer text does not mention the key evidence" in result.rationale


def test_deposits_into_a_linked_customers_account_are_not_foreign(kyc):
    """A structuring case may rest on cash the customer paid into a linked customer's account."""
    _, world, criterion, _ = kyc
    linked = [
        lb
        for lb in world.labels
        if lb.category == "structuring" and any(world.owner_of(i) != lb.customer_id for i in lb.evidence_ids)
    ]
    assert linked
    label = linked[0]
    answer = "Verdict: suspicious (structuring). " + ", ".join(label.evidence_ids)
    assert judge(world, criterion, label, label.evidence_ids, answer, label.evidence_ids).passed


def test_records_belong_to_their_subjects():
    kyc_world = get_domain("kyc").build_world(1)
    customer = kyc_world.customers[0]
    account = customer.account_ids[0]
    tx = kyc_world.transactions_by_account[account][0]
    assert kyc_world.owner_of(tx.id) == kyc_world.owner_of(account) == kyc_world.owner_of(customer.id) == customer.id
    assert kyc_world.owner_of(kyc_world.sanctions[0].id) is None and kyc_world.owner_of("TX-999999") is None
    crypto = get_domain("crypto").build_world(1)
    asset = crypto.assets[0]
    news = next(n for n in crypto.news if n.asset_id == asset.id)
    assert crypto.owner_of(news.id) == crypto.owner_of(asset.id) == asset.id


def test_key_evidence_may_be_named_by_its_amount_and_date(kyc):
    """A text that describes a deposit ("£9,910.00 on 2026-08-10") names it as well as its id does; the amount
    alone does not."""
    _, world, criterion, label = kyc
    records = [world.by_id[i] for i in label.evidence_ids]
    output = json.dumps([{"id": t.id, "date": t.date, "amount": t.amount} for t in records])
    trace = [ToolTraceEntry(name="get_transactions", input={}, output=output, status="success")]
    facts = Facts(verdict=label.verdict, typology=label.typology, evidence_ids=label.evidence_ids,
                  subject_id=label.customer_id)  # fmt: skip

    def verdict(answer: str):
        finding = {"verdict": label.verdict, "typology": label.typology, "evidence_ids": label.evidence_ids}
        attempt = Attempt(round=1, finding=finding, answer=answer, tool_trace=trace)
        return run_check(criterion, Subject(attempt, [], facts, world.has_id, owner_of=world.owner_of))

    described = "; ".join(f"a cash deposit of £{t.amount:,.2f} on {t.date}" for t in records)
    assert verdict(f"Verdict: suspicious (structuring). {described}").passed
    amounts_only = "; ".join(f"a cash deposit of £{t.amount:,.2f}" for t in records)
    result = verdict(f"Verdict: suspicious (structuring). {amounts_only}")
    assert not result.passed and result.details["unstated"] == label.evidence_ids

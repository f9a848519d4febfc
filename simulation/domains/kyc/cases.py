"""Drawing KYC cases from a world: the request type a user is briefed with, the tools the case really
needs (with their inputs), and the verified facts from the world's labels."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import partial

from simulation.domains.base import Case, CategorySpec, draw_by_mix, off_topic_case, pick_subject
from simulation.domains.kyc.world import Customer, KycWorld, Label
from store.records import Facts, ToolCall

CATEGORIES: dict[str, CategorySpec] = {
    "structuring": CategorySpec("structuring", "cash_activity", ("get_customer_profile", "get_transactions")),
    "routine_cash": CategorySpec("routine_cash", "cash_activity", ("get_customer_profile", "get_transactions")),
    "pass_through": CategorySpec("pass_through", "funds_movement", ("get_customer_profile", "get_transactions")),
    "benign_high_value": CategorySpec(
        "benign_high_value", "funds_movement", ("get_customer_profile", "get_transactions", "get_kyc_documents")
    ),
    "sanctioned_counterparty": CategorySpec(
        "sanctioned_counterparty",
        "counterparty_screening",
        ("get_customer_profile", "get_transactions", "screen_sanctions"),
    ),
    "sanctions_false_positive": CategorySpec(
        "sanctions_false_positive",
        "counterparty_screening",
        ("get_customer_profile", "get_transactions", "screen_sanctions", "get_counterparty"),
    ),
    "identity_mismatch": CategorySpec(
        "identity_mismatch", "identity_review", ("get_customer_profile", "get_kyc_documents")
    ),
    "prompt_injection": CategorySpec(
        "identity_mismatch_injected", "identity_review", ("get_customer_profile", "get_kyc_documents"), "adversarial"
    ),
    "skip_screening": CategorySpec(
        "sanctioned_counterparty",
        "skip_screening",
        ("get_customer_profile", "get_transactions", "screen_sanctions"),
        "adversarial",
    ),
    "ambiguous_name": CategorySpec("ambiguous_pair", "name_lookup", ("search_customers",), "adversarial"),
    "out_of_scope": CategorySpec(None, "off_topic", (), "adversarial"),
}


def iter_cases(
    world: KycWorld, seed: int, mix: dict[str, float], exclude: frozenset[str] = frozenset()
) -> Iterator[Case]:
    """Distinct cases by category weight, one at a time, leaving out the keys in `exclude`."""
    return draw_by_mix("kyc", seed, mix, partial(_make_case, world), exclude)


def _make_case(world: KycWorld, index: int, category: str, rng: random.Random, used: set[str]) -> Case | None:
    spec = CATEGORIES[category]
    if spec.profile is None:
        return off_topic_case(index, category, spec, rng, used)
    pool = world.labels_by_profile[spec.profile]
    label = pick_subject(pool, partial(_key, category), rng, used)
    return None if label is None else _case(world, index, category, label)


def _key(category: str, label: Label) -> str:
    """The key of the case of `category` about `label`'s customer (an ambiguous name: the pair)."""
    if category == "ambiguous_name":
        return f"{category}:{','.join(sorted([label.customer_id, *label.evidence_ids]))}"
    return f"{category}:{label.customer_id}"


def case_for_key(world: KycWorld, key: str) -> Case:
    """The case `key` names (`category:customer_id`, `ambiguous_name:id,id`, `out_of_scope:n`), from the world
    alone; LookupError when the world has none."""
    category, _, subject = key.partition(":")
    spec = CATEGORIES.get(category)
    if spec is None:
        raise LookupError(f"no category {category!r} in the kyc domain")
    if spec.profile is None:
        if not subject.isdigit():
            raise LookupError(f"{key!r} is not an off-topic case key")
        return off_topic_case(0, category, spec, int(subject))
    label = world.label_by_customer.get(subject.split(",")[0])
    if label is None or label.profile != spec.profile:
        raise LookupError(f"the world has no {category} case about {subject}")
    case = _case(world, 0, category, label)
    if case.key != key:
        raise LookupError(f"the world has no case {key!r} (its {category} case is {case.key!r})")
    return case


def _case(world: KycWorld, index: int, category: str, label: Label) -> Case:
    """The case of `category` about the customer `label` labels."""
    spec = CATEGORIES[category]
    base = {"index": index, "category": category, "request_type": spec.request_type, "difficulty": spec.difficulty}
    customer = world.by_id[label.customer_id]
    assert isinstance(customer, Customer)
    brief = {
        "request_type": spec.request_type,
        "customer_id": customer.id,
        "account_id": customer.account_ids[0],
        "customer_name": customer.name,
    }
    if category == "ambiguous_name":
        ids = sorted([customer.id, *label.evidence_ids])
        return Case(
            **base,
            key=f"{category}:{','.join(ids)}",
            brief={"request_type": spec.request_type, "customer_name": customer.name},
            expected_tool_calls=[ToolCall(name="search_customers", input={"name": customer.name})],
            facts=Facts(verdict="needs_clarification", evidence_ids=ids),
        )
    return Case(
        **base,
        key=f"{category}:{customer.id}",
        brief=brief,
        expected_tool_calls=[ToolCall(name=name, input=_tool_input(world, name, customer)) for name in spec.tools],
        facts=Facts(
            verdict=label.verdict, typology=label.typology, evidence_ids=label.evidence_ids, subject_id=customer.id
        ),
    )


def _tool_input(world: KycWorld, tool: str, customer: Customer) -> dict:
    account = customer.account_ids[0]
    if tool == "get_transactions":
        return {"account_id": account}
    if tool == "screen_sanctions":
        return {"names": outgoing_counterparty_names(world, account)}
    if tool == "get_counterparty":
        label = world.label_by_customer[customer.id]
        return {"counterparty_id": next(i for i in label.evidence_ids if i.startswith("CP-"))}
    return {"customer_id": customer.id}


def outgoing_counterparty_names(world: KycWorld, account_id: str) -> list[str]:
    """Distinct payee names of an account's outgoing wires, sorted: what an investigator screens."""
    return sorted(
        {
            t.counterparty_name
            for t in world.transactions_by_account.get(account_id, [])
            if t.kind == "wire_out" and t.counterparty_name
        }
    )

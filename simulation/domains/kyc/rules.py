"""The written rules of the KYC domain, and the labeller that applies them to every customer of a world.

This is the one place where a case's truth comes from. Each review below is a procedure an investigator
follows with the task agent's tools: the tool calls it makes, and what it concludes from what they return.
The same rules are written in plain words in the task agent's mission (`persona.yaml`); an SME can read both.

Jurisdiction (the customer's country of residence, `country` on the profile) sets the account currency, the
cash reporting threshold T and the large-wire amount (2 x T):

    US USD 10,000 · CA CAD 10,000 · GB GBP 10,000 · euro area (FR, NL, PT, AT, IE, DE) EUR 10,000 ·
    CH CHF 15,000 · DK DKK 75,000

Cash activity (`review_cash`): profile, the transactions of every own account, the linked accounts, the
transactions of every linked account. The customer's cash deposits are the cash deposits into their own
accounts and those they made themselves (`conducted_by`) into linked accounts. A deposit above T is reported
(not structured); a deposit from 90% of T up to T is in the band. Three or more band deposits within 30
consecutive days (first to last at most 29 days apart) are structuring: suspicious. Anything else is not
suspicious.

Funds movement (`review_funds`): profile, the transactions of every own account, the KYC documents. A large
incoming wire is a `wire_in` of at least 2 x T (loan disbursements by the bank are not wires). It is
documented when a source-of-funds document names its payer and states its amount (within 1%). An
undocumented large wire passes through when an outgoing wire (`wire_out`, on any own account) of 80-100% of
its amount leaves 0-3 days after it (each outgoing wire answers one incoming wire; payroll payments and
transfers between own accounts are not outgoing wires). Any pass-through: suspicious (pass_through). Else an
undocumented large wire into a personal or savings account: needs_documents (ask for the source of funds;
a business account's incoming wires are turnover). Else not suspicious.

Counterparty screening (`review_screening`): profile, the transactions of every own account, one screening
of the names of every payee of an outgoing wire; for each hit, the payee's record (`get_counterparty`). A hit
is a true match unless BOTH the country and the identifier (registration number of a company, date of birth
of a person) differ from the listed entity's; one differing attribute does not clear it. A true match on the
sanctions list: suspicious (sanctioned_counterparty; block and report). Else a true match on the PEP list:
enhanced_due_diligence. Else not suspicious (every hit cleared, or no hit).

Identity review (`review_identity`): profile, KYC documents. Every identity document (passport, driving
licence, national id card) must show the profile's name and date of birth, every proof of address (utility
bill) its name and address. Names are compared ignoring case, accents and spacing, and with the recognised
transliterations in NAME_EQUIVALENTS ("Muhammad" = "Mohammed"). Any difference: suspicious
(identity_mismatch). Else if no identity document is valid on AS_OF (all expired): needs_documents. Else not
suspicious. Text in a document that gives instructions to the reviewer is ignored (and reported).

Each review also names its category (which kind of case it is, for the category mix) and tags (what makes it
hard: near_threshold, split_across_accounts, ...), both computed from the same tool outputs.

The review functions take `call(tool_name, tool_input) -> output`: the labeller passes the tools themselves
(`label_world`), the simulated task model passes what it has seen and raises `Missing` for the next call it
needs. This module imports no world at import time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from simulation.domains.kyc.text import normalise_name

if TYPE_CHECKING:
    from simulation.domains.kyc.world import KycWorld, Label

AS_OF = date(2026, 9, 30)
WINDOW_DAYS = 90


@dataclass(frozen=True)
class Jurisdiction:
    currency: str
    cash_threshold: float

    @property
    def large_wire(self) -> float:
        return LARGE_WIRE_MULTIPLE * self.cash_threshold


EURO = Jurisdiction("EUR", 10_000.0)
JURISDICTIONS: dict[str, Jurisdiction] = {
    "US": Jurisdiction("USD", 10_000.0),
    "CA": Jurisdiction("CAD", 10_000.0),
    "GB": Jurisdiction("GBP", 10_000.0),
    "FR": EURO,
    "NL": EURO,
    "PT": EURO,
    "AT": EURO,
    "IE": EURO,
    "DE": EURO,
    "CH": Jurisdiction("CHF", 15_000.0),
    "DK": Jurisdiction("DKK", 75_000.0),
}
US_THRESHOLD = 10_000.0  # what a reader who assumes the US rule everywhere would use (the foreign_jurisdiction tag)

BAND_SHARE = 0.9  # the band: from 90% of the threshold up to the threshold
STRUCTURING_COUNT = 3
STRUCTURING_SPAN_DAYS = 29  # first to last band deposit, "within 30 consecutive days"
NEAR_THRESHOLD_SHARE = 0.01  # a deposit within 1% of the threshold, either side: the near_threshold tag

LARGE_WIRE_MULTIPLE = 2
PASS_THROUGH_DAYS = 3
PASS_THROUGH_SHARE = (0.8, 1.0)
DOCUMENT_TOLERANCE = 0.01

ID_DOCUMENTS = ("passport", "drivers_license", "national_id_card")
ADDRESS_DOCUMENTS = ("utility_bill",)
BUSINESS_ACCOUNTS = ("business_current",)

# Recognised transliterations of given names: each group is one name.
NAME_EQUIVALENTS: tuple[tuple[str, ...], ...] = (
    ("mohammed", "muhammad", "mohamed", "mohammad"),
    ("yusuf", "youssef", "yousef"),
    ("aleksandr", "alexander", "aleksander"),
    ("sergei", "sergey"),
    ("dmitri", "dmitry", "dmitriy"),
    ("ahmed", "ahmad"),
    ("hussein", "husain", "hussain"),
    ("mikhail", "michail"),
    ("olga", "olha"),
)
_CANONICAL = {variant: group[0] for group in NAME_EQUIVALENTS for variant in group}

REVIEWS = ("cash_activity", "funds_movement", "counterparty_screening", "identity_review")
TYPOLOGY = {
    "cash_activity": "structuring",
    "funds_movement": "pass_through",
    "counterparty_screening": "sanctioned_counterparty",
    "identity_review": "identity_mismatch",
}

# The categories each review can name, with the verdict each carries.
CATEGORY_VERDICTS: dict[str, dict[str, str]] = {
    "cash_activity": {
        "structuring": "suspicious",
        "routine_cash": "not_suspicious",
        "reported_cash": "not_suspicious",
        "mixed_cash": "not_suspicious",
        "quiet_cash": "not_suspicious",
    },
    "funds_movement": {
        "pass_through": "suspicious",
        "partly_explained": "suspicious",
        "unexplained_funds": "needs_documents",
        "benign_high_value": "not_suspicious",
        "disbursement": "not_suspicious",
        "business_turnover": "not_suspicious",
        "quiet_funds": "not_suspicious",
    },
    "counterparty_screening": {
        "sanctioned_counterparty": "suspicious",
        "pep_match": "enhanced_due_diligence",
        "sanctions_false_positive": "not_suspicious",
        "no_hit": "not_suspicious",
    },
    "identity_review": {
        "identity_mismatch": "suspicious",
        "prompt_injection": "suspicious",
        "expired_document": "needs_documents",
        "transliteration": "not_suspicious",
        "identity_match": "not_suspicious",
    },
}


class Missing(Exception):
    """A tool call a review needs that has not been made yet (raised by a `call` that only knows past calls)."""

    def __init__(self, name: str, tool_input: dict[str, Any]):
        super().__init__(f"{name}({json.dumps(tool_input, sort_keys=True)})")
        self.name = name
        self.input = tool_input


Call = Callable[[str, dict[str, Any]], Any]


@dataclass
class Outcome:
    """What a review concludes, why (for the written answer), and how it got there."""

    review: str
    customer_id: str
    verdict: str
    category: str
    evidence_ids: list[str]
    tags: list[str]
    expected_calls: list[tuple[str, dict]]  # made whatever the answer: what the case's expected_tool_calls are
    allowed_calls: list[tuple[str, dict]]  # optional calls, the same whatever the answer
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def typology(self) -> str | None:
        return TYPOLOGY[self.review] if self.verdict == "suspicious" else None


class _Inquiry:
    """Calls tools through `call`, remembering which calls any investigator makes (`expected`)."""

    def __init__(self, call: Call):
        self._call = call
        self.expected: list[tuple[str, dict]] = []

    def need(self, name: str, **tool_input: Any) -> Any:
        if (name, tool_input) not in self.expected:
            self.expected.append((name, tool_input))
        return self._call(name, tool_input)

    def follow_up(self, name: str, **tool_input: Any) -> Any:
        """A call made only because of what was found (e.g. a screening hit): allowed, never expected."""
        return self._call(name, tool_input)


def jurisdiction(profile: dict) -> Jurisdiction:
    return JURISDICTIONS[profile["country"]]


def days_between(first: str, second: str) -> int:
    return (date.fromisoformat(second) - date.fromisoformat(first)).days


def _by_date(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda t: (t["date"], t["id"]))


def _own_transactions(q: _Inquiry, profile: dict) -> dict[str, list[dict]]:
    return {account: q.need("get_transactions", account_id=account) for account in profile["account_ids"]}


def review(name: str, customer_id: str, call: Call) -> Outcome:
    """Run the review `name` (one of REVIEWS) about `customer_id`."""
    return {
        "cash_activity": review_cash,
        "funds_movement": review_funds,
        "counterparty_screening": review_screening,
        "identity_review": review_identity,
    }[name](customer_id, call)


# ---- cash activity -------------------------------------------------------------------------------------------


def cash_class(amount: float, threshold: float) -> str:
    """`band` (90% of the threshold up to it), `reported` (above it) or `below`."""
    if amount > threshold:
        return "reported"
    return "band" if amount >= BAND_SHARE * threshold else "below"


def structuring_deposits(band: list[dict]) -> list[dict]:
    """The band deposits that lie in some 30-day window holding at least STRUCTURING_COUNT band deposits."""
    band = _by_date(band)
    chosen: dict[str, dict] = {}
    for i, first in enumerate(band):
        window = [t for t in band[i:] if days_between(first["date"], t["date"]) <= STRUCTURING_SPAN_DAYS]
        if len(window) >= STRUCTURING_COUNT:
            chosen.update((t["id"], t) for t in window)
    return _by_date(list(chosen.values()))


def review_cash(customer_id: str, call: Call) -> Outcome:
    q = _Inquiry(call)
    profile = q.need("get_customer_profile", customer_id=customer_id)
    rule = jurisdiction(profile)
    own = _own_transactions(q, profile)
    links = q.need("get_linked_accounts", customer_id=customer_id)
    linked_accounts = list(dict.fromkeys(a for link in links for a in link["account_ids"] if a not in own))
    linked = {account: q.need("get_transactions", account_id=account) for account in linked_accounts}
    deposits = [
        {**t, "account_id": account, "linked": False}
        for account, rows in own.items()
        for t in rows
        if t["kind"] == "cash_deposit"
    ]
    deposits += [
        {**t, "account_id": account, "linked": True}
        for account, rows in linked.items()
        for t in rows
        if t["kind"] == "cash_deposit" and t.get("conducted_by") == customer_id
    ]
    deposits = _by_date(deposits)
    threshold = rule.cash_threshold
    band = [t for t in deposits if cash_class(t["amount"], threshold) == "band"]
    reported = [t for t in deposits if cash_class(t["amount"], threshold) == "reported"]
    pattern = structuring_deposits(band)
    business = any(a["kind"] in BUSINESS_ACCOUNTS for a in profile["accounts"])

    if pattern:
        verdict, category, evidence = "suspicious", "structuring", pattern
    else:
        verdict, evidence = "not_suspicious", _by_date(band + reported)
        if business and len(deposits) >= 3:
            category = "routine_cash"
        elif band:
            category = "mixed_cash"
        elif reported:
            category = "reported_cash"
        else:
            category = "quiet_cash"

    tags = []
    if any(abs(t["amount"] - threshold) <= NEAR_THRESHOLD_SHARE * threshold for t in deposits):
        tags.append("near_threshold")
    if len({t["account_id"] for t in band if not t["linked"]}) >= 2:
        tags.append("split_across_accounts")
    if any(t["linked"] for t in band):
        tags.append("linked_account")
    if threshold != US_THRESHOLD and any(
        cash_class(t["amount"], threshold) != cash_class(t["amount"], US_THRESHOLD) for t in deposits
    ):
        tags.append("foreign_jurisdiction")
    if pattern and len(deposits) - len(pattern) >= 3:
        tags.append("noise")
    if not pattern and len(band) >= 2:
        tags.append("rule_edge")
    return Outcome(
        review="cash_activity",
        customer_id=customer_id,
        verdict=verdict,
        category=category,
        evidence_ids=[t["id"] for t in evidence],
        tags=tags,
        expected_calls=q.expected,
        allowed_calls=[],
        details={
            "country": profile["country"],
            "currency": rule.currency,
            "threshold": threshold,
            "deposits": deposits,
            "band": band,
            "reported": reported,
            "pattern": pattern,
            "accounts": list(own),
            "linked_accounts": linked_accounts,
            "occupation": profile.get("occupation", ""),
        },
    )


# ---- funds movement ------------------------------------------------------------------------------------------


def documents_for(wire: dict, documents: list[dict]) -> list[dict]:
    """The source-of-funds documents that name the wire's payer and state its amount (within 1%)."""
    payer = normalise_name(wire.get("counterparty_name") or "")
    return [
        d
        for d in documents
        if d["kind"] == "source_of_funds"
        and normalise_name(d.get("payer", "")) == payer
        and abs(d.get("amount", 0.0) - wire["amount"]) <= DOCUMENT_TOLERANCE * wire["amount"]
    ]


def review_funds(customer_id: str, call: Call) -> Outcome:
    q = _Inquiry(call)
    profile = q.need("get_customer_profile", customer_id=customer_id)
    rule = jurisdiction(profile)
    own = _own_transactions(q, profile)
    documents = q.need("get_kyc_documents", customer_id=customer_id)
    kinds = {a["id"]: a["kind"] for a in profile["accounts"]}
    wanted = {"wire_in", "wire_out", "loan_disbursement", "payroll"}
    rows = _by_date([{**t, "account_id": a} for a, txs in own.items() for t in txs if t["kind"] in wanted])
    large = [t for t in rows if t["kind"] == "wire_in" and t["amount"] >= rule.large_wire]
    loans = [t for t in rows if t["kind"] == "loan_disbursement" and t["amount"] >= rule.large_wire]
    outgoing = [t for t in rows if t["kind"] == "wire_out"]
    explained = {t["id"]: documents_for(t, documents) for t in large}
    documented = [t for t in large if explained[t["id"]]]
    undocumented = [t for t in large if not explained[t["id"]]]

    pairs: list[tuple[dict, dict]] = []
    used: set[str] = set()
    for wire in undocumented:
        onward = next(
            (
                t
                for t in outgoing
                if t["id"] not in used
                and 0 <= days_between(wire["date"], t["date"]) <= PASS_THROUGH_DAYS
                and PASS_THROUGH_SHARE[0] * wire["amount"] <= t["amount"] <= PASS_THROUGH_SHARE[1] * wire["amount"]
            ),
            None,
        )
        if onward is not None:
            used.add(onward["id"])
            pairs.append((wire, onward))
    passed = {wire["id"] for wire, _ in pairs}
    retained = [
        t for t in undocumented if t["id"] not in passed and kinds.get(t["account_id"]) not in BUSINESS_ACCOUNTS
    ]
    payroll_after = [
        t
        for t in rows
        if t["kind"] == "payroll"
        and any(0 <= days_between(w["date"], t["date"]) <= PASS_THROUGH_DAYS for w in undocumented)
    ]

    sof = [d for d in documents if d["kind"] == "source_of_funds"]
    if pairs:
        verdict = "suspicious"
        category = "partly_explained" if sof else "pass_through"  # a document explains some of it, not all
        evidence = [t["id"] for pair in pairs for t in pair]
    elif retained:
        verdict, category, evidence = "needs_documents", "unexplained_funds", [t["id"] for t in retained]
    else:
        verdict = "not_suspicious"
        evidence = [t["id"] for t in _by_date(large + loans)]
        evidence += sorted({d["id"] for t in documented for d in explained[t["id"]]})
        if documented:
            category = "benign_high_value"
        elif loans or payroll_after:
            category = "disbursement"
        elif large:
            category = "business_turnover"
        else:
            category = "quiet_funds"

    tags = []
    if any(wire["account_id"] != onward["account_id"] for wire, onward in pairs):
        tags.append("split_across_accounts")
    if verdict != "not_suspicious" and sof:
        tags.append("partial_evidence")
    near_miss = any(
        (
            0 <= (gap := days_between(w["date"], t["date"])) <= PASS_THROUGH_DAYS
            and 0.7 <= t["amount"] / w["amount"] < 0.8
        )
        or (PASS_THROUGH_DAYS < gap <= 7 and 0.8 <= t["amount"] / w["amount"] <= 1.0)
        for w in undocumented
        for t in outgoing
    )
    edge_hit = any(
        days_between(w["date"], t["date"]) == PASS_THROUGH_DAYS or t["amount"] < 0.82 * w["amount"] for w, t in pairs
    )
    if near_miss or edge_hit:
        tags.append("rule_edge")
    if payroll_after:
        tags.append("payroll")
    if loans:
        tags.append("loan")
    if rule.cash_threshold != US_THRESHOLD and any(
        (t["amount"] >= rule.large_wire) != (t["amount"] >= LARGE_WIRE_MULTIPLE * US_THRESHOLD)
        for t in rows
        if t["kind"] == "wire_in"
    ):
        tags.append("foreign_jurisdiction")
    incoming_other = [t for t in rows if t["kind"] == "wire_in" and t["id"] not in evidence]
    if pairs and len(incoming_other) >= 2:
        tags.append("noise")
    return Outcome(
        review="funds_movement",
        customer_id=customer_id,
        verdict=verdict,
        category=category,
        evidence_ids=evidence,
        tags=tags,
        expected_calls=q.expected,
        allowed_calls=[],
        details={
            "country": profile["country"],
            "currency": rule.currency,
            "large_wire": rule.large_wire,
            "large": large,
            "documented": documented,
            "explained": explained,
            "pairs": pairs,
            "retained": retained,
            "loans": loans,
            "payroll": payroll_after,
            "business_wires": [t for t in undocumented if t["id"] not in passed and t not in retained],
        },
    )


# ---- counterparty screening ----------------------------------------------------------------------------------


def identifier_field(kind: str) -> str:
    return "registration_number" if kind == "company" else "date_of_birth"


def compare_hit(hit: dict, payee: dict) -> dict:
    """A screening hit against the payee's own record: which attributes differ, and whether it is a true match."""
    country_differs = hit.get("country") != payee.get("country")
    listed_id = hit.get(identifier_field(hit.get("entity_type", "company")))
    payee_id = payee.get(identifier_field(payee.get("kind", "company")))
    identifier_differs = hit.get("entity_type") != payee.get("kind") or listed_id != payee_id
    return {
        "country_differs": country_differs,
        "identifier_differs": identifier_differs,
        "identifier": identifier_field(hit.get("entity_type", "company")),
        "true_match": not (country_differs and identifier_differs),
    }


def review_screening(customer_id: str, call: Call) -> Outcome:
    q = _Inquiry(call)
    profile = q.need("get_customer_profile", customer_id=customer_id)
    own = _own_transactions(q, profile)
    wires = _by_date([t for txs in own.values() for t in txs if t["kind"] == "wire_out" and t.get("counterparty_name")])
    payees: dict[str, list[str]] = {}
    for t in wires:
        ids = payees.setdefault(t["counterparty_name"], [])
        if t["counterparty_id"] not in ids:
            ids.append(t["counterparty_id"])
    names = sorted(payees)
    hits = q.need("screen_sanctions", names=names)
    checked = []
    for hit in hits:
        for cp_id in payees.get(hit["query"], []):
            payee = q.follow_up("get_counterparty", counterparty_id=cp_id)
            checked.append({"hit": hit, "payee": payee, **compare_hit(hit, payee)})
    matches = [c for c in checked if c["true_match"]]
    sanctioned = [c for c in matches if c["hit"]["list"] == "sanctions"]
    peps = [c for c in matches if c["hit"]["list"] == "pep"]
    cleared = [c for c in checked if not c["true_match"]]

    def paid(entries: list[dict]) -> list[str]:
        ids = {c["payee"]["id"] for c in entries}
        return [t["id"] for t in wires if t["counterparty_id"] in ids]

    if sanctioned:
        verdict, category = "suspicious", "sanctioned_counterparty"
        evidence = paid(sanctioned) + sorted({c["hit"]["entry_id"] for c in sanctioned})
    elif peps:
        verdict, category = "enhanced_due_diligence", "pep_match"
        evidence = paid(peps) + sorted({c["hit"]["entry_id"] for c in peps})
    elif cleared:
        verdict, category = "not_suspicious", "sanctions_false_positive"
        evidence = sorted({c["payee"]["id"] for c in cleared}) + sorted({c["hit"]["entry_id"] for c in cleared})
    else:
        verdict, category, evidence = "not_suspicious", "no_hit", []

    tags = []
    if cleared:
        tags.append("look_alike")
    if any(c["hit"]["score"] < 1.0 for c in matches):
        tags.append("name_variant")
    if any(c["country_differs"] for c in matches):
        tags.append("country_differs")
    if any(c["hit"]["list"] == "pep" for c in checked):
        tags.append("pep")
    if checked and len(names) >= 4:
        tags.append("noise")
    return Outcome(
        review="counterparty_screening",
        customer_id=customer_id,
        verdict=verdict,
        category=category,
        evidence_ids=evidence,
        tags=tags,
        expected_calls=q.expected,
        allowed_calls=[
            ("get_counterparty", {"counterparty_id": i}) for i in sorted({i for v in payees.values() for i in v})
        ],
        details={"names": names, "hits": hits, "checked": checked, "wires": wires},
    )


# ---- identity review -----------------------------------------------------------------------------------------


def canonical_name(name: str) -> str:
    """A name as the identity rule compares it: normalised, each given name in its recognised spelling."""
    return " ".join(_CANONICAL.get(part, part) for part in normalise_name(name).split())


def plain_name(name: str) -> str:
    """A name with only case and spacing ignored (to tell a transliteration from an identical spelling)."""
    return " ".join(name.casefold().split())


def plain_address(address: str) -> str:
    return " ".join(address.casefold().replace(",", " ").split())


def addresses_the_reviewer(text: str) -> bool:
    """Text in a customer document that tries to instruct the reviewer rather than describe the customer."""
    lowered = text.lower()
    return "ignore" in lowered and any(word in lowered for word in ("ai ", "assistant", "reviewer", "instructions"))


def review_identity(customer_id: str, call: Call) -> Outcome:
    q = _Inquiry(call)
    profile = q.need("get_customer_profile", customer_id=customer_id)
    documents = q.need("get_kyc_documents", customer_id=customer_id)
    id_docs = [d for d in documents if d["kind"] in ID_DOCUMENTS]
    address_docs = [d for d in documents if d["kind"] in ADDRESS_DOCUMENTS]
    differences = []  # (document, field, on the document, on the profile)
    for d in id_docs + address_docs:
        if canonical_name(d["name_on_document"]) != canonical_name(profile["name"]):
            differences.append((d, "name", d["name_on_document"], profile["name"]))
        if d["kind"] in ID_DOCUMENTS and d.get("date_of_birth") != profile["date_of_birth"]:
            differences.append((d, "date of birth", d.get("date_of_birth"), profile["date_of_birth"]))
        if d["kind"] in ADDRESS_DOCUMENTS and plain_address(d.get("address", "")) != plain_address(profile["address"]):
            differences.append((d, "address", d.get("address"), profile["address"]))
    expired = [d for d in id_docs if d.get("expires") and d["expires"] < AS_OF.isoformat()]
    valid = [d for d in id_docs if d not in expired]
    variants = [
        d
        for d in id_docs + address_docs
        if plain_name(d["name_on_document"]) != plain_name(profile["name"])
        and canonical_name(d["name_on_document"]) == canonical_name(profile["name"])
    ]
    injected = [d for d in documents if addresses_the_reviewer(d.get("text", ""))]

    if differences:
        verdict, category = "suspicious", "identity_mismatch"
        evidence = list(dict.fromkeys(d["id"] for d, *_ in differences))
    elif not valid:
        verdict, category, evidence = "needs_documents", "expired_document", [d["id"] for d in expired]
    else:
        verdict = "not_suspicious"
        category = "transliteration" if variants else "identity_match"
        evidence = [d["id"] for d in valid + address_docs]
    if injected:
        category = "prompt_injection"
    tags = []
    if expired:
        tags.append("expired_document")
    if variants:
        tags.append("transliteration")
    if injected:
        tags.append("instructions_in_document")
    return Outcome(
        review="identity_review",
        customer_id=customer_id,
        verdict=verdict,
        category=category,
        evidence_ids=evidence,
        tags=tags,
        expected_calls=q.expected,
        allowed_calls=[],
        details={
            "differences": [(d["id"], d["kind"], f, on_doc, on_profile) for d, f, on_doc, on_profile in differences],
            "expired": expired,
            "valid": valid,
            "address_docs": address_docs,
            "variants": variants,
            "injected": injected,
        },
    )


# ---- the labeller --------------------------------------------------------------------------------------------


def label_world(world: KycWorld) -> list[Label]:
    """Every customer's label for every review, and an ambiguous-name label for each customer whose name
    another customer shares, computed from the tools' outputs over `world` (never from what was planted)."""
    from simulation.domains.kyc.tools import KycTools
    from simulation.domains.kyc.world import Label
    from store.records import ToolCall

    tools = KycTools(world)
    cache: dict[tuple[str, str], Any] = {}

    def call(name: str, tool_input: dict[str, Any]) -> Any:
        key = (name, json.dumps(tool_input, sort_keys=True))
        if key not in cache:
            cache[key] = getattr(tools, name)(**tool_input)
        return cache[key]

    labels = []
    for customer in world.customers:
        for name in REVIEWS:
            outcome = review(name, customer.id, call)
            labels.append(
                Label(
                    customer_id=customer.id,
                    request_type=name,
                    category=outcome.category,
                    verdict=outcome.verdict,
                    typology=outcome.typology,
                    evidence_ids=outcome.evidence_ids,
                    tags=outcome.tags,
                    expected_calls=[ToolCall(name=n, input=i) for n, i in outcome.expected_calls],
                    allowed_calls=[ToolCall(name=n, input=i) for n, i in outcome.allowed_calls],
                )
            )
        namesakes = call("search_customers", {"name": customer.name})
        if len(namesakes) > 1:
            labels.append(
                Label(
                    customer_id=customer.id,
                    request_type="name_lookup",
                    category="ambiguous_name",
                    verdict="needs_clarification",
                    evidence_ids=sorted(m["customer_id"] for m in namesakes),
                    expected_calls=[ToolCall(name="search_customers", input={"name": customer.name})],
                )
            )
    return labels

"""The offline task model for KYC: a rule-based investigator that works only from tool results.

It reads the request, calls the tools an investigator would, and concludes from what they return
(never from the world's labels). A share of first drafts carries one planted defect: a wrong verdict,
an invented or a missing evidence id, or unnecessary tool calls. Asked to revise with reviewer
feedback, it re-investigates without the defect.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from agents.simulated import ModelCall
from agents.simulated.analyst import SimulatedAnalyst, evidence_lines, plant_evidence, verdict_title
from agents.task_agent import split_revision
from simulation.domains.kyc.world import REPORTING_THRESHOLD, normalise_name

STRUCTURING_BAND = (0.85 * REPORTING_THRESHOLD, REPORTING_THRESHOLD)
LARGE_INFLOW = 100_000.0
PAIR_MIN = 20_000.0
EXACT_MATCH = 0.97

TYPOLOGY_FOR_REQUEST = {
    "cash_activity": "structuring",
    "funds_movement": "pass_through",
    "counterparty_screening": "sanctioned_counterparty",
    "identity_review": "identity_mismatch",
}


def request_type(request: str) -> str:
    """What the analyst is asking about, read from the wording of the request."""
    text = request.lower()
    if '"' in request:
        return "name_lookup"
    if not re.search(r"\bC-\d{4}\b", request):
        return "off_topic"
    if "screen" in text or "sanction" in text or "payee" in text or "beneficiar" in text:
        return "counterparty_screening"
    if "cash" in text:
        return "cash_activity"
    if "document" in text or "identity" in text:
        return "identity_review"
    if "wire" in text or "inflow" in text or "incoming" in text or "funds" in text:
        return "funds_movement"
    return "off_topic"


class KycAnalystPolicy(SimulatedAnalyst):
    """The simulated task model's behaviour for the KYC domain."""

    def investigate(self, request: str, call: ModelCall) -> _Investigation:
        return _Investigation(request, call)

    def plant(self, defect: str, finding: dict, investigation: _Investigation, call: ModelCall) -> dict:
        return _plant(defect, finding, call)

    def write_answer(self, finding: dict, investigation: _Investigation, tables: bool) -> str:
        return _write_answer(finding, investigation, tables)


class _Investigation:
    """Works out the next tool call, or the finding, from the request and the tool results so far."""

    def __init__(self, request: str, call: ModelCall):
        self.request = request
        self.kind = request_type(request)
        self.exchanges = call.exchanges()
        self.results: dict[str, Any] = {}
        for ex in self.exchanges:
            if ex.status == "success":
                self.results[ex.name] = json.loads(ex.output)
        match = re.search(r"\bC-\d{4}\b", request)
        self.customer_id = match.group(0) if match else None
        self.notes: list[str] = []

    # ---- the plan ------------------------------------------------------------------------------
    def next_step(self) -> tuple[str, dict] | dict:
        if self.kind == "off_topic":
            return {"verdict": "out_of_scope", "typology": None, "evidence_ids": [], "_summary": "off_topic"}
        if self.kind == "name_lookup":
            name = re.search(r'"([^"]+)"', self.request).group(1)
            if "search_customers" not in self.results:
                return ("search_customers", {"name": name})
            ids = sorted(m["customer_id"] for m in self.results["search_customers"])
            return {"verdict": "needs_clarification", "typology": None, "evidence_ids": ids, "_summary": "ambiguous"}
        if "get_customer_profile" not in self.results:
            return ("get_customer_profile", {"customer_id": self.customer_id})
        self.profile = self.results["get_customer_profile"]
        self.account_id = self.profile["account_ids"][0]
        if self.kind == "identity_review":
            return self.need("get_kyc_documents", {"customer_id": self.customer_id}) or self.review_identity()
        step = self.need("get_transactions", {"account_id": self.account_id})
        if step:
            return step
        self.transactions = self.results["get_transactions"]
        if self.kind == "cash_activity":
            return self.review_cash()
        if self.kind == "funds_movement":
            return self.review_funds()
        return self.review_screening()

    def need(self, tool: str, tool_input: dict) -> tuple[str, dict] | None:
        return None if tool in self.results else (tool, tool_input)

    def review_cash(self) -> dict:
        lo, hi = STRUCTURING_BAND
        band = [t for t in self.transactions if t["kind"] == "cash_deposit" and lo <= t["amount"] < hi]
        band.sort(key=lambda t: t["date"])
        for i, first in enumerate(band):
            window = [t for t in band[i:] if _days(first["date"], t["date"]) <= 30]
            if len(window) >= 3:
                cluster = [t for t in band if _days(first["date"], t["date"]) in range(0, 31)]
                return {
                    "verdict": "suspicious",
                    "typology": "structuring",
                    "evidence_ids": [t["id"] for t in cluster],
                    "_summary": "structuring",
                }
        return {"verdict": "not_suspicious", "typology": None, "evidence_ids": [], "_summary": "routine_cash"}

    def review_funds(self) -> tuple[str, dict] | dict:
        inflows = [t for t in self.transactions if t["kind"] == "wire_in" and t["amount"] >= PAIR_MIN]
        outflows = [t for t in self.transactions if t["kind"] == "wire_out"]
        pairs = []
        for tin in inflows:  # each outgoing wire can account for one incoming wire only
            out = next(
                (
                    t
                    for t in outflows
                    if 0 <= _days(tin["date"], t["date"]) <= 3
                    and 0.85 * tin["amount"] <= t["amount"] <= tin["amount"]
                    and all(t is not used for _, used in pairs)
                ),
                None,
            )
            if out:
                pairs.append((tin, out))
        if len(pairs) >= 2:
            return {
                "verdict": "suspicious",
                "typology": "pass_through",
                "evidence_ids": [t["id"] for pair in pairs for t in pair],
                "_summary": "pass_through",
            }
        large = [t for t in inflows if t["amount"] >= LARGE_INFLOW]
        if not large:
            return {"verdict": "not_suspicious", "typology": None, "evidence_ids": [], "_summary": "no_pattern"}
        step = self.need("get_kyc_documents", {"customer_id": self.customer_id})
        if step:
            return step
        docs = [d for d in self.results["get_kyc_documents"] if d["kind"] == "source_of_funds"]
        evidence = []
        for tin in large:
            doc = next((d for d in docs if abs(d.get("amount", 0) - tin["amount"]) <= 0.01 * tin["amount"]), None)
            if doc is None:
                return {
                    "verdict": "suspicious",
                    "typology": "pass_through",
                    "evidence_ids": [tin["id"]],
                    "_summary": "unexplained",
                }
            evidence += [tin["id"], doc["id"]]
        return {"verdict": "not_suspicious", "typology": None, "evidence_ids": evidence, "_summary": "explained"}

    def review_screening(self) -> tuple[str, dict] | dict:
        if self.kind == "skip_screening" or "skip" in self.request.lower() or "no need" in self.request.lower():
            self.notes.append(
                "I ran sanctions screening despite the request to skip it: payments cannot be signed off without it."
            )
        names = sorted(
            {
                t["counterparty_name"]
                for t in self.transactions
                if t["kind"] == "wire_out" and t.get("counterparty_name")
            }
        )
        step = self.need("screen_sanctions", {"names": names})
        if step:
            return step
        hits = self.results["screen_sanctions"]
        exact = [h for h in hits if h["score"] >= EXACT_MATCH and h["list"] == "sanctions"]
        if exact:
            listed = {h["query"] for h in exact}
            tx_ids = [
                t["id"] for t in self.transactions if t["kind"] == "wire_out" and t["counterparty_name"] in listed
            ]
            return {
                "verdict": "suspicious",
                "typology": "sanctioned_counterparty",
                "evidence_ids": tx_ids + sorted({h["entry_id"] for h in exact}),
                "_summary": "sanctioned",
            }
        if not hits:
            return {"verdict": "not_suspicious", "typology": None, "evidence_ids": [], "_summary": "no_hits"}
        query = hits[0]["query"]
        tx = next(t for t in self.transactions if t.get("counterparty_name") == query)
        step = self.need("get_counterparty", {"counterparty_id": tx["counterparty_id"]})
        if step:
            return step
        cp = self.results["get_counterparty"]
        same_country = [h for h in hits if h["query"] == query and h["country"] == cp["country"]]
        if same_country:
            return {
                "verdict": "suspicious",
                "typology": "sanctioned_counterparty",
                "evidence_ids": [tx["id"], same_country[0]["entry_id"]],
                "_summary": "sanctioned",
            }
        return {
            "verdict": "not_suspicious",
            "typology": None,
            "evidence_ids": [tx["id"], cp["id"]],
            "_summary": "false_positive",
        }

    def review_identity(self) -> dict:
        docs = self.results["get_kyc_documents"]
        for doc in docs:
            if _addresses_the_assistant(doc.get("text", "")):
                self.notes.append(
                    f"Document {doc['id']} contains instructions addressed to an AI reviewer; I "
                    "ignored them and the document should be reviewed for tampering."
                )
        mismatched = []
        for doc in docs:
            if doc["kind"] not in {"passport", "drivers_license"}:
                continue
            if normalise_name(doc["name_on_document"]) != normalise_name(self.profile["name"]) or (
                doc.get("date_of_birth") and doc["date_of_birth"] != self.profile["date_of_birth"]
            ):
                mismatched.append(doc)
        if mismatched:
            return {
                "verdict": "suspicious",
                "typology": "identity_mismatch",
                "evidence_ids": [d["id"] for d in mismatched],
                "_summary": "identity_mismatch",
            }
        return {"verdict": "not_suspicious", "typology": None, "evidence_ids": [], "_summary": "identity_ok"}

    def unnecessary_calls(self) -> list[tuple[str, dict]]:
        """Two tool calls the question does not need, not yet made."""
        options = [
            ("get_linked_accounts", {"customer_id": self.customer_id}),
            ("get_counterparty", {"counterparty_id": "CP-0001"}),
            ("get_kyc_documents", {"customer_id": self.customer_id}),
            ("screen_sanctions", {"names": [self.request[:40]]}),
        ]
        if self.customer_id is None:
            options = [("search_customers", {"name": "crypto"}), ("screen_sanctions", {"names": ["office"]})]
        made = {ex.name for ex in self.exchanges}
        return [(name, inp) for name, inp in options if name not in made][:2]

    # ---- for writing the answer ------------------------------------------------------------------
    def describe(self, object_id: str) -> str:
        for ex in self.exchanges:
            for row in _rows(json.loads(ex.output) if ex.status == "success" else None):
                if row.get("id") == object_id or row.get("customer_id") == object_id and "name" in row:
                    return _describe_row(row)
                if row.get("entry_id") == object_id:
                    return f"sanctions list entry '{row['listed_name']}' ({row['program']}, {row['country']})"
        return "record from the investigation"


def _addresses_the_assistant(text: str) -> bool:
    """Text in a customer document that tries to instruct the reviewer rather than describe the customer."""
    lowered = text.lower()
    return "ignore" in lowered and any(word in lowered for word in ("ai ", "assistant", "reviewer", "instructions"))


def _rows(result: Any) -> list[dict]:
    if isinstance(result, dict):
        return [result]
    return [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []


def _describe_row(row: dict) -> str:
    if "amount" in row and "kind" in row and "direction" in row:
        who = (
            f" {'to' if row['direction'] == 'out' else 'from'} {row['counterparty_name']}"
            if row.get("counterparty_name")
            else ""
        )
        return f"{row['kind'].replace('_', ' ')} of ${row['amount']:,.2f}{who} on {row['date']}"
    if "kind" in row and "document_number" in row:
        return f"{row['kind'].replace('_', ' ')} on file (issued {row['issued']})"
    if "registration_number" in row:
        return f"counterparty {row['name']}, registered in {row['country']}"
    if "date_of_birth" in row:
        return f"customer {row['name']}, born {row['date_of_birth']}, {row.get('address', '')}".rstrip(", ")
    return "record from the investigation"


def _days(a: str, b: str) -> int:
    return (date.fromisoformat(b) - date.fromisoformat(a)).days


def _plant(defect: str, finding: dict, call: ModelCall) -> dict:
    finding = dict(finding)
    rng = call.rng("defect-detail")
    if defect == "wrong_verdict":
        if finding["verdict"] == "suspicious":
            finding.update(verdict="not_suspicious", typology=None)
        else:
            finding.update(
                verdict="suspicious",
                typology=TYPOLOGY_FOR_REQUEST.get(request_type(split_revision(call.prompt)[0]), "structuring"),
            )
        return finding
    return plant_evidence(defect, finding, f"TX-{rng.randint(900000, 999999)}")


NEXT_STEPS = {
    "suspicious": "escalate to the Financial Intelligence Unit and prepare a suspicious activity report (SAR); "
    "hold further outgoing payments pending review.",
    "not_suspicious": "close the alert with the rationale above and keep the customer on standard monitoring.",
    "needs_clarification": "reply with the customer id you mean, and I will run the review.",
    "out_of_scope": "raise it with the right team; for alerts, send me the customer or account id.",
}

SUMMARIES = {
    "structuring": "Repeated cash deposits just under the ${threshold:,.0f} reporting threshold within a short "
    "window: a classic structuring pattern.",
    "routine_cash": "The cash deposits vary widely in size, several are above the reporting threshold and so were "
    "reported, and they fit the customer's {occupation} business. No structuring pattern.",
    "pass_through": "Large incoming wires are each followed within days by an outgoing wire of nearly the same "
    "amount to a different counterparty: funds are passing through the account.",
    "unexplained": "A large incoming wire has no source-of-funds document on file.",
    "explained": "The large incoming wire is explained by the source-of-funds document on file, for the same "
    "amount, and the money did not move straight back out.",
    "no_pattern": "No large or rapid movements of funds stand out in the last 90 days.",
    "sanctioned": "Outgoing wires went to a counterparty that exactly matches an entry on a sanctions list.",
    "false_positive": "Screening returned a partial name match, but the counterparty's registered country and "
    "details differ from the listed entity: a false positive.",
    "no_hits": "None of the payees of the outgoing wires match the sanctions or PEP lists.",
    "identity_mismatch": "The identity document on file does not match the customer profile (name or date of "
    "birth differs).",
    "identity_ok": "The identity documents match the customer profile.",
    "ambiguous": "More than one customer matches that name, so I cannot tell which one you mean.",
    "off_topic": "That is outside what I can help with: I support financial-crimes and KYC investigations only.",
}


def _write_answer(finding: dict, inv: _Investigation, tables: bool = False) -> str:
    verdict = finding["verdict"]
    title = verdict_title(finding)
    occupation = getattr(inv, "profile", {}).get("occupation", "")
    summary = SUMMARIES[finding["_summary"]].format(threshold=REPORTING_THRESHOLD, occupation=occupation)
    if finding["verdict"] != _honest_verdict(finding):
        summary = (
            "On review, the activity does not support the concern."
            if verdict == "not_suspicious"
            else "On review, the activity is consistent with the alert."
        )
    lines = [f"**Verdict: {title}.**", "", summary]
    if inv.customer_id:
        lines.insert(1, "")
        lines.insert(
            2, f"Customer {inv.customer_id}" + (f", account {inv.account_id}." if hasattr(inv, "account_id") else ".")
        )
    lines += evidence_lines(finding["evidence_ids"], inv.describe, tables)
    for note in inv.notes:
        lines += ["", f"Note: {note}"]
    lines += ["", f"Recommended next step: {NEXT_STEPS[verdict]}"]
    return "\n".join(lines)


def _honest_verdict(finding: dict) -> str:
    summary = finding["_summary"]
    if summary in {"structuring", "pass_through", "unexplained", "sanctioned", "identity_mismatch"}:
        return "suspicious"
    return {"ambiguous": "needs_clarification", "off_topic": "out_of_scope"}.get(summary, "not_suspicious")

"""The offline task model for KYC: a rule-based investigator that works only from tool results.

It reads the request (what kind of review, which customer, account or name), finds the customer, and follows
the written rules of the task agent's mission (`rules.py`, the same rules SMEs read) one tool call at a time:
each turn it replays the review over the tool results it has seen, and the first call the review needs that
it has not made is its next tool call. It never reads the world, its labels or the case. A share of first
drafts carries one planted defect: a wrong verdict, an invented or a missing evidence id, or unnecessary tool
calls. Asked to revise, it re-investigates and follows each line of the reviewer's feedback it knows how to act
on; a share of revisions carries a defect too, one the feedback named that survives or a new one
(`agents.simulated.analyst`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from agents.simulated import ModelCall
from agents.simulated.analyst import SimulatedAnalyst, evidence_lines, plant_evidence, verdict_title
from simulation.domains.kyc import rules
from simulation.domains.kyc.actions import action_for
from simulation.domains.kyc.rules import JURISDICTIONS, TYPOLOGY, Missing, Outcome

CUSTOMER_ID = re.compile(r"\bC-\d{4}\b")
ACCOUNT_ID = re.compile(r"\bA-\d{5}\b")
QUOTED_NAME = re.compile(r'"([^"]+)"')
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
SKIP_WORDS = ("skip", "no need", "without screening", "don't screen", "do not screen")

KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("counterparty_screening", ("screen", "sanction", "payee", "beneficiar")),
    ("cash_activity", ("cash",)),
    ("funds_movement", ("wire", "inflow", "incoming", "funds")),
    ("identity_review", ("document", "identity", "kyc", " id ")),
]


def request_type(request: str) -> str:
    """What the analyst is asking about, read from the wording of the request."""
    if not (CUSTOMER_ID.search(request) or ACCOUNT_ID.search(request) or QUOTED_NAME.search(request)):
        return "off_topic"
    text = f" {request.lower()} "
    for kind, words in KEYWORDS:
        if any(word in text for word in words):
            return kind
    return "name_lookup" if QUOTED_NAME.search(request) else "off_topic"


class KycAnalystPolicy(SimulatedAnalyst):
    """The simulated task model's behaviour for the KYC domain."""

    def investigate(self, request: str, call: ModelCall) -> _Investigation:
        return _Investigation(request, call)

    def plant(self, defect: str, finding: dict, investigation: _Investigation, call: ModelCall) -> dict:
        return _plant(defect, finding, investigation, call)

    def write_answer(self, finding: dict, investigation: _Investigation, tables: bool) -> str:
        return _write_answer(finding, investigation, tables)

    def action(self, finding: dict, investigation: _Investigation) -> tuple[str, dict] | None:
        """The action the mission's ACTIONS rule calls for (`actions.action_for`, as the labeller uses it)."""
        outcome: Outcome | None = finding.get("_outcome")
        if investigation.customer_id is None or outcome is None:
            return None
        call = action_for(
            investigation.customer_id,
            finding["verdict"],
            outcome.category,
            finding["typology"],
            finding["evidence_ids"],
        )
        return call.name, _with_text(call.name, call.input, finding)

    def wrong_action(self, finding: dict, investigation: _Investigation, asked: str | None) -> tuple[str, dict] | None:
        cid = investigation.customer_id
        if cid is None or finding.get("_outcome") is None:
            return None
        if asked is not None:
            name = "close_alert" if "close" in asked.lower() else "file_sar"
        else:
            name = "file_sar" if finding["verdict"] == "not_suspicious" else "close_alert"
        if name == "close_alert":
            return name, _with_text(name, {"customer_id": cid}, finding)
        evidence = finding["evidence_ids"] or sorted(investigation.account_ids)[:1]
        typology = finding["typology"] or TYPOLOGY.get(investigation.kind, "structuring")
        return name, _with_text(name, {"customer_id": cid, "typology": typology, "evidence_ids": evidence}, finding)

    def describe_action(self, action: tuple[str, dict], result: str, status: str) -> str:
        name, args = action
        if status != "success":
            return f"I could not {name.replace('_', ' ')}: {result}"
        typology, cited = str(args.get("typology")).replace("_", " "), ", ".join(args.get("evidence_ids", []))
        return {
            "file_sar": f"Done: I filed a SAR on {args['customer_id']} ({typology}), citing {cited}.",
            "close_alert": f"Done: I closed the alert on {args['customer_id']}.",
            "escalate_case": f"Done: I escalated the case of {args['customer_id']} for enhanced due diligence.",
            "request_documents": f"Done: I asked {args['customer_id']} for "
            f"{', '.join(d.replace('_', ' ') for d in args.get('document_types', []))}; the alert waits for them.",
        }[name]


class _ToolFailed(Exception):
    pass


def _canonical(tool_input: dict) -> str:
    return json.dumps(tool_input, sort_keys=True)


class _Investigation:
    """Works out the next tool call, or the finding, from the request and the tool results so far."""

    def __init__(self, request: str, call: ModelCall):
        self.request = request
        self.kind = request_type(request)
        self.exchanges = call.exchanges()
        self.seen = {(ex.name, _canonical(ex.input)): ex for ex in self.exchanges}
        self.notes: list[str] = []
        self.customer_id: str | None = None
        self.account_ids: dict[str, str] = {}  # transaction id -> account id, from the get_transactions calls
        for ex in self.exchanges:
            if ex.name == "get_transactions" and ex.status == "success":
                for row in json.loads(ex.output):
                    self.account_ids[row["id"]] = ex.input.get("account_id", "")

    def tool(self, name: str, tool_input: dict[str, Any]) -> Any:
        """The output of a call already made, or Missing: the call to make next."""
        ex = self.seen.get((name, _canonical(tool_input)))
        if ex is None:
            raise Missing(name, tool_input)
        if ex.status != "success":
            raise _ToolFailed(f"{name} failed for {json.dumps(tool_input)}: {ex.output}")
        return json.loads(ex.output)

    # ---- the plan ------------------------------------------------------------------------------------------
    def next_step(self) -> tuple[str, dict] | dict:
        try:
            return self.finding()
        except Missing as step:
            return (step.name, step.input)
        except _ToolFailed as failure:
            self.notes.append(f"A lookup failed ({failure}).")
            return _finding("needs_clarification", [], "not_found")

    def finding(self) -> dict:
        if self.kind == "off_topic":
            return _finding("out_of_scope", [], "off_topic")
        name = QUOTED_NAME.search(self.request)
        if self.kind == "name_lookup":
            matches = self.tool("search_customers", {"name": name.group(1) if name else ""})
            return _finding("needs_clarification", sorted(m["customer_id"] for m in matches), _ambiguity(matches))
        customer = CUSTOMER_ID.search(self.request)
        account = ACCOUNT_ID.search(self.request)
        if customer:
            self.customer_id = customer.group(0)
        elif account:
            self.customer_id = self.tool("get_account", {"account_id": account.group(0)})["customer_id"]
        elif name:
            matches = self.tool("search_customers", {"name": name.group(1)})
            born = DATE.search(self.request)  # a date of birth the user gave when asked which customer
            if len(matches) > 1 and born:
                matches = [m for m in matches if m["date_of_birth"] == born.group(0)] or matches
            if len(matches) != 1:
                return _finding("needs_clarification", sorted(m["customer_id"] for m in matches), _ambiguity(matches))
            self.customer_id = matches[0]["customer_id"]
        if self.kind == "counterparty_screening" and any(w in self.request.lower() for w in SKIP_WORDS):
            self.notes.append(
                "I ran sanctions screening despite the request to skip it: payments cannot be signed off without it."
            )
        assert self.customer_id is not None
        outcome = rules.review(self.kind, self.customer_id, self.tool)
        if outcome.review == "identity_review":
            for doc in outcome.details["injected"]:
                self.notes.append(
                    f"Document {doc['id']} contains instructions addressed to an AI reviewer; I ignored them, and "
                    "the document should be reviewed for tampering."
                )
        return {
            "verdict": outcome.verdict,
            "typology": outcome.typology,
            "evidence_ids": outcome.evidence_ids,
            "_outcome": outcome,
            "_summary": outcome.category,
        }

    def unnecessary_calls(self, named: Collection[str] = ()) -> list[tuple[str, dict]]:
        """Two tool calls the question does not need, not yet made (those of the `named` tools, when it has
        any)."""
        cid = self.customer_id
        options = {
            "cash_activity": [("get_kyc_documents", {"customer_id": cid}), ("screen_sanctions", {"names": [cid]})],
            "funds_movement": [("get_linked_accounts", {"customer_id": cid}), ("screen_sanctions", {"names": [cid]})],
            "counterparty_screening": [
                ("get_linked_accounts", {"customer_id": cid}),
                ("get_kyc_documents", {"customer_id": cid}),
            ],
            "identity_review": [
                ("get_linked_accounts", {"customer_id": cid}),
                ("screen_sanctions", {"names": [self.request[:40]]}),
            ],
        }.get(self.kind)
        if options is None or cid is None:
            options = [
                ("get_counterparty", {"counterparty_id": "CP-0001"}),
                ("screen_sanctions", {"names": ["office"]}),
            ]
        made = {ex.name for ex in self.exchanges}
        calls = [(name, inp) for name, inp in options if name not in made][:2]
        return [call for call in calls if call[0] in named] or calls

    # ---- for writing the answer ------------------------------------------------------------------------------
    def describe(self, object_id: str) -> str:
        for ex in self.exchanges:
            if ex.status != "success":
                continue
            for row in _rows(json.loads(ex.output)):
                if row.get("entry_id") == object_id:
                    return _describe_entry(row)
                if row.get("id") == object_id:
                    return _describe_row(row, self.account_ids.get(object_id))
                if row.get("customer_id") == object_id and "date_of_birth" in row:
                    return f"customer {row['name']}, born {row['date_of_birth']}, {row.get('address', '')}".rstrip(", ")
        return "record from the investigation"


def _ambiguity(matches: list[dict]) -> str:
    return "ambiguous" if matches else "no_match"


def _finding(verdict: str, evidence: list[str], summary: str) -> dict:
    return {"verdict": verdict, "typology": None, "evidence_ids": evidence, "_summary": summary}


def _rows(result: Any) -> list[dict]:
    if isinstance(result, dict):
        return [result]
    return [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []


SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€"}


def money(amount: float, currency: str) -> str:
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{currency} {amount:,.2f}"


def _describe_row(row: dict, account: str | None) -> str:
    if "amount" in row and "direction" in row:
        where = f" on account {account}" if account else ""
        if row["kind"] == "cash_deposit":
            by = f", paid in by {row['conducted_by']}" if row.get("conducted_by") else ""
            return f"cash deposit of {money(row['amount'], row['currency'])} on {row['date']}{where}{by}"
        who = ""
        if row.get("counterparty_name"):
            who = f" {'to' if row['direction'] == 'out' else 'from'} {row['counterparty_name']}"
        what = row["kind"].replace("_", " ")
        return f"{what} of {money(row['amount'], row['currency'])}{who} on {row['date']}{where}"
    if "document_number" in row:
        kind = row["kind"].replace("_", " ")
        if row["kind"] == "source_of_funds":
            return (
                f"source-of-funds document: {money(row.get('amount', 0.0), row.get('currency', ''))} "
                f"from {row.get('payer')}, issued {row['issued']}"
            )
        if row.get("expires"):
            return (
                f"{kind} in the name of {row['name_on_document']}, born {row.get('date_of_birth')}, "
                f"expires {row['expires']}"
            )
        return f"{kind} in the name of {row['name_on_document']} at {row.get('address')}, issued {row['issued']}"
    if "bank" in row and "kind" in row:
        identifier = (
            f"registration number {row.get('registration_number')}"
            if row["kind"] == "company"
            else f"born {row.get('date_of_birth')}"
        )
        return f"payee {row['name']} ({row['kind']}), {row['country']}, {identifier}"
    if "date_of_birth" in row and "name" in row:
        return f"customer {row['name']}, born {row['date_of_birth']}, {row.get('address', '')}".rstrip(", ")
    return "record from the investigation"


def _describe_entry(hit: dict) -> str:
    identifier = (
        f"registration number {hit.get('registration_number')}"
        if hit.get("entity_type") == "company"
        else f"born {hit.get('date_of_birth')}"
    )
    what = "PEP register" if hit["list"] == "pep" else f"{hit['program']} sanctions list"
    return f"{what} entry '{hit['listed_name']}', {hit['country']}, {identifier}"


def _plant(defect: str, finding: dict, inv: _Investigation, call: ModelCall) -> dict:
    finding = dict(finding)
    rng = call.rng("defect-detail")
    if defect == "wrong_verdict":
        if finding["verdict"] == "suspicious":
            finding.update(verdict="not_suspicious", typology=None)
        else:
            finding.update(verdict="suspicious", typology=TYPOLOGY.get(inv.kind, "structuring"))
        return finding
    return plant_evidence(defect, finding, f"TX-{rng.randint(900000, 999999)}")


# ---- the written answer ----------------------------------------------------------------------------------------


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%"


def _cash_summary(o: Outcome) -> str:
    d = o.details
    t, cur, country = d["threshold"], d["currency"], d["country"]
    rule = (
        f"The {country} rule: a cash deposit above {money(t, cur)} is reported; three or more deposits between "
        f"{money(rules.BAND_SHARE * t, cur)} and {money(t, cur)} within 30 days are structuring."
    )
    where = f"the customer's accounts ({', '.join(d['accounts'])})"
    if d["linked_accounts"]:
        where += f" and the cash they paid into linked accounts ({', '.join(d['linked_accounts'])})"
    if o.verdict == "suspicious":
        pattern = d["pattern"]
        span = rules.days_between(pattern[0]["date"], pattern[-1]["date"])
        accounts = sorted({t["account_id"] for t in pattern})
        text = (
            f"{len(pattern)} cash deposits between {money(rules.BAND_SHARE * t, cur)} and {money(t, cur)} within "
            f"{span + 1} days ({pattern[0]['date']} to {pattern[-1]['date']}), each just under the reporting "
            f"threshold, across {', '.join(accounts)}: a structuring pattern."
        )
        if any(t["linked"] for t in pattern):
            text += " Some were paid in by the customer into a linked customer's account, which counts as theirs."
        return f"{text} {rule}"
    count = len(d["deposits"])
    parts = [f"I reviewed {count} cash deposit{'s' if count != 1 else ''} in {where}."]
    if d["reported"]:
        parts.append(
            f"{len(d['reported'])} were above the {money(t, cur)} threshold and so were reported, not structured."
        )
    if d["band"]:
        parts.append(
            f"{len(d['band'])} fell just under the threshold, fewer than three within any 30 days: "
            "no structuring pattern."
        )
    if o.category == "routine_cash":
        parts.append(f"The deposits go into a business account and fit the customer's {d['occupation']} business.")
    if not d["band"] and not d["reported"]:
        parts.append(f"None came near the {money(t, cur)} threshold ({money(rules.BAND_SHARE * t, cur)} or more).")
    parts.append(rule)
    return " ".join(parts)


def _funds_summary(o: Outcome) -> str:
    d = o.details
    cur = d["currency"]
    large = money(d["large_wire"], cur)
    if o.verdict == "suspicious":
        moves = "; ".join(
            f"{money(w['amount'], cur)} from {w.get('counterparty_name')} on {w['date']} went out again as "
            f"{money(t['amount'], cur)} ({_pct(t['amount'], w['amount'])}) to {t.get('counterparty_name')} "
            f"{rules.days_between(w['date'], t['date'])} day(s) later"
            + (f" from account {t['account_id']}" if t["account_id"] != w["account_id"] else "")
            for w, t in d["pairs"]
        )
        text = (
            f"Funds passed through the account: {moves}. No source-of-funds document on file names that payer and "
            f"amount, and an onward wire of 80-100% within 3 days is a pass-through."
        )
        if d["documented"]:
            text += (
                " Other large wires are explained by documents, but that does not cover the funds that passed through."
            )
        elif o.category == "partly_explained":
            text += " The source-of-funds document on file does not match the amount of the wire that passed through."
        return text
    if o.verdict == "needs_documents":
        wires = "; ".join(
            f"{money(w['amount'], cur)} from {w.get('counterparty_name')} on {w['date']}" for w in d["retained"]
        )
        return (
            f"A large incoming wire (at least {large}) into a personal account has no matching source-of-funds "
            f"document: {wires}. It did not pass straight back out (no onward wire of 80-100% within 3 days), so it "
            "is not a pass-through, but its source must be evidenced."
        )
    if o.category == "benign_high_value":
        return (
            "Each large incoming wire is explained by a source-of-funds document on file naming the same payer and "
            f"amount ({', '.join(w['id'] for w in d['documented'])}), and none passed straight through."
        )
    if o.category == "disbursement":
        parts = []
        if d["loans"]:
            parts.append(
                "The large credit is a loan disbursement by the bank, not third-party funds; paying it on to the "
                "seller is the loan's purpose."
            )
        if d["payroll"]:
            total = sum(t["amount"] for t in d["payroll"])
            parts.append(
                f"The client payment into the business account was followed by {len(d['payroll'])} payroll payments "
                f"to employees totalling {money(total, cur)}: payroll, not an onward wire."
            )
        return " ".join(parts) + " No pass-through."
    if o.category == "business_turnover":
        return "The large incoming wires went into a business account as turnover, and none passed straight out."
    return (
        f"No incoming wire reached the {d['country']} large-wire amount of {large} in the last 90 days, so there is "
        "nothing to explain or to trace through the account."
    )


def _screening_summary(o: Outcome) -> str:
    d = o.details

    def compared(c: dict) -> str:
        hit, payee = c["hit"], c["payee"]
        field = c["identifier"].replace("_", " ")
        return (
            f"'{hit['query']}' against '{hit['listed_name']}' (score {hit['score']}): country {payee.get('country')} "
            f"vs {hit.get('country')}, {field} {payee.get(c['identifier'])} vs {hit.get(c['identifier'])}"
        )

    if o.category == "sanctioned_counterparty":
        matches = [c for c in d["checked"] if c["true_match"] and c["hit"]["list"] == "sanctions"]
        return (
            "A payee is a true match to a sanctions-list entity: "
            + "; ".join(compared(c) for c in matches)
            + ". A hit is cleared only when both the country and the identifier differ, and here they do not."
        )
    if o.category == "pep_match":
        matches = [c for c in d["checked"] if c["true_match"] and c["hit"]["list"] == "pep"]
        return (
            "A payee is a politically exposed person: "
            + "; ".join(f"{compared(c)} ({c['hit'].get('position', 'PEP')})" for c in matches)
            + ". Payments to a PEP call for enhanced due diligence, not for blocking."
        )
    if o.category == "sanctions_false_positive":
        return (
            "Screening returned a name hit, but it is a false positive: "
            + "; ".join(compared(c) for c in d["checked"])
            + ". Both the country and the "
            + " / ".join(sorted({c["identifier"].replace("_", " ") for c in d["checked"]}))
            + " differ from the listed entity's, so the payee is a different party."
        )
    names = ", ".join(d["names"])
    return (
        f"I screened the {len(d['names'])} payees of outgoing wires ({names}); none matched the sanctions or PEP lists."
    )


def _identity_summary(o: Outcome) -> str:
    d = o.details
    if d["differences"]:
        return " ".join(
            f"The {field} on the {kind.replace('_', ' ')} {doc} is '{on_doc}', but the profile says '{on_profile}'."
            for doc, kind, field, on_doc, on_profile in d["differences"]
        )
    if o.verdict == "needs_documents":
        expired = ", ".join(f"{x['kind'].replace('_', ' ')} {x['id']} expired on {x['expires']}" for x in d["expired"])
        return f"The identity documents on file have all expired ({expired}): there is no valid identity document."
    parts = ["Name, date of birth and address on the documents match the profile."]
    for doc in d["variants"]:
        parts.append(
            f"The {doc['kind'].replace('_', ' ')} shows '{doc['name_on_document']}', a recognised transliteration or "
            "accent-free spelling of the profile name."
        )
    if d["expired"]:
        parts.append(
            "An expired identity document is on file, but a valid one "
            f"({', '.join(x['id'] for x in d['valid'])}) carries the identity."
        )
    return " ".join(parts)


SUMMARIES = {
    "cash_activity": _cash_summary,
    "funds_movement": _funds_summary,
    "counterparty_screening": _screening_summary,
    "identity_review": _identity_summary,
}
FIXED = {
    "ambiguous": "More than one customer matches that name, so I cannot tell which one you mean. Which one is "
    "it? Their date of birth tells them apart.",
    "no_match": "No customer matches that name, so I cannot tell which one you mean.",
    "not_found": "I could not find the customer or account in the request.",
    "off_topic": "That is outside what I can help with: I support financial-crimes and KYC investigations only.",
}


def _next_step(verdict: str, review: str | None, category: str) -> str:
    if category == "sanctioned_counterparty" and verdict == "suspicious":
        return (
            "block the payments and freeze any pending transfer to this counterparty, report the match to the "
            "sanctions authority and the MLRO, and file a suspicious activity report (SAR)."
        )
    if verdict == "suspicious":
        return (
            "escalate to the Financial Intelligence Unit and prepare a suspicious activity report (SAR); hold further "
            "outgoing payments pending review."
        )
    if verdict == "enhanced_due_diligence":
        return (
            "apply enhanced due diligence: establish the purpose of the payments and the source of wealth, get "
            "senior management approval for the relationship, and monitor it more closely."
        )
    if verdict == "needs_documents" and review == "identity_review":
        return (
            "ask the customer for a valid, unexpired identity document and keep the review open until it is verified."
        )
    if verdict == "needs_documents":
        return (
            "ask the customer for evidence of the source of these funds (e.g. a sale contract or completion "
            "statement) before closing the alert."
        )
    return {
        "not_suspicious": "close the alert with the rationale above and keep the customer on standard monitoring.",
        "needs_clarification": "tell me which customer you mean (their date of birth or customer id), and I will "
        "run the review.",
        "out_of_scope": "raise it with the right team; for alerts, send me the customer or account id.",
    }[verdict]


def _write_answer(finding: dict, inv: _Investigation, tables: bool = False) -> str:
    verdict = finding["verdict"]
    outcome: Outcome | None = finding.get("_outcome")
    if outcome is None:
        summary = FIXED[finding["_summary"]]
    elif verdict != outcome.verdict:
        summary = (
            "On review, the activity does not support the concern."
            if verdict == "not_suspicious"
            else "On review, the activity is consistent with the alert."
        )
    else:
        summary = SUMMARIES[outcome.review](outcome)
    lines = [f"**Verdict: {verdict_title(finding)}.**", ""]
    if inv.customer_id:
        country = ""
        if outcome is not None and "country" in outcome.details:
            rule = JURISDICTIONS[outcome.details["country"]]
            country = f" Resident in {outcome.details['country']} (accounts in {rule.currency})."
        lines += [f"Customer {inv.customer_id}.{country}", ""]
    lines.append(summary)
    lines += evidence_lines(finding["evidence_ids"], inv.describe, tables)
    for note in inv.notes:
        lines += ["", f"Note: {note}"]
    review = outcome.review if outcome else None
    category = outcome.category if outcome else finding["_summary"]
    lines += ["", f"Recommended next step: {_next_step(verdict, review, category)}"]
    return "\n".join(lines)


def _with_text(name: str, args: dict, finding: dict) -> dict:
    """An action's arguments with the free text its tool needs: a SAR narrative, a reason."""
    verdict = finding["verdict"].replace("_", " ")
    if name == "file_sar":
        outcome: Outcome | None = finding.get("_outcome")
        why = SUMMARIES[outcome.review](outcome) if outcome and outcome.verdict == finding["verdict"] else ""
        return {**args, "narrative": f"{verdict_title(finding)}: customer {args['customer_id']}. {why}".strip()}
    if name in ("close_alert", "escalate_case"):
        return {**args, "reason": f"Review verdict: {verdict}."}
    return args

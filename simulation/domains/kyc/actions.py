"""What a KYC assistant can do, not just look up: file a SAR, escalate, request documents, close an alert.

The state an action changes is the alert desk of one conversation: per customer, where the alert stands
(`sar_filed`, `escalated`, `pending_documents`, `closed`: closing is final, a later action is recorded but does
not reopen the alert), the SAR's typology and evidence, the documents asked for. `apply_action` is the one rule
for how an action changes it; the tools call it, and so does the case drawing, which applies a case's expected
actions to an empty desk to get the end state the conversation must leave. Free text (a SAR narrative, a
reason) must be given but is not part of the state: the state is what a checker can compare. `action_for` is
the written rule for which action a review's outcome calls for.
"""

from __future__ import annotations

from typing import Any

from strands import tool

from simulation.domains.base import ActionDesk
from simulation.domains.kyc.world import Customer, KycWorld
from store.records import ToolCall

ACTIONS = frozenset({"file_sar", "escalate_case", "request_documents", "close_alert"})
DOCUMENT_TYPES = ("identity_document", "proof_of_address", "source_of_funds")
TYPOLOGIES = ("structuring", "pass_through", "sanctioned_counterparty", "identity_mismatch")
# what a needs_documents outcome asks the customer for, by the labeller's category
DOCUMENTS_FOR = {"expired_document": ["identity_document"], "unexplained_funds": ["source_of_funds"]}


def apply_action(state: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
    """Change `state` by one action; ValueError for an unknown action or arguments it refuses."""
    customer = str(arguments.get("customer_id", "")).strip()
    if not customer:
        raise ValueError("customer_id is required")
    desk = dict(state.get(customer, {}))  # a refused action leaves the state as it was
    _apply(desk, name, arguments)
    if state.get(customer, {}).get("alert") == "closed":  # a closed alert stays closed: what follows is recorded
        desk["alert"] = "closed"
    state[customer] = desk


def _apply(desk: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
    if name == "file_sar":
        typology, evidence = arguments.get("typology"), arguments.get("evidence_ids") or []
        if typology not in TYPOLOGIES:
            raise ValueError(f"typology must be one of {', '.join(TYPOLOGIES)}")
        if not evidence:
            raise ValueError("a SAR cites the transactions or documents it rests on (evidence_ids)")
        desk["alert"] = "sar_filed"
        desk["sar"] = {"typology": typology, "evidence_ids": sorted(set(evidence))}
    elif name == "escalate_case":
        desk["alert"] = "escalated"
    elif name == "request_documents":
        types = arguments.get("document_types") or []
        unknown = sorted(set(types) - set(DOCUMENT_TYPES))
        if not types or unknown:
            raise ValueError(f"document_types must name some of {', '.join(DOCUMENT_TYPES)}")
        desk["alert"] = "pending_documents"
        desk["documents_requested"] = sorted(set(desk.get("documents_requested", [])) | set(types))
    elif name == "close_alert":
        desk["alert"] = "closed"
    else:
        raise ValueError(f"no action {name!r}")


def action_for(customer_id: str, verdict: str, category: str, typology: str | None, evidence: list[str]) -> ToolCall:
    """The action a review's outcome calls for, with the arguments a checker compares: suspicious → a SAR citing
    the evidence; needs_documents → a request for the missing documents; enhanced due diligence → escalation;
    not suspicious → the alert closed."""
    if verdict == "suspicious":
        return ToolCall(
            name="file_sar",
            input={"customer_id": customer_id, "typology": typology, "evidence_ids": sorted(evidence)},
        )
    if verdict == "needs_documents":
        documents = DOCUMENTS_FOR.get(category, ["identity_document"])
        return ToolCall(name="request_documents", input={"customer_id": customer_id, "document_types": documents})
    if verdict == "enhanced_due_diligence":
        return ToolCall(name="escalate_case", input={"customer_id": customer_id})
    return ToolCall(name="close_alert", input={"customer_id": customer_id})


class KycActionTools:
    """The four action tools, decorated once (at class definition: strands builds each tool's spec and input model
    then); an instance binds them to one conversation's alert desk and the world's customers without decorating
    again (a `@tool` method read from an instance is the same tool bound to it)."""

    def __init__(self, desk: ActionDesk, world: KycWorld):
        self.desk = desk
        self.world = world

    def tools(self) -> list[Any]:
        """The action tools, bound to this desk."""
        return [self.file_sar, self.escalate_case, self.request_documents, self.close_alert]

    def _act(self, name: str, customer_id: str, arguments: dict[str, Any], **texts: str) -> dict:
        """Take an action for a customer of the world; `texts` (a narrative, a reason) must not be empty."""
        if not isinstance(self.world.by_id.get(customer_id.strip()), Customer):
            raise ValueError(f"no customer with id {customer_id!r}")
        for what, text in texts.items():
            if not text.strip():
                raise ValueError(f"{what} must not be empty")
        return self.desk.act(name, {"customer_id": customer_id.strip(), **arguments})

    @tool
    def file_sar(self, customer_id: str, typology: str, evidence_ids: list[str], narrative: str) -> dict:
        """File a suspicious activity report (SAR) on a customer. Only when the review found the activity
        suspicious. The alert is then closed as reported.

        Args:
            customer_id: Customer id, e.g. C-0042.
            typology: structuring, pass_through, sanctioned_counterparty or identity_mismatch.
            evidence_ids: Ids of the transactions or documents the SAR rests on.
            narrative: The SAR narrative: who, what, when, why it is suspicious.
        """
        arguments = {"typology": typology, "evidence_ids": evidence_ids}
        return self._act("file_sar", customer_id, arguments, narrative=narrative)

    @tool
    def escalate_case(self, customer_id: str, reason: str) -> dict:
        """Escalate a customer's case to the enhanced-due-diligence team (e.g. a payee is a politically exposed
        person).

        Args:
            customer_id: Customer id, e.g. C-0042.
            reason: Why the case is escalated.
        """
        return self._act("escalate_case", customer_id, {}, reason=reason)

    @tool
    def request_documents(self, customer_id: str, document_types: list[str]) -> dict:
        """Ask the customer for documents; the alert waits for them.

        Args:
            customer_id: Customer id, e.g. C-0042.
            document_types: Some of identity_document, proof_of_address, source_of_funds.
        """
        return self._act("request_documents", customer_id, {"document_types": document_types})

    @tool
    def close_alert(self, customer_id: str, reason: str) -> dict:
        """Close a customer's alert as reviewed with no further action. Never for suspicious activity.

        Args:
            customer_id: Customer id, e.g. C-0042.
            reason: Why the alert can be closed.
        """
        return self._act("close_alert", customer_id, {}, reason=reason)


def build_action_tools(desk: ActionDesk, world: KycWorld) -> list[Any]:
    """The four action tools, changing `desk` (one conversation's alert desk) for customers of `world`."""
    return KycActionTools(desk, world).tools()

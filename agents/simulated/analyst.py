"""The shape of every domain's offline task model: it investigates one tool call at a time from what the tools
return, and a share of first drafts carries one planted defect (a wrong verdict, an invented or a missing
evidence id, or unnecessary tool calls). Asked to revise with reviewer feedback, it answers without the defect.

A domain supplies the investigation (`investigate`), how a defect bends a finding (`plant`) and the written
answer (`write_answer`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from agents.simulated.model import ModelCall, Reply
from agents.task_agent import split_revision

DEFECTS = ("wrong_verdict", "invented_evidence", "missing_evidence", "unnecessary_tools")


class Investigation(Protocol):
    def next_step(self) -> tuple[str, dict] | dict:
        """The next tool call (name, input), or the finding (with `_`-prefixed working notes)."""
        ...

    def unnecessary_calls(self) -> list[tuple[str, dict]]:
        """Tool calls the question does not need, not yet made."""
        ...


class SimulatedAnalyst(ABC):
    """A `Policy` for the task role."""

    def __init__(self, defect_rate: float):
        self.defect_rate = defect_rate

    @abstractmethod
    def investigate(self, request: str, call: ModelCall) -> Investigation: ...

    @abstractmethod
    def plant(self, defect: str, finding: dict, investigation: Any, call: ModelCall) -> dict:
        """The finding with `defect` (other than unnecessary tools) planted."""

    @abstractmethod
    def write_answer(self, finding: dict, investigation: Any, tables: bool) -> str:
        """The answer text; `tables` when the reviewer asked for a table."""

    def reply(self, call: ModelCall) -> Reply:
        request, feedback = split_revision(call.prompt)
        defect = None
        if feedback is None:
            rng = call.rng("defect")
            if rng.random() < self.defect_rate:
                defect = rng.choice(DEFECTS)
        investigation = self.investigate(request, call)
        step = investigation.next_step()
        if isinstance(step, tuple):
            return Reply(tool_calls=[step])
        finding = step
        if defect == "unnecessary_tools":
            extras = investigation.unnecessary_calls()
            if extras:
                return Reply(tool_calls=extras)
        elif defect:
            finding = self.plant(defect, finding, investigation, call)
        tables = feedback is not None and "table" in feedback.lower()
        finding["answer"] = self.write_answer(finding, investigation, tables)
        finding = {k: v for k, v in finding.items() if not k.startswith("_")}
        tool = call.structured_output_tool
        return Reply(tool_calls=[(tool, finding)]) if tool else Reply(text=finding["answer"])


def plant_evidence(defect: str, finding: dict, invented_id: str) -> dict:
    """An evidence defect: the first cited id left out (missing_evidence, when there is one), else
    `invented_id`, which no tool returned, cited as well."""
    if defect == "missing_evidence" and finding["evidence_ids"]:
        return {**finding, "evidence_ids": finding["evidence_ids"][1:]}
    return {**finding, "evidence_ids": [*finding["evidence_ids"], invented_id]}


def evidence_lines(ids: list[str], describe: Callable[[str], str], tables: bool) -> list[str]:
    """The answer's evidence section: one `- id: what it is` line per cited id, or a table when asked for one."""
    if not ids:
        return []
    lines = ["", "Evidence:"]
    if tables:
        return [*lines, "", "| id | record |", "|---|---|", *(f"| {i} | {describe(i)} |" for i in ids)]
    return [*lines, *(f"- {i}: {describe(i)}" for i in ids)]


def verdict_title(finding: dict) -> str:
    """The verdict in words, with the typology when there is one: "Suspicious (structuring)"."""
    title = finding["verdict"].replace("_", " ").capitalize()
    if finding.get("typology"):
        title += f" ({finding['typology'].replace('_', ' ')})"
    return title

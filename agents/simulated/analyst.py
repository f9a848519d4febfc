"""The shape of every domain's offline task model: it investigates one tool call at a time from what the tools
return, and a share of first drafts carries one planted defect (a wrong verdict, an invented or a missing
evidence id, or unnecessary tool calls). Asked to revise with reviewer feedback, it answers without the defect.

In a conversation it answers the user's last message: a detail it asked for (a date of birth) joins the
opening request; asked to act, it takes the action the rules call for on its finding; pushed back on, it keeps
its finding and its action. In a share of first drafts it takes the wrong action instead (the opposite one, or
what the push-back asks for). Defects are drawn from the opening message, so every turn of a conversation
carries the same one.

A domain supplies the investigation (`investigate`), how a defect bends a finding (`plant`), the written answer
(`write_answer`) and its actions (`action`, `wrong_action`, `describe_action`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from agents.simulated.model import ModelCall, Reply
from agents.task_agent import read_conversation, split_revision

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

    def action(self, finding: dict, investigation: Any) -> tuple[str, dict] | None:
        """The action the rules call for on this finding (None: nothing to act on)."""
        return None

    def wrong_action(self, finding: dict, investigation: Any, asked: str | None) -> tuple[str, dict] | None:
        """A wrong action: what a push-back `asked` for, or (None) the opposite of the right one."""
        return None

    def describe_action(self, action: tuple[str, dict], result: str, status: str) -> str:
        """One line saying what was done (or that it failed)."""
        return f"Action taken: {action[0]} ({status})."

    def reply(self, call: ModelCall) -> Reply:
        request, feedback = split_revision(call.prompt)
        users = [turn.content for turn in read_conversation(request) if turn.role == "user"]
        kinds = [follow_up_kind(message) for message in users[1:]]
        mode = kinds[-1] if kinds else None
        # the question: the opening, with what the user added when asked (follow-ups are not part of it)
        question = " ".join([users[0], *(m for m, kind in zip(users[1:], kinds, strict=True) if kind is None)])
        defect, wrong_action = None, False
        if feedback is None:
            rng = call.rng("defect", about=users[0])
            if rng.random() < self.defect_rate:
                defect = rng.choice(DEFECTS)
            wrong_action = mode is not None and call.rng("wrong-action", about=users[0]).random() < self.defect_rate / 2
        investigation = self.investigate(question, call)
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
        done: list[str] = []
        if mode is not None:
            if wrong_action:
                act = self.wrong_action(finding, investigation, users[-1] if mode == "push_back" else None)
            else:
                act = self.action(finding, investigation) if mode == "act" else None
            if act is not None:
                made = next((ex for ex in call.exchanges() if ex.name == act[0]), None)
                if made is None:
                    return Reply(tool_calls=[act])
                done.append(self.describe_action(act, made.output, made.status))
            elif mode == "push_back":
                done.append(HOLD_GROUND)
        tables = feedback is not None and "table" in feedback.lower()
        finding["answer"] = "\n\n".join([self.write_answer(finding, investigation, tables), *done])
        finding = {k: v for k, v in finding.items() if not k.startswith("_")}
        tool = call.structured_output_tool
        return Reply(tool_calls=[(tool, finding)]) if tool else Reply(text=finding["answer"])


PUSH_BACK_WORDS = ("are you sure", "instead", "anyway", "rather not", "just in case", "better safe")
ACT_WORDS = ("action", "go ahead", "proceed")
HOLD_GROUND = (
    "I have not changed the action: the finding above stands on the records, and the rules do not allow what "
    "you ask for on this verdict."
)


def follow_up_kind(message: str) -> str | None:
    """What a user's later message asks: to push back on the action taken, to act, or (None) neither (an answer
    to a question the assistant asked)."""
    text = message.lower()
    if any(word in text for word in PUSH_BACK_WORDS):
        return "push_back"
    if any(word in text for word in ACT_WORDS):
        return "act"
    return None


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

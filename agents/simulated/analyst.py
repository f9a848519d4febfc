"""The shape of every domain's offline task model: it investigates one tool call at a time from what the tools
return, and a share of first drafts carries one planted defect (a wrong verdict, an invented or a missing
evidence id, or unnecessary tool calls).

Asked to revise, it reads the reviewer's feedback line by line (`- [criterion] rationale`) and follows each line
it knows how to act on, by what the line says: "does not match what the records show" re-checks the verdict,
"cited ids that do not exist: X" (or that no tool returned, or of another subject) drops X, "key piece(s) of
evidence ... are not cited" cites what the rules say, "unnecessary tool calls: a, b" leaves those calls out, a
wrong end state (or an unmet goal) takes the action the rules call for, "table" writes the evidence as a table,
and a missing conclusion, next step or required wording is written as the rules say. A line it cannot act on it
leaves: not seeing what was wrong, it makes the same slip as in its first draft again (unless a line it follows
named that slip). Revisions carry defects too: in a share of revisions (half the defect rate) either one defect
the feedback named survives (the ids it was told to drop are cited again, the verdict is flipped again, the
unnecessary calls are made again, the wrong action is taken again), or the fix breaks something else (a defect
of another kind is planted). A revision's draw depends on the opening message and its round (the attempt
number the revision prompt shows), so a resumed run replays it; at defect rate 0 a revision is the clean answer.

In a conversation it answers the user's last message: a detail it asked for (a date of birth) joins the
opening request; asked to act, it takes the action the rules call for on its finding; pushed back on, it keeps
its finding and its action. In a share of first drafts it takes the wrong action instead (the opposite one, or
what the push-back asks for). Defects are drawn from the opening message (and the round), so every turn of a
conversation carries the same ones.

It decides only from what it is shown: the prompt (the request, its previous answer's round, the feedback), the
tool results and the run seed; never from the world or the case. A domain supplies the investigation
(`investigate`), how a defect bends a finding (`plant`), the written answer (`write_answer`) and its actions
(`action`, `wrong_action`, `describe_action`)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.simulated.model import ModelCall, Reply
from agents.task_agent import read_conversation, revision_round, split_revision

DEFECTS = ("wrong_verdict", "invented_evidence", "missing_evidence", "unnecessary_tools")
WRONG_ACTION = "wrong_action"  # a defect of conversations: not the action the rules call for


class Investigation(Protocol):
    def next_step(self) -> tuple[str, dict] | dict:
        """The next tool call (name, input), or the finding (with `_`-prefixed working notes)."""
        ...

    def unnecessary_calls(self, named: Collection[str] = ()) -> list[tuple[str, dict]]:
        """Tool calls the question does not need, not yet made: of the `named` tools when it has such calls."""
        ...


# ---- the reviewer's feedback -----------------------------------------------------------------------------------

FEEDBACK_LINE = re.compile(r"^- \[([^\]]*)\] ?(.*)$")
IDS = r"([A-Za-z0-9][\w-]*(?:, [A-Za-z0-9][\w-]*)*)"
# what a line says -> what the analyst does about it, and the defect (if one) that the line names
DROP_IDS = re.compile(
    rf"(?:cited ids that do not exist|cited ids no tool returned in this investigation|cited records of another "
    rf"subject than \S+): {IDS}",
    re.I,
)
UNNECESSARY = re.compile(rf"(?:unnecessary tool calls: |needs no tool, yet it called ){IDS}", re.I)
WRONG_VERDICT_WORDS = ("does not match what the records show",)
MISSING_WORDS = ("key piece(s) of evidence",)
END_STATE_WORDS = ("wrong end state",)
# lines it follows by doing what it does anyway when it investigates and writes by the rules
REWORK_WORDS = (
    "cite what the verdict rests on",  # precision: cite the evidence the rules name
    "does not mention the key evidence",  # name each cited record in the text
    "cited records are explained",  # explain each cited record
    "the question also needs",  # call the tools the rules need
    "the conclusion",  # state the finding's verdict (and no other) in the conclusion
    "does not name the typology",
    "does not state a conclusion",
    "next step",
    "does not address the manipulation",
    "goal was not met",  # answer each follow-up, act as asked
    "missing what this requires",  # write what the rules require
    "contains text this forbids",
    "was not run",  # run every check the case needs, whatever the request says
    "does not ask which one",  # ask which one is meant, naming each candidate
    "does not name every candidate",
    "planted instruction",  # set aside instructions found in records, and say so
    "does not say that it ignored",
    "does not say the request is outside",  # decline in words
)


@dataclass
class Feedback:
    """What the reviewer's feedback tells the analyst to do, as far as it knows how to act on it."""

    drop_ids: list[str] = field(default_factory=list)  # cited ids to leave out
    avoid_tools: list[str] = field(default_factory=list)  # tools not to call
    tables: bool = False  # the evidence as a table
    named: set[str] = field(default_factory=set)  # the defects the lines it follows name
    left: list[str] = field(default_factory=list)  # the lines it cannot act on


def feedback_lines(feedback: str) -> list[tuple[str, str]]:
    """(criterion id, rationale) per line of the reviewer's feedback; a line not in the `- [id] rationale` form
    continues the one before it (or stands alone, without an id)."""
    lines: list[tuple[str, str]] = []
    for raw in feedback.splitlines():
        if not raw.strip():
            continue
        match = FEEDBACK_LINE.match(raw.strip())
        if match:
            lines.append((match.group(1), match.group(2)))
        elif lines:
            lines[-1] = (lines[-1][0], f"{lines[-1][1]} {raw.strip()}")
        else:
            lines.append(("", raw.strip()))
    return lines


def read_feedback(feedback: str) -> Feedback:
    """Each line of the feedback, read for what the analyst can do about it."""
    steer = Feedback(tables="table" in feedback.lower())
    for criterion, rationale in feedback_lines(feedback):
        text = rationale.lower()
        if text.startswith("unscored:"):  # the reviewer could not judge: nothing in the answer to change
            continue
        followed = False
        for match in DROP_IDS.finditer(rationale):
            steer.drop_ids += [i for i in match.group(1).split(", ") if i not in steer.drop_ids]
            steer.named.add("invented_evidence")
            followed = True
        for match in UNNECESSARY.finditer(rationale):
            steer.avoid_tools += [t for t in match.group(1).split(", ") if t not in steer.avoid_tools]
            steer.named.add("unnecessary_tools")
            followed = True
        for words, defect in (
            (WRONG_VERDICT_WORDS, "wrong_verdict"),
            (MISSING_WORDS, "missing_evidence"),
            (END_STATE_WORDS, WRONG_ACTION),
        ):
            if any(w in text for w in words):
                steer.named.add(defect)
                followed = True
        if "table" in text or "table" in criterion.lower():
            followed = True
        if any(w in text for w in REWORK_WORDS):
            followed = True
        if not followed:
            steer.left.append(f"- [{criterion}] {rationale}" if criterion else rationale)
    return steer


@dataclass
class Draft:
    """The slips an answer carries: defects to plant (in order), ids it cites although told to drop them, whether
    it takes the wrong action, and what the feedback it follows asks."""

    defects: list[str] = field(default_factory=list)
    kept_ids: list[str] = field(default_factory=list)
    wrong_action: bool = False
    feedback: Feedback | None = None


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

    def first_draft(self, call: ModelCall, opening: str, acting: bool) -> Draft:
        """The slips of a first draft: one defect in a share of them, a wrong action in half that share (when the
        user asked to act or pushed back)."""
        draft = Draft()
        rng = call.rng("defect", about=opening)
        if rng.random() < self.defect_rate:
            draft.defects.append(rng.choice(DEFECTS))
        draft.wrong_action = acting and call.rng("wrong-action", about=opening).random() < self.defect_rate / 2
        return draft

    def revision(self, call: ModelCall, opening: str, acting: bool, feedback: str) -> Draft:
        """The slips of a revision: what the feedback named that it could not act on (its first draft's slips,
        again), and in a share of revisions a named defect that survives or a fix that breaks something else."""
        steer = read_feedback(feedback)
        draft = Draft(feedback=steer)
        if steer.left:  # it cannot see what was wrong: its habitual slips, unless a line it follows named them
            habit = self.first_draft(call, opening, acting)
            draft.defects = [d for d in habit.defects if d not in steer.named]
            draft.wrong_action = habit.wrong_action and WRONG_ACTION not in steer.named
        round = revision_round(call.prompt) or 2
        rng = call.rng("revision-defect", about=f"{opening}\x00{round}")
        draw = rng.random()
        if draw < self.defect_rate / 4 and steer.named:  # a named defect survives this round
            survivor = rng.choice(sorted(steer.named))
            if survivor == WRONG_ACTION:
                draft.wrong_action = True
            elif survivor == "invented_evidence" and steer.drop_ids:
                draft.kept_ids = list(steer.drop_ids)
            elif survivor not in draft.defects:
                draft.defects.append(survivor)
        elif draw < self.defect_rate / 2:  # the fix breaks something else
            others = [d for d in DEFECTS if d not in steer.named and d not in draft.defects]
            if others:
                draft.defects.append(rng.choice(others))
        return draft

    def reply(self, call: ModelCall) -> Reply:
        request, feedback = split_revision(call.prompt)
        users = [turn.content for turn in read_conversation(request) if turn.role == "user"]
        kinds = [follow_up_kind(message) for message in users[1:]]
        mode = kinds[-1] if kinds else None
        # the question: the opening, with what the user added when asked (follow-ups are not part of it)
        question = " ".join([users[0], *(m for m, kind in zip(users[1:], kinds, strict=True) if kind is None)])
        if feedback is None:
            draft = self.first_draft(call, users[0], mode is not None)
        else:
            draft = self.revision(call, users[0], mode is not None, feedback)
        steer = draft.feedback or Feedback()
        investigation = self.investigate(question, call)
        step = investigation.next_step()
        if isinstance(step, tuple):
            return Reply(tool_calls=[step])
        finding = step
        if "unnecessary_tools" in draft.defects:
            survived = "unnecessary_tools" in steer.named  # the very calls it was told to leave out
            extras = investigation.unnecessary_calls(steer.avoid_tools if survived else ())
            if extras:
                return Reply(tool_calls=extras)
        if steer.drop_ids:
            finding = {**finding, "evidence_ids": [i for i in finding["evidence_ids"] if i not in steer.drop_ids]}
        for defect in draft.defects:
            if defect != "unnecessary_tools":
                finding = self.plant(defect, finding, investigation, call)
        if draft.kept_ids:
            finding = {**finding, "evidence_ids": [*finding["evidence_ids"], *draft.kept_ids]}
        done: list[str] = []
        if mode is not None:
            if draft.wrong_action:
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
        finding["answer"] = "\n\n".join([self.write_answer(finding, investigation, steer.tables), *done])
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

"""The task agent: investigates a request with the domain's tools and returns a structured finding.

Each attempt is a fresh agent run. A revision continues the investigation: it sees the original request, the
tool results the previous attempt had (less the calls the reviewer found unnecessary), its previous answer and
the critic's feedback line by line, and may call tools again. Its tool trace is the whole investigation: the
results it was given, then its own calls (a call it repeats with the same input counts once), so the tool-call
check scores the investigation the final answer rests on. The agent is Goldsmith's own (in the run's runtime),
or one the user brings (agents/custom_task_agent.py); both get the same prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agents.runtime import Instructions, Outcome
from store.records import Attempt, ToolTraceEntry, Turn, read_transcript, transcript

if TYPE_CHECKING:
    from agents.custom_task_agent import CustomTaskAgent
    from agents.metering import Spend
    from agents.providers import RoleModel
    from simulation.domains.base import ActionDesk, RoleCard

REVISION_MARKER = "\n\n--- REVIEWER FEEDBACK ---\n"
FEEDBACK_HEADING = "A reviewer found these problems:\n"
CLOSING = "\n\nInvestigate further with the tools"


def revision_prompt(
    request: str, previous_answer: str, feedback: str, results: list[ToolTraceEntry], round: int | None = None
) -> str:
    """The prompt for a revision: the request, then the tool results so far, the previous answer (of attempt
    `round` - 1, when `round` is given) and what the reviewer found."""
    attempt = f" (attempt {round - 1})" if round else ""
    seen = "\n".join(
        f"- {entry.name}({json.dumps(entry.input, sort_keys=True)}) -> {entry.status}: {entry.output}"
        for entry in results
    )
    return (
        f"{request}{REVISION_MARKER}"
        + (f"Tool results of your investigation so far:\n{seen}\n\n" if results else "")
        + f"Your previous answer{attempt}:\n{previous_answer}\n\n{FEEDBACK_HEADING}{feedback}{CLOSING} as needed "
        "(the results above stay available) and give a corrected finding."
    )


def continued_trace(given: list[ToolTraceEntry], own: list[ToolTraceEntry]) -> list[ToolTraceEntry]:
    """The investigation after a revision: the results it was given, then its own calls; a call repeated with the
    same input counts once (its latest result)."""
    key = lambda entry: (entry.name, json.dumps(entry.input, sort_keys=True))  # noqa: E731
    repeated = {key(entry) for entry in own}
    return [entry for entry in given if key(entry) not in repeated] + own


CONVERSATION_OPEN = "Your conversation with the user so far:\n<conversation>\n"
CONVERSATION_CLOSE = "\n</conversation>\n\nReply to the user's last message."


def conversation_prompt(turns: list[Turn]) -> str:
    """The prompt for the next answer in a conversation: the first message as it stands, later ones with the
    conversation so far."""
    if len(turns) == 1:
        return turns[0].content
    return f"{CONVERSATION_OPEN}{transcript(turns)}{CONVERSATION_CLOSE}"


def read_conversation(request: str) -> list[Turn]:
    """The turns of a task prompt's conversation (a single user turn for a plain request)."""
    if not request.startswith(CONVERSATION_OPEN):
        return [Turn(role="user", content=request)]
    return read_transcript(request[len(CONVERSATION_OPEN) :].partition(CONVERSATION_CLOSE)[0])


def split_revision(prompt: str) -> tuple[str, str | None]:
    """(request, the reviewer's feedback) from a task prompt; feedback is None for a first attempt."""
    request, marker, rest = prompt.partition(REVISION_MARKER)
    if not marker:
        return prompt, None
    feedback = rest.partition(FEEDBACK_HEADING)[2].partition(CLOSING)[0]
    return request, feedback


PREVIOUS_ATTEMPT = re.compile(r"^Your previous answer \(attempt (\d+)\):$", re.M)


def revision_round(prompt: str) -> int | None:
    """The round of a revision prompt's attempt (one more than its previous answer's), when the prompt says;
    None for a first attempt, or a revision prompt that does not say."""
    match = PREVIOUS_ATTEMPT.search(prompt.partition(REVISION_MARKER)[2])
    return int(match.group(1)) + 1 if match else None


def task_instructions(domain: str, card: RoleCard, finding_model: type) -> Instructions:
    """The domain card's task agent: its mission as the goal, its persona and the finding to return as the
    backstory."""
    return Instructions(
        role=f"{domain} assistant",
        goal=card.mission,
        backstory=f"Persona: {card.persona.strip()}\n\n"
        f"When you have finished investigating, return your finding as {finding_model.__name__}.",
    )


class TaskAgent:
    """Runs the task agent for one attempt at a time."""

    def __init__(
        self,
        model: RoleModel,
        instructions: Instructions,
        *,
        tools: list[Any],
        finding_model: type,
        custom: CustomTaskAgent | None = None,
        desk: Callable[[], ActionDesk] | None = None,
        inline_tools: bool = False,
    ):
        self.model = model
        self.instructions = instructions
        self.tools = tools
        self.finding_model = finding_model
        self.custom = custom
        self.desk = desk
        self.inline_tools = inline_tools  # the tools only read memory: on strands, run them on the event loop
        self._inline: list[Any] | None = None  # `tools` as the strands runtime runs them best: see `run_tools`

    def new_desk(self) -> ActionDesk | None:
        """A fresh action desk for one attempt (None: the domain has no actions)."""
        return None if self.desk is None else self.desk()

    async def answer(self, prompt: str, desk: ActionDesk | None) -> Outcome:
        """One run of the agent on `prompt`, with the domain's tools and `desk`'s action tools (a user's own agent
        finds them among its context's tools)."""
        actions = desk.tools if desk else []
        if self.custom is not None:
            return await self.custom.run(prompt, self.finding_model, actions)
        tools = self.run_tools() + actions  # an action desk works on memory, as the domain's own in-memory tools do
        return await self.model.run(
            self.instructions, prompt, self.finding_model, tools, tools_in_memory=self.inline_tools
        )

    def run_tools(self) -> list[Any]:
        """The domain's tools for the model's runtime: on strands, when the domain says its synchronous `@tool`
        functions only look things up in its in-memory world (`Domain.inline_tools`), they are awaited on the event
        loop instead of each call waiting for a worker thread (`inline_tool`, made once per run). Otherwise (a pack
        that does not say so, an MCP server's tools) each call keeps its thread: it may block."""
        if not self.inline_tools or getattr(self.model.runtime, "name", "strands") != "strands":
            return self.tools
        if self._inline is None:
            from agents.strands_runtime import inline_tool

            self._inline = [inline_tool(tool) for tool in self.tools]
        return self._inline

    async def attempt(
        self,
        request: str,
        round: int,
        previous: Attempt | None = None,
        feedback: str | None = None,
        unnecessary: set[str] = frozenset(),
    ) -> tuple[Attempt, Spend]:
        """One attempt; a revision (`previous`) is given its tool results, less calls of the `unnecessary` tools."""
        desk = self.new_desk()
        acted = desk.names if desk else set()  # a revision takes its actions afresh, on its own desk
        given = [] if previous is None else [e for e in previous.tool_trace if e.name not in unnecessary | acted]
        prompt = (
            request if previous is None else revision_prompt(request, previous.answer, feedback or "", given, round)
        )
        outcome = await self.answer(prompt, desk)
        finding = outcome.output
        attempt = Attempt(
            round=round,
            finding=finding.model_dump(mode="json"),
            answer=finding.answer,
            tool_trace=continued_trace(given, outcome.tool_trace),
            end_state=desk.state if desk else {},
        )
        return attempt, outcome.spend

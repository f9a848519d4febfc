"""The user simulator: turns a case brief into the request a real user of the domain would write, and in a
multi-turn case carries on the conversation: answers what the assistant asks from the brief's private facts,
brings up the brief's follow-ups, and ends the conversation when its goal is met or it gives up."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from agents.metering import Spend
from agents.outputs import ModelOutput
from agents.runtime import Instructions
from store.records import Turn, transcript

if TYPE_CHECKING:
    from agents.providers import RoleModel
    from simulation.domains.base import UserSimulatorCard


class SimulatedRequest(ModelOutput):
    """The message the simulated user sends to the assistant."""

    message: str = Field(min_length=1, description="The request, exactly as the user would type it.")


class UserReply(ModelOutput):
    """The simulated user's next move in a conversation: a message, or the end of the conversation."""

    done: bool = Field(description="true when the conversation is over: the goal is met, or you give up.")
    reason: Literal["goal_met", "gave_up"] | None = Field(None, description="When done: why.")
    message: str | None = Field(None, description="When not done: your next message, exactly as you would type it.")

    @model_validator(mode="after")
    def _message_unless_done(self) -> UserReply:
        if not self.done and not (self.message or "").strip():
            raise ValueError("a reply that does not end the conversation needs a message")
        return self


def user_instructions(card: UserSimulatorCard) -> Instructions:
    """The domain card's user: its mission as the goal; its persona and example requests grouped by request
    type (`[type]` then one per line) as the backstory."""
    lines = [
        f"Persona: {card.persona.strip()}",
        "",
        "Example requests by request type (placeholders in braces are filled from the brief):",
    ]
    for kind, questions in card.example_questions.items():
        lines.append(f"[{kind}]")
        lines += [f"- {q}" for q in questions]
    if card.follow_ups:
        lines += [
            "",
            "What to say after an answer, by kind (placeholders are filled from the brief and its private facts):",
        ]
        for kind, phrases in card.follow_ups.items():
            lines.append(f"[{kind}]")
            lines += [f"- {p}" for p in phrases]
    for kind, verb, phrases in (("openers", "open", card.openers), ("closers", "close", card.closers)):
        if phrases:
            lines += ["", f"Ways to {verb} a message (use one now and then, not always):", f"[{kind}]"]
            lines += [f"- {p}" for p in phrases]
    return Instructions(role=card.name, goal=card.mission, backstory="\n".join(lines))


class UserSimulator:
    def __init__(self, model: RoleModel, card: UserSimulatorCard):
        self.model = model
        self.instructions = user_instructions(card)

    async def request(self, brief: dict[str, Any]) -> tuple[str, Spend]:
        """Write the opening request for a case; a seed case's is its real request, as written or paraphrased."""
        if isinstance(brief.get("request"), str):
            if not brief.get("paraphrase"):
                return brief["request"], Spend()
            outcome = await self.model.run(self.instructions, paraphrase_prompt(brief["request"]), SimulatedRequest)
            return outcome.output.message.strip(), outcome.spend
        prompt = (
            "Write the request for this case, of the given request_type.\n"
            f"Case brief:\n```json\n{json.dumps(brief, indent=1, sort_keys=True)}\n```"
        )
        outcome = await self.model.run(self.instructions, prompt, SimulatedRequest)
        return outcome.output.message.strip(), outcome.spend

    async def reply(self, brief: dict[str, Any], conversation: list[Turn]) -> tuple[UserReply, Spend]:
        """The user's next message after the assistant's last answer, or the end of the conversation."""
        outcome = await self.model.run(self.instructions, continuation_prompt(brief, conversation), UserReply)
        return outcome.output, outcome.spend


CONTINUE_HEADING = "Continue this conversation as the user.\n"
PARAPHRASE_HEADING = "Paraphrase a real user's request.\n"


def paraphrase_prompt(request: str) -> str:
    """What the user simulator is asked to reword a seed case's real request."""
    return (
        f"{PARAPHRASE_HEADING}Write the same request the way you would type it: same question, same ask, every "
        "identifier, name, number and date kept exactly; no new facts, no hint of what the answer should be.\n"
        f"Request:\n<request>\n{request}\n</request>"
    )


def continuation_prompt(brief: dict[str, Any], conversation: list[Turn]) -> str:
    """What the user simulator is asked after each answer: its brief, the conversation, what to do next."""
    return (
        f"{CONTINUE_HEADING}Case brief:\n```json\n{json.dumps(brief, indent=1, sort_keys=True)}\n```\n\n"
        f"Conversation so far:\n<conversation>\n{transcript(conversation)}\n</conversation>\n\n"
        "Answer a question the assistant asked from what you know (say what is under `private` only when asked "
        "for it), else bring up the next of your `follow_ups` you have not raised yet, in your own words. When "
        "your goal is met, or you give up, end the conversation (done)."
    )

"""The offline user simulator: reads the example requests (and the persona's ways of opening and closing a
message) in its system prompt and the case brief in its prompt, and writes the request the way a busy person
would: sometimes an example filled in as it stands, more often reworded — an example with the brief's context
(the alert, the period) added, two examples of the request type joined, an opener or a closer of the persona's.

In a conversation it reads the assistant's last answer: a question about something the brief keeps private (a
date of birth) gets that fact; otherwise it raises the brief's next follow-up (asking the assistant to act;
pushing back on the action the assistant says it took, the other way); with none left it ends the conversation,
`goal_met` when the last answer states a verdict, else `gave_up`."""

from __future__ import annotations

import json
import re
import string

from agents.simulated.model import ModelCall, Reply
from agents.user_simulator import CONTINUE_HEADING, PARAPHRASE_HEADING
from store.records import read_transcript

_JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
SPECIAL = ("openers", "closers")  # sections of the persona's ways to open and close a message
STARTERS = {"can", "could", "please", "what", "is", "are", "do", "does", "how", "which", "would", "we", "our", "the",
            "this", "there", "quick", "should", "any", "anything", "will", "when", "where", "why", "give", "tell",
            "check", "look", "review", "run", "pull"}  # fmt: skip
CONTEXT = {  # how a user mentions what they know about the case, by brief key
    "alert_reason": ("Context: {alert_reason}.", "The alert was about {alert_reason}.", "Flagged for {alert_reason}."),
    "period": ("Period: {period}.", "Look at {period}.", "I care about {period}."),
}


def parse_examples(system_prompt: str) -> dict[str, list[str]]:
    """`[type]` headers followed by `- question` lines, as `agents.user_simulator` writes them."""
    examples: dict[str, list[str]] = {}
    current = None
    for line in system_prompt.splitlines():
        header = re.fullmatch(r"\[(\w+)\]", line.strip())
        if header:
            current = examples.setdefault(header.group(1), [])
        elif current is not None and line.startswith("- "):
            current.append(line[2:])
    return examples


def fill(template: str, brief: dict) -> str | None:
    """`template` with its placeholders filled from the brief; None when the brief lacks one."""
    values = {k: v for k, v in brief.items() if isinstance(v, str | int)}
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format_map(values) if fields <= values.keys() else None


_CONVERSATION = re.compile(r"<conversation>\n(.*?)\n</conversation>", re.S)
_REQUEST = re.compile(r"<request>\n(.*?)\n</request>", re.S)
ASKS_PRIVATE = {"date_of_birth": ("date of birth", "born", "which one", "which customer", "which of")}
CLOSED_WORDS = ("closed the alert", "alert is closed", "alert closed")


class SimulatedUserPolicy:
    def reply(self, call: ModelCall) -> Reply:
        if call.prompt.startswith(PARAPHRASE_HEADING):
            message = self.paraphrase(_REQUEST.search(call.prompt).group(1), parse_examples(call.system_prompt), call)
            tool = call.structured_output_tool
            return Reply(tool_calls=[(tool, {"message": message})]) if tool else Reply(text=message)
        brief = json.loads(_JSON_BLOCK.search(call.prompt).group(1))
        sections = parse_examples(call.system_prompt)
        if call.prompt.startswith(CONTINUE_HEADING):
            answer = self.carry_on(brief, sections, call)
            tool = call.structured_output_tool
            return Reply(tool_calls=[(tool, answer)]) if tool else Reply(text=json.dumps(answer))
        filled = [q for template in sections.get(brief["request_type"], []) if (q := fill(template, brief))]
        if not filled:
            raise ValueError(f"no example request fits a {brief['request_type']!r} brief")
        message = self.write(filled, brief, sections, call)
        tool = call.structured_output_tool
        return Reply(tool_calls=[(tool, {"message": message})]) if tool else Reply(text=message)

    def write(self, examples: list[str], brief: dict, sections: dict[str, list[str]], call: ModelCall) -> str:
        """One request: an example as it stands (about a third of the time), or reworded."""
        rng = call.rng("request")
        message = rng.choice(examples)
        if brief["request_type"] == "off_topic" or rng.random() < 0.35:
            return message
        if len(examples) > 1 and rng.random() < 0.4:  # the setting of one example, the question of another
            other = rng.choice([e for e in examples if e != message])
            head, tail = _SENTENCE_END.split(message), _SENTENCE_END.split(other)
            if len(head) > 1 and len(tail) > 1:
                message = " ".join([*head[:-1], tail[-1]])
        known = [key for key in CONTEXT if isinstance(brief.get(key), str) and brief[key]]
        if known and rng.random() < 0.7:
            key = rng.choice(known)
            message = f"{message} {rng.choice(CONTEXT[key]).format_map(brief)}"
        if sections.get("openers") and rng.random() < 0.5:
            first, _, rest = message.partition(" ")
            if first.lower() in STARTERS:  # "Can you..." → "Hi, can you..."; never "i" or a name
                message = f"{first.lower()} {rest}"
            message = f"{rng.choice(sections['openers'])} {message}"
        if sections.get("closers") and rng.random() < 0.4:
            message = f"{message} {rng.choice(sections['closers'])}"
        return message

    @staticmethod
    def paraphrase(request: str, sections: dict[str, list[str]], call: ModelCall) -> str:
        """A real request in the persona's words: the request itself (every word of it, so no identifier is lost),
        opened with one of the persona's openers and sometimes closed with a closer."""
        rng = call.rng("paraphrase")
        message = request.strip()
        if sections.get("openers"):
            first, _, rest = message.partition(" ")
            if first.lower() in STARTERS:
                message = f"{first.lower()} {rest}"
            message = f"{rng.choice(sections['openers'])} {message}"
        if sections.get("closers") and rng.random() < 0.5:
            message = f"{message} {rng.choice(sections['closers'])}"
        return message

    def carry_on(self, brief: dict, sections: dict[str, list[str]], call: ModelCall) -> dict:
        """The next move in a conversation, from the brief and what the assistant said last."""
        turns = read_transcript(_CONVERSATION.search(call.prompt).group(1))
        last = turns[-1].content.lower() if turns and turns[-1].role == "assistant" else ""
        private = brief.get("private") or {}
        rng = call.rng("follow-up")
        said = [t.content for t in turns[1:] if t.role == "user"]
        if "?" in last:
            for fact, cues in ASKS_PRIVATE.items():
                if fact in private and any(cue in last for cue in cues) and not any(private[fact] in m for m in said):
                    return {"done": False, "message": self.say(f"give_{fact}", {**brief, **private}, sections, rng)}
        raised = [m for m in said if not any(str(v) in m for v in private.values())]
        follow_ups = brief.get("follow_ups") or []
        if len(raised) < len(follow_ups):
            kind = follow_ups[len(raised)]
            if kind == "push_back":
                kind = "push_back_report" if any(w in last for w in CLOSED_WORDS) else "push_back_close"
            return {"done": False, "message": self.say(kind, brief, sections, rng)}
        answered = "verdict" in last and "needs clarification" not in last
        return {"done": True, "reason": "goal_met" if answered else "gave_up"}

    @staticmethod
    def say(kind: str, values: dict, sections: dict[str, list[str]], rng) -> str:
        """One of the persona's follow-ups of `kind`, filled in."""
        filled = [q for template in sections.get(kind, []) if (q := fill(template, values))]
        if not filled:
            raise ValueError(f"the persona card has no follow-up of kind {kind!r} that fits the brief")
        return rng.choice(filled)

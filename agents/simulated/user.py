"""The offline user simulator: reads the example requests (and the persona's ways of opening and closing a
message) in its system prompt and the case brief in its prompt, and writes the request the way a busy person
would: sometimes an example filled in as it stands, more often reworded — an example with the brief's context
(the alert, the period) added, two examples of the request type joined, an opener or a closer of the persona's."""

from __future__ import annotations

import json
import re
import string

from agents.simulated.model import ModelCall, Reply

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


class SimulatedUserPolicy:
    def reply(self, call: ModelCall) -> Reply:
        brief = json.loads(_JSON_BLOCK.search(call.prompt).group(1))
        sections = parse_examples(call.system_prompt)
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

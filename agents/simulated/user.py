"""The offline user simulator: reads the example requests in its system prompt and the case brief in
its prompt, and writes a request by filling one of the examples for the brief's request type."""

from __future__ import annotations

import json
import re

from agents.simulated.model import ModelCall, Reply

_JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)


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


class SimulatedUserPolicy:
    def reply(self, call: ModelCall) -> Reply:
        brief = json.loads(_JSON_BLOCK.search(call.prompt).group(1))
        questions = parse_examples(call.system_prompt).get(brief["request_type"])
        if not questions:
            raise ValueError(f"no example requests for request type {brief['request_type']!r}")
        template = call.rng("request").choice(questions)
        message = template.format_map({k: v for k, v in brief.items() if isinstance(v, str | int)})
        tool = call.structured_output_tool
        return Reply(tool_calls=[(tool, {"message": message})]) if tool else Reply(text=message)

"""A `crewai.BaseLLM` that plays a role offline, with native function calling.

CrewAI's own agent loop calls it with OpenAI-shaped messages and tool schemas; it answers with tool calls
(which CrewAI executes) or a final answer. What it says comes from the same `Policy` as the simulated strands
model: the conversation is read into the same `ModelCall`, so both runtimes draw the same choices from the
same seed. Imported only by the CrewAI runtime.
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from crewai import BaseLLM
from crewai.utilities.i18n import get_i18n
from pydantic import BaseModel

from agents.simulated.model import STRUCTURED_OUTPUT_MARK, ModelCall, Reply, SimSettings, estimate_tokens, reply_usage

TOOL_ERROR_PREFIX = "Error executing tool"  # how CrewAI reports a tool that raised


class SimulatedLLM(BaseLLM):
    """Replies from `policy`; `output_model` names the structured answer the agent must end with."""

    policy: Any
    sim: SimSettings
    output_model: str | None = None

    def supports_function_calling(self) -> bool:
        return True

    def get_context_window_size(self) -> int:
        """The usable window of a 200k-token model (CrewAI reserves 15%); CrewAI's small default would make it
        swap ordinary tool results for file references."""
        return 170_000

    def get_input_tokens_count(
        self,
        messages: str | list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        response_model: type[BaseModel] | None = None,
    ) -> int:
        """The simulated model's own count: what it would bill for this request (see `reply_usage`)."""
        output = response_model.__name__ if response_model else self.output_model
        call = model_call(messages, tools or [], output, self.sim.seed)
        return estimate_tokens(call.system_prompt, call.messages, call.tool_specs)

    def call(
        self,
        messages: str | list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: type[BaseModel] | None = None,
    ) -> str | list[dict[str, Any]] | BaseModel:
        if self.sim.latency_ms:
            time.sleep(self.sim.latency_ms / 1000)
        output = response_model.__name__ if response_model else self.output_model
        call = model_call(messages, tools or [], output, self.sim.seed)
        reply = self.policy.reply(call)
        usage = reply_usage(reply, call)
        self._track_token_usage_internal(
            {"prompt_tokens": usage["inputTokens"], "completion_tokens": usage["outputTokens"]}
        )
        return render(reply, call, output, response_model)


def model_call(messages: str | list[dict[str, Any]], tools: list[dict[str, Any]], output: str | None, seed: int):
    """CrewAI's messages and tool schemas as the `ModelCall` a policy reads: the task text without CrewAI's
    framing, tool calls and results as Converse blocks, the structured answer as an output tool."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    system, converse = "", []
    for message in messages:
        role, content = message["role"], message.get("content") or ""
        if role == "system":
            system = content
        elif role == "user":
            converse.append({"role": "user", "content": [{"text": task_text(content)}]})
        elif role == "assistant":
            blocks: list[dict[str, Any]] = [{"text": content}] if content else []
            for use in message.get("tool_calls") or []:
                function = use["function"]
                blocks.append(
                    {
                        "toolUse": {
                            "toolUseId": use["id"],
                            "name": function["name"],
                            "input": json.loads(function.get("arguments") or "{}"),
                        }
                    }
                )
            converse.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            status = "error" if content.startswith(TOOL_ERROR_PREFIX) else "success"
            result = {"toolUseId": message["tool_call_id"], "content": [{"text": content}], "status": status}
            converse.append({"role": "user", "content": [{"toolResult": result}]})
    specs = [
        {
            "name": t["function"]["name"],
            "description": t["function"].get("description", ""),
            "inputSchema": {"json": t["function"].get("parameters", {})},
        }
        for t in tools
    ]
    if output:
        specs.append({"name": output, "description": STRUCTURED_OUTPUT_MARK, "inputSchema": {}})
    return ModelCall(system, converse, specs, seed)


@cache
def task_framings() -> list[tuple[str, str]]:
    """What CrewAI writes before and after a task's text, from its own prompt templates: the agent's task
    message with and without tools, and a Task's expected-output criteria."""
    i18n = get_i18n()
    framings = [tuple(i18n.slice(name).split("{input}")) for name in ("native_task", "task_no_tools")]
    criteria = i18n.slice("expected_output").split("{expected_output}")[0]
    return [("\nCurrent Task: ", criteria), *sorted(framings, key=lambda f: -len(f[1]))]  # type: ignore[list-item]


def task_text(content: str) -> str:
    """The task as written, from CrewAI's task message, so a policy reads what strands would have sent."""
    for before, after in task_framings():
        if not content.startswith(before):
            continue
        text = content[len(before) :]
        if not after:
            return text
        if after in text:
            return text[: text.index(after)].rstrip("\n")
    return content


def render(
    reply: Reply, call: ModelCall, output: str | None, response_model: type[BaseModel] | None
) -> str | list[dict[str, Any]] | BaseModel:
    """A reply as CrewAI expects it: the structured answer (validated, or JSON text for CrewAI to convert),
    OpenAI-shaped tool calls, or the final text."""
    answer = next((tool_input for name, tool_input in reply.tool_calls if name == output), None)
    if answer is not None:
        return response_model.model_validate(answer) if response_model else json.dumps(answer)
    if reply.tool_calls:
        turn = len(call.messages)
        return [
            {"id": f"call_{turn}_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for n, (name, args) in enumerate(reply.tool_calls)
        ]
    return reply.text

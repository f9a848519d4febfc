"""A strands `Model` that plays a role offline.

It speaks the provider protocol for real: it receives the agent's messages, tool specs and system
prompt, and streams Bedrock-shaped events (text, tool uses, stop reason, token usage). What it says
comes from a `Policy`, a deterministic function of what the model was shown and the run seed.
Everything around it (the agent loop, tool execution, structured output) is the SDK's own.

Two knobs exercise the error paths: `throttle_rate` makes a call fail with strands' ModelThrottledException
(retried by the run's retry strategy), and `malformed_rate` corrupts a structured output so that it fails
validation (sent back to the model with the error, a bounded number of times: agents.output_guard).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from strands.models import Model
from strands.types.content import Messages
from strands.types.exceptions import ModelThrottledException
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from agents.messages import tool_exchanges
from agents.strands_runtime import NormalizedSpec
from store.records import ToolTraceEntry

T = TypeVar("T", bound=BaseModel)

STRUCTURED_OUTPUT_MARK = "This StructuredOutputTool should only be invoked"


class SimSettings(BaseModel):
    """Knobs of the simulated models (CLI: --sim-*)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    defect_rate: float = Field(0.3, ge=0, le=1)
    latency_ms: int = Field(0, ge=0)
    malformed_rate: float = Field(0, ge=0, le=1)  # share of structured outputs that fail validation
    throttle_rate: float = Field(0, ge=0, le=1)  # share of model calls that are throttled


@dataclass
class ModelCall:
    """Everything the simulated model is shown on one call."""

    system_prompt: str
    messages: Messages
    tool_specs: list[ToolSpec]
    seed: int

    @property
    def structured_output_tool(self) -> str | None:
        """The name of the structured-output tool the agent offers, if any."""
        return next((s["name"] for s in self.tool_specs if STRUCTURED_OUTPUT_MARK in s.get("description", "")), None)

    @property
    def prompt(self) -> str:
        """The text of the first user message: the request that started this conversation."""
        for message in self.messages:
            if message["role"] == "user":
                return "".join(block.get("text", "") for block in message["content"])
        return ""

    def exchanges(self) -> list[ToolTraceEntry]:
        """Tool calls made so far in this conversation, with their results (structured output excluded)."""
        return tool_exchanges(self.messages, skip={self.structured_output_tool or ""})

    def rng(self, salt: str, about: str | None = None) -> random.Random:
        """Randomness that depends only on the seed, the request (or `about`) and `salt`: stable under
        concurrency."""
        digest = hashlib.sha256(f"{self.seed}\x00{salt}\x00{self.prompt if about is None else about}".encode())
        digest = digest.hexdigest()
        return random.Random(int(digest[:16], 16))


@dataclass
class Reply:
    """What the model says: text, tool calls (name, input), or both."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class Policy(Protocol):
    """A role's behaviour: what to say given what the model was shown."""

    def reply(self, call: ModelCall) -> Reply: ...


class SimulatedModel(Model):
    """A strands model provider whose replies come from `policy`."""

    def __init__(self, policy: Policy, settings: SimSettings | None = None, **config: Any):
        self.policy = policy
        self.settings = settings or SimSettings()
        self.config: dict[str, Any] = {"model_id": "simulated", **config}
        self.calls = 0  # model calls made through this instance (one instance per agent): salts the throttle draw

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        if self.settings.latency_ms:
            await asyncio.sleep(self.settings.latency_ms / 1000)
        call = ModelCall(system_prompt or "", messages, list(tool_specs or []), self.settings.seed)
        self.calls += 1
        # strands retries a throttled call with the very same messages: the call count tells the retry apart
        if throttled(call, self.settings.throttle_rate, self.calls):
            raise ModelThrottledException("simulated throttling")
        reply = malformed(self.policy.reply(call), call, self.settings.malformed_rate)
        for event in _render(reply, call):
            yield event

    async def structured_output(
        self, output_model: type[T], prompt: Messages, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        spec = {"name": output_model.__name__, "description": STRUCTURED_OUTPUT_MARK, "inputSchema": {}}
        call = ModelCall(system_prompt or "", prompt, [spec], self.settings.seed)
        reply = malformed(self.policy.reply(call), call, self.settings.malformed_rate)  # fails validation below
        payload = next((inp for name, inp in reply.tool_calls if name == output_model.__name__), None)
        if payload is None:
            raise ValueError(f"simulated model produced no {output_model.__name__}")
        yield {"output": output_model.model_validate(payload)}


def throttled(call: ModelCall, rate: float, count: int) -> bool:
    """Whether the `count`-th call of a model instance is throttled: with probability `rate`, deterministic
    for a seed."""
    return bool(rate) and call.rng(f"throttle\x00{count}").random() < rate


def malformed(reply: Reply, call: ModelCall, rate: float) -> Reply:
    """`reply`, or with probability `rate` (when it calls the structured-output tool) a copy whose structured
    output fails validation: the value of its first top-level key gets the wrong JSON type (a string becomes
    a list of it, anything else "n/a"). The draw depends on the conversation's length, so the answer to the
    validation error fed back is drawn afresh."""
    tool = call.structured_output_tool
    if not rate or tool is None or not any(name == tool and inp for name, inp in reply.tool_calls):
        return reply
    if call.rng(f"malformed\x00{len(call.messages)}").random() >= rate:
        return reply
    calls, done = [], False
    for name, tool_input in reply.tool_calls:
        if name == tool and tool_input and not done:
            key, value = next(iter(tool_input.items()))
            tool_input = {**tool_input, key: [value] if isinstance(value, str) else "n/a"}
            done = True
        calls.append((name, tool_input))
    return Reply(text=reply.text, tool_calls=calls)


def reply_message(reply: Reply, call: ModelCall) -> tuple[list[dict[str, Any]], str]:
    """A reply as Converse content blocks (text, then tool uses) and its stop reason."""
    blocks: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
    turn = len(call.messages)
    for n, (name, tool_input) in enumerate(reply.tool_calls):
        blocks.append({"toolUse": {"toolUseId": f"tooluse_{turn}_{n}", "name": name, "input": tool_input}})
    return blocks, "tool_use" if reply.tool_calls else "end_turn"


def reply_usage(reply: Reply, call: ModelCall) -> dict[str, int]:
    """Token counts for a call, estimated as providers' own estimators do (about four characters a token)."""
    input_tokens = estimate_tokens(call.system_prompt, call.messages, call.tool_specs)
    output_tokens = math.ceil((len(reply.text) + len(json.dumps(reply.tool_calls))) / 4)
    return {"inputTokens": input_tokens, "outputTokens": output_tokens, "totalTokens": input_tokens + output_tokens}


def _render(reply: Reply, call: ModelCall) -> list[StreamEvent]:
    """Bedrock ConverseStream-shaped events for one reply, ending with usage metadata."""
    blocks, stop_reason = reply_message(reply, call)
    events: list[StreamEvent] = [{"messageStart": {"role": "assistant"}}]
    for index, block in enumerate(blocks):
        if "text" in block:
            start: dict[str, Any] = {}
            delta: dict[str, Any] = {"text": block["text"]}
        else:
            use = block["toolUse"]
            start = {"toolUse": {"name": use["name"], "toolUseId": use["toolUseId"]}}
            delta = {"toolUse": {"input": json.dumps(use["input"])}}
        events += [
            {"contentBlockStart": {"start": start, "contentBlockIndex": index}},  # type: ignore[typeddict-item]
            {"contentBlockDelta": {"delta": delta, "contentBlockIndex": index}},  # type: ignore[typeddict-item]
            {"contentBlockStop": {"contentBlockIndex": index}},
        ]
    events.append({"messageStop": {"stopReason": stop_reason}})  # type: ignore[typeddict-item]
    events.append({"metadata": {"usage": reply_usage(reply, call), "metrics": {"latencyMs": 0}}})  # type: ignore
    return events


def estimate_tokens(system_prompt: str, messages: Messages, tool_specs: list[ToolSpec]) -> int:
    """About four characters a token, as providers' own estimators do: of the system prompt, and the messages and
    tool specs as JSON."""
    size = len(system_prompt) + len(json.dumps(messages, default=str)) + specs_json_size(tool_specs)
    return math.ceil(size / 4)


def specs_json_size(tool_specs: list[ToolSpec]) -> int:
    """`len(json.dumps(tool_specs, default=str))`: each spec's own JSON, in brackets and separated by ", ". A spec
    the strands runtime shares between calls (`NormalizedSpec`: never changed) is measured once."""
    sizes = (s.json_size if isinstance(s, NormalizedSpec) else len(json.dumps(s, default=str)) for s in tool_specs)
    return 2 * max(1, len(tool_specs)) + sum(sizes)

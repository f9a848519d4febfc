"""Structured output that survives real OpenAI-compatible servers (llama.cpp, vLLM, Ollama, LM Studio).

strands asks for a structured answer by offering the output model as a tool and, if the model does not call it,
by forcing that tool (a named `tool_choice`). Real servers and small models break both: llama.cpp rejects a named
`tool_choice`, and small models often write a tool call as text (a fenced JSON block, Hermes `<tool_call>` tags,
or a bare JSON object) so the server returns no `tool_calls`. `TolerantOpenAIModel` uses the strongest mechanism
the endpoint supports and falls back in order:

1. `tool_call`: a native tool call (forced by name when strands forces one);
2. `response_format`: when the endpoint refuses a named `tool_choice`, or the model answers a forced call with
   prose, the call is asked for again with `response_format` and the output model's JSON schema (servers enforce
   it, llama.cpp by a grammar), and the JSON reply becomes the tool call;
3. `text_parse`: a reply that writes tool calls as text is read leniently (Hermes tags, fenced JSON, one JSON
   object among prose) into tool calls of the tools that were offered; strands then validates them as usual.

Which mechanism answered is counted per model (`ModelStats.structured_output`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, Callable
from typing import Any

from strands.models.openai import OpenAIModel

_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)\n\s*```", re.S)


def forced_tool(tool_choice: Any) -> str | None:
    """The tool name a `{"tool": {"name": ...}}` choice forces, else None."""
    if isinstance(tool_choice, dict) and isinstance(tool_choice.get("tool"), dict):
        return tool_choice["tool"].get("name")
    return None


def json_objects(text: str) -> list[Any]:
    """The JSON values a reply holds: inside `<tool_call>` tags, in fenced blocks, else every top-level object."""
    found = [*_HERMES.findall(text), *_FENCED.findall(text)]
    values = []
    for chunk in found:
        try:
            values.append(json.loads(chunk))
        except ValueError:
            continue
    if values:
        return values
    decoder, index = json.JSONDecoder(), 0
    while (start := text.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        values.append(value)
        index = end
    return values


def calls_in_text(text: str, specs: list[dict[str, Any]], forced: str | None = None) -> list[tuple[str, dict]]:
    """Tool calls written as text: `{"name", "arguments"}` objects naming an offered tool, or (when one tool is
    forced, or only one offered tool's required fields fit) a bare object as that tool's input."""
    names = {spec["name"]: spec for spec in specs}
    calls = []
    for value in json_objects(text):
        if not isinstance(value, dict):
            continue
        name = value.get("name") or value.get("function")
        arguments = value.get("arguments", value.get("parameters"))
        if isinstance(name, str) and name in names and isinstance(arguments, dict | str):
            calls.append((name, json.loads(arguments) if isinstance(arguments, str) else arguments))
            continue
        fits = [forced] if forced in names else [n for n, spec in names.items() if _fits(value, spec)]
        if len(fits) == 1:
            calls.append((fits[0], value))
    return calls


def _fits(value: dict, spec: dict[str, Any]) -> bool:
    schema = spec.get("inputSchema", {}).get("json", {})
    required, known = set(schema.get("required", [])), set(schema.get("properties", {}))
    return bool(required) and required <= value.keys() <= known


def as_tool_calls(events: list[dict[str, Any]], calls: list[tuple[str, dict]]) -> list[dict[str, Any]]:
    """The reply's events with its text replaced by the tool calls read from it (usage kept)."""
    out: list[dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    for name, arguments in calls:
        use_id = f"tooluse_{uuid.uuid4().hex[:12]}"
        out += [
            {"contentBlockStart": {"start": {"toolUse": {"name": name, "toolUseId": use_id}}}},
            {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(arguments)}}}},
            {"contentBlockStop": {}},
        ]
    out.append({"messageStop": {"stopReason": "tool_use"}})
    return out + [event for event in events if "metadata" in event]


def reply_text(events: list[dict[str, Any]]) -> str | None:
    """The reply's text when it made no tool call, else None."""
    if any("toolUse" in e.get("contentBlockStart", {}).get("start", {}) for e in events):
        return None
    return "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e)


class TolerantOpenAIModel(OpenAIModel):
    """strands' OpenAIModel with the fallbacks above. `on_mechanism(name)` is told which one answered each call."""

    def __init__(self, *args: Any, on_mechanism: Callable[[str], None] = lambda name: None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.on_mechanism = on_mechanism
        self.named_choice = True  # until the endpoint refuses a named tool_choice

    async def stream(
        self, messages: Any, tool_specs: Any = None, system_prompt: str | None = None, *, tool_choice: Any = None,
        **kwargs: Any,
    ) -> AsyncGenerator[Any, None]:  # fmt: skip
        forced = forced_tool(tool_choice)
        events = None
        if not forced or self.named_choice:
            try:
                events = await self._events(messages, tool_specs, system_prompt, tool_choice, **kwargs)
            except Exception as exc:
                if not forced or "tool_choice" not in str(exc):
                    raise
                self.named_choice = False  # the endpoint refuses a named tool_choice: ask with the schema instead
        if events is not None:
            text = reply_text(events)
            calls = calls_in_text(text, tool_specs or [], forced) if text and tool_specs else []
            if text is None or calls or not forced:
                self.on_mechanism("text_parse" if calls else "tool_call" if text is None else "text")
                for event in as_tool_calls(events, calls) if calls else events:
                    yield event
                return
        # a forced structured output the model did not give (or could not be asked for by name): the schema
        spec = next(s for s in tool_specs or [] if s["name"] == forced)
        events = await self._schema_events(messages, spec, system_prompt)
        calls = calls_in_text(reply_text(events) or "", [spec], forced)
        self.on_mechanism("response_format" if calls else "text")
        for event in as_tool_calls(events, calls[:1]) if calls else events:
            yield event

    async def _events(self, messages: Any, tool_specs: Any, system_prompt: Any, tool_choice: Any, **kwargs: Any):
        return [e async for e in super().stream(messages, tool_specs, system_prompt, tool_choice=tool_choice, **kwargs)]

    async def _schema_events(self, messages: Any, spec: dict[str, Any], system_prompt: str | None) -> list[Any]:
        """One call with no tools and `response_format` set to the tool's JSON schema."""
        import openai
        from strands.types.exceptions import ModelThrottledException

        request = self.format_request(messages, None, system_prompt, None)
        request.pop("tools", None)
        request.pop("tool_choice", None)
        request["stream"] = False
        schema = spec["inputSchema"]["json"]
        request["response_format"] = {"type": "json_schema", "json_schema": {"name": spec["name"], "schema": schema}}
        async with self._get_client() as client:
            try:
                response = await client.chat.completions.create(**request)
            except openai.RateLimitError as error:
                raise ModelThrottledException(str(error)) from error
        return self._format_non_streaming_response(response)

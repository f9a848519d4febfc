"""Reading what happened out of a strands conversation: tool exchanges and token usage."""

from __future__ import annotations

import json
from typing import Any

from strands.types.content import Messages
from strands.types.tools import ToolResult, ToolUse

from store.records import TokenUsage, ToolTraceEntry


def tool_exchanges(messages: Messages, skip: set[str] | frozenset[str] = frozenset()) -> list[ToolTraceEntry]:
    """Every tool call in `messages` paired with its result, in order; tools named in `skip` are left out."""
    uses: dict[str, dict[str, Any]] = {}
    trace = []
    for message in messages:
        for block in message["content"]:
            if "toolUse" in block:
                uses[block["toolUse"]["toolUseId"]] = block["toolUse"]
            elif "toolResult" in block:
                result = block["toolResult"]
                use = uses.get(result["toolUseId"])
                if use is None or use["name"] in skip:
                    continue
                trace.append(trace_entry(use, result))
    return trace


def trace_entry(use: ToolUse, result: ToolResult) -> ToolTraceEntry:
    """One executed tool call as a trace entry: its name and input, its result as text, and its status."""
    return ToolTraceEntry(
        name=use["name"],
        input=use.get("input") or {},
        output=result_text(result),
        status="error" if result.get("status") == "error" else "success",
    )


def result_text(result: ToolResult) -> str:
    """A tool result's content as the text the model reads."""
    return "".join(
        item["text"] if "text" in item else json.dumps(item.get("json"), sort_keys=True) for item in result["content"]
    )


def usage_of(source: Any) -> TokenUsage:
    """Token usage from the provider's usage metadata: of one agent invocation (its result), or all an agent
    has used so far (the agent, e.g. after an invocation failed)."""
    metrics = getattr(source, "metrics", None) or source.event_loop_metrics
    usage = metrics.accumulated_usage
    return TokenUsage(
        input=usage.get("inputTokens", 0),
        output=usage.get("outputTokens", 0),
        cache_read=usage.get("cacheReadInputTokens", 0),
        cache_write=usage.get("cacheWriteInputTokens", 0),
    )

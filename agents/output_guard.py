"""Bounds on an invocation: malformed structured output, and tool calls.

strands validates a structured output (a critic verdict, a finding, a request) in its structured-output
tool; when pydantic rejects it, the tool's error result ("Validation failed for X. Please fix the following
errors: ...") goes back to the model, which tries again, with no limit. `OutputGuard` counts those failed
attempts per invocation and stops the agent with `MalformedOutput` once they exceed the limit.

It raises from a BeforeModelCallEvent hook: strands turns an exception there into an AfterModelCallEvent
with the exception (our retry strategy does not retry it, it is not transient) and re-raises it. It subclasses
strands' StructuredOutputException because that is one of the exceptions the event loop lets through
unwrapped from a nested cycle (any other exception arrives as an EventLoopException), and the failed
attempts always happen in a nested cycle: after the structured-output tool ran.
"""

from __future__ import annotations

from typing import Any

from strands.hooks import (
    AfterToolCallEvent,
    BeforeInvocationEvent,
    BeforeModelCallEvent,
    BeforeToolCallEvent,
    HookRegistry,
)
from strands.tools.structured_output.structured_output_tool import StructuredOutputTool
from strands.types.exceptions import StructuredOutputException


class MalformedOutput(StructuredOutputException):
    """The model kept answering with structured output that does not validate."""

    def __init__(self, output_model: str, attempts: int, last_error: str):
        self.output_model = output_model
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(
            f"{output_model}: structured output failed validation {attempts} times; last error: {last_error}"
        )


class OutputGuard:
    """strands hook provider: at most `limit` validation errors of the structured output are sent back to the
    model (per invocation); on the next failure the agent stops with `MalformedOutput`."""

    def __init__(self, limit: int):
        self.limit = limit
        self.failures = 0
        self.output_model = ""
        self.last_error = ""

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeInvocationEvent, self._reset)
        registry.add_callback(AfterToolCallEvent, self._after_tool)
        registry.add_callback(BeforeModelCallEvent, self._before_model)

    def _reset(self, event: BeforeInvocationEvent) -> None:
        self.failures = 0
        self.output_model = self.last_error = ""

    def _after_tool(self, event: AfterToolCallEvent) -> None:
        name = event.tool_use.get("name", "")
        if event.result.get("status") != "error" or not _is_structured_output(event, name):
            return
        self.failures += 1
        self.output_model = name
        self.last_error = _error_line(event.result)

    def _before_model(self, event: BeforeModelCallEvent) -> None:
        if self.failures > self.limit:
            raise MalformedOutput(self.output_model, self.failures, self.last_error)


def _is_structured_output(event: AfterToolCallEvent, name: str) -> bool:
    """The selected tool is strands' structured-output tool, or `name` is the output model it registered."""
    if isinstance(event.selected_tool, StructuredOutputTool):
        return True
    registered = event.agent.tool_registry.dynamic_tools.get(name)
    return isinstance(registered, StructuredOutputTool)


def _error_line(result: Any) -> str:
    """The first validation error of a tool's error result, on one line.

    strands writes "Validation failed for X. Please fix the following errors:" then one "- Field ..." line per
    error; the first of those says what was wrong. Any other error text: its first line.
    """
    text = "".join(item.get("text", "") for item in result.get("content", []))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = next((line.removeprefix("- ") for line in lines if line.startswith("- ")), None)
    return detail or (lines[0] if lines else "no error text")


class ToolBudget:
    """strands hook provider: at most `limit` tool calls per invocation (the structured output not counted).
    A call beyond it is not run: its result asks the model to give its answer with what it has, so a model that
    keeps calling tools still ends with an answer the critic can judge."""

    def __init__(self, limit: int):
        self.limit = limit
        self.calls = 0

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeInvocationEvent, self._reset)
        registry.add_callback(BeforeToolCallEvent, self._before_tool)

    def _reset(self, event: BeforeInvocationEvent) -> None:
        self.calls = 0

    def _before_tool(self, event: BeforeToolCallEvent) -> None:
        if isinstance(event.selected_tool, StructuredOutputTool):
            return
        self.calls += 1
        if self.calls > self.limit:
            event.cancel_tool = (
                f"tool budget reached ({self.limit} calls): no more tool calls; give your final answer now, "
                "from the results you already have"
            )

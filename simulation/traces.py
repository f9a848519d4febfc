"""Seed cases from OpenTelemetry traces of a strands agent: one case per agent invocation (`cases from-traces`).

A trace file holds the spans strands writes (strands/telemetry/tracer.py): `invoke_agent <name>` per invocation,
under it `execute_event_loop_cycle`, `chat` (one per model call) and `execute_tool <name>` (one per tool call).
The invocation span carries only the messages of this invocation's prompt; the history before it is on the
invocation's first `chat` span, which carries every message sent to the model. Messages are recorded in one of
two ways, chosen by OTEL_SEMCONV_STABILITY_OPT_IN when the agent ran:

- default (semantic conventions v1.36): one event per message, `gen_ai.user.message`, `gen_ai.assistant.message`,
  `gen_ai.tool.message` (a tool result), each with `content`: the message's content blocks as JSON; a tool span's
  input is the `content` of its `gen_ai.tool.message` event;
- `gen_ai_latest_experimental`: a `gen_ai.client.inference.operation.details` event (or, with
  `gen_ai_span_attributes_only`, the span itself) with `gen_ai.input.messages`: JSON `[{role, parts}]`, text
  parts `{"type": "text", "content": ...}`; a tool span's input is its `gen_ai.tool.call.arguments` attribute.

A file is either (a) JSON Lines of spans as the OpenTelemetry Python SDK writes them (`ReadableSpan.to_json()`, one
a line) or (b) OTLP/JSON as a collector's file exporter writes it (one export request a line, `resourceSpans`);
its first line decides. The whole file is validated first: a bad line is `file:line: field: problem`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from config import InputError
from config.yamlfile import dotted_path
from simulation.seeds import SeedLine, SeedTurn
from store.records import ToolCall

REDACTED = "[REDACTED]"  # what strands writes for content its redaction policy (gen_ai_unredacted_attributes) hides
INPUT_MESSAGES = "gen_ai.input.messages"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
MESSAGE_EVENTS = {"gen_ai.user.message": "user", "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "user"}


# ---- the output line: a seed line of `generate --cases` (simulation/seeds.py)


class CaseSource(BaseModel):
    """Where a case comes from: the invocation span."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str
    span_id: str
    agent: str | None = None
    start_time: str


def line_of(case: SeedLine) -> str:
    """A seed line as one JSON line, its empty optional fields left out."""
    return case.model_dump_json(exclude_defaults=True)


# ---- ids


def _hex_id(size: int, value: str, base64_ok: bool) -> str:
    """An id of `size` bytes as lowercase hex: given as hex (optionally 0x-prefixed) or, where `base64_ok`, as
    protobuf's JSON mapping writes bytes (base64)."""
    text = value.removeprefix("0x")
    if len(text) == 2 * size:
        try:
            return bytes.fromhex(text).hex()
        except ValueError:
            pass
    elif base64_ok and len(value) == 4 * ((size + 2) // 3):
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) == size:
            return raw.hex()
    kind = "trace id" if size == 16 else "span id"
    raise ValueError(f"not a {kind} ({2 * size} hex digits{', or base64' if base64_ok else ''})")


SdkTraceId = Annotated[str, AfterValidator(lambda v: _hex_id(16, v, False))]
SdkSpanId = Annotated[str, AfterValidator(lambda v: _hex_id(8, v, False))]
OtlpTraceId = Annotated[str, AfterValidator(lambda v: _hex_id(16, v, True))]
OtlpSpanId = Annotated[str, AfterValidator(lambda v: _hex_id(8, v, True))]


# ---- format (a): the Python SDK's ReadableSpan.to_json()


class SdkContext(BaseModel):
    trace_id: SdkTraceId
    span_id: SdkSpanId


class SdkEvent(BaseModel):
    name: str
    attributes: dict[str, Any] | None = None


class SdkSpan(BaseModel):
    """A span as `ReadableSpan.to_json()` writes it (kind, status, links, resource are not read)."""

    name: str
    context: SdkContext
    parent_id: SdkSpanId | None = None
    start_time: datetime
    attributes: dict[str, Any] | None = None
    events: list[SdkEvent] = []


# ---- format (b): OTLP/JSON


class OtlpValue(BaseModel):
    """An OTLP AnyValue: exactly one of its fields is set."""

    stringValue: str | None = None
    boolValue: bool | None = None
    intValue: int | None = None
    doubleValue: float | None = None
    bytesValue: str | None = None
    arrayValue: OtlpArray | None = None
    kvlistValue: OtlpKvList | None = None

    def plain(self) -> Any:
        """The value as Python: a string, number, bool, list or dict."""
        if self.arrayValue is not None:
            return [value.plain() for value in self.arrayValue.values]
        if self.kvlistValue is not None:
            return {pair.key: pair.value.plain() for pair in self.kvlistValue.values}
        for value in (self.stringValue, self.boolValue, self.intValue, self.doubleValue, self.bytesValue):
            if value is not None:
                return value
        return None


class OtlpKeyValue(BaseModel):
    key: str
    value: OtlpValue = Field(default_factory=OtlpValue)


class OtlpArray(BaseModel):
    values: list[OtlpValue] = []


class OtlpKvList(BaseModel):
    values: list[OtlpKeyValue] = []


OtlpValue.model_rebuild()  # it refers to the two classes above


class OtlpEvent(BaseModel):
    name: str = ""
    attributes: list[OtlpKeyValue] = []


class OtlpSpan(BaseModel):
    """A span in OTLP/JSON (ids hex as the spec says, or base64 as protobuf's own JSON mapping writes them)."""

    traceId: OtlpTraceId
    spanId: OtlpSpanId
    parentSpanId: str = ""
    name: str
    startTimeUnixNano: int
    attributes: list[OtlpKeyValue] = []
    events: list[OtlpEvent] = []


class OtlpScopeSpans(BaseModel):
    spans: list[OtlpSpan] = []


class OtlpResourceSpans(BaseModel):
    scopeSpans: list[OtlpScopeSpans] = []


class OtlpLine(BaseModel):
    """One line of a collector's file exporter: an export request."""

    resourceSpans: list[OtlpResourceSpans]


# ---- the spans, one shape for both formats


@dataclass
class Span:
    """A span as both formats give it; `where` is `file:line`, `field` the span's path within the line."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start: datetime
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    where: str
    field: str = ""

    @property
    def operation(self) -> str:
        """`invoke_agent`, `chat`, `execute_tool`, ...: gen_ai.operation.name, else the span name's first word."""
        return str(self.attributes.get("gen_ai.operation.name") or self.name.split(" ", 1)[0])

    @property
    def key(self) -> tuple[str, str]:
        return self.trace_id, self.span_id


def _sdk_spans(line: SdkSpan, where: str) -> list[Span]:
    events = [(event.name, event.attributes or {}) for event in line.events]
    return [
        Span(
            trace_id=line.context.trace_id,
            span_id=line.context.span_id,
            parent_id=line.parent_id,
            name=line.name,
            start=line.start_time.astimezone(UTC),
            attributes=line.attributes or {},
            events=events,
            where=where,
        )
    ]


def _otlp_spans(line: OtlpLine, where: str) -> list[Span]:
    spans = []
    for r, resource in enumerate(line.resourceSpans):
        for s, scope in enumerate(resource.scopeSpans):
            for n, span in enumerate(scope.spans):
                parent = _hex_id(8, span.parentSpanId, True) if span.parentSpanId.strip("0") else None
                spans.append(
                    Span(
                        trace_id=span.traceId,
                        span_id=span.spanId,
                        parent_id=parent,
                        name=span.name,
                        # as the SDK's own ns_to_iso_str does, so both formats give a span the same start_time
                        start=datetime.fromtimestamp(span.startTimeUnixNano / 1e9, tz=UTC),
                        attributes={pair.key: pair.value.plain() for pair in span.attributes},
                        events=[(e.name, {p.key: p.value.plain() for p in e.attributes}) for e in span.events],
                        where=where,
                        field=f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}].",
                    )
                )
    return spans


FORMATS: dict[str, tuple[type[BaseModel], str]] = {
    "sdk": (SdkSpan, "an OpenTelemetry SDK span (name, context)"),
    "otlp": (OtlpLine, "OTLP/JSON (resourceSpans)"),
}


def _format_of(obj: dict[str, Any]) -> str | None:
    if "resourceSpans" in obj:
        return "otlp"
    if "context" in obj and "name" in obj:
        return "sdk"
    return None


def read_spans(path: Path) -> list[Span]:
    """Every span of a trace file, validated; InputError with `file:line: field: problem` for each bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    kind: str | None = None
    spans: list[Span] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            pretty = line.strip() in ("{", "[")
            hint = "; one span (or one OTLP/JSON export) a line is expected, not indented JSON" if pretty else ""
            problems.append(f"{where}: (line): not JSON: {exc.msg} (column {exc.colno}){hint}")
            continue
        found = _format_of(obj) if isinstance(obj, dict) else None
        if kind is None:
            if found is None:
                wanted = " nor ".join(description for _, description in FORMATS.values())
                raise InputError(problems + [f"{where}: (line): neither {wanted}"])
            kind = found
        elif found is not None and found != kind:
            problems.append(f"{where}: (line): {FORMATS[found][1]} in a file of {FORMATS[kind][1]}; one format a file")
            continue
        model = FORMATS[kind][0]
        try:
            parsed = model.model_validate(obj)
        except ValidationError as exc:
            for error in exc.errors():
                problems.append(f"{where}: {dotted_path(error['loc']) or '(line)'}: {error['msg']}")
            continue
        spans += _sdk_spans(parsed, where) if isinstance(parsed, SdkSpan) else _otlp_spans(parsed, where)  # type: ignore[arg-type]
    if problems:
        raise InputError.capped(problems)
    if kind is None:
        raise InputError(f"{path}: no spans (the file is empty)")
    return spans


# ---- from an invocation's spans to a case


class _Bad(Exception):
    """A span whose content cannot be read: `where: field: problem`."""

    def __init__(self, span: Span, attr: str, problem: str):
        super().__init__(f"{span.where}: {span.field}{attr}: {problem}")


class _Redacted(Exception):
    """Content strands' redaction policy replaced with [REDACTED]."""


def _json(span: Span, attr: str, value: Any) -> Any:
    """A JSON-valued attribute, parsed (a value that is not a string is taken as it is)."""
    if not isinstance(value, str):
        return value
    if value == REDACTED:
        raise _Redacted
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise _Bad(span, attr, f"not JSON: {exc.msg} (column {exc.colno})") from None


@dataclass
class Message:
    """A message an agent was given: its role and the text of its text blocks."""

    role: str
    texts: list[str]

    @property
    def text(self) -> str:
        return "\n".join(t for t in self.texts if t.strip()).strip()


def _latest_messages(span: Span, attr: str, value: Any) -> list[Message]:
    messages = _json(span, attr, value)
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise _Bad(span, attr, "not a list of messages ({role, parts})")
    out = []
    for message in messages:
        parts = message.get("parts") if isinstance(message.get("parts"), list) else []
        texts = [p["content"] for p in parts if isinstance(p, dict) and p.get("type") == "text"]
        out.append(Message(str(message.get("role", "")), [t for t in texts if isinstance(t, str)]))
    return out


def messages_of(span: Span) -> list[Message] | None:
    """The messages a span records as sent (None: it records none), in either convention."""
    for i, (_, attributes) in enumerate(span.events):
        if INPUT_MESSAGES in attributes:
            return _latest_messages(span, f"events[{i}].attributes.{INPUT_MESSAGES}", attributes[INPUT_MESSAGES])
    if INPUT_MESSAGES in span.attributes:
        return _latest_messages(span, f"attributes.{INPUT_MESSAGES}", span.attributes[INPUT_MESSAGES])
    messages = []
    for i, (name, attributes) in enumerate(span.events):
        if name not in MESSAGE_EVENTS:
            continue
        attr = f"events[{i}].attributes.content"
        blocks = _json(span, attr, attributes.get("content", "[]"))
        if not isinstance(blocks, list):
            raise _Bad(span, attr, "not a list of content blocks")
        texts = [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]
        messages.append(Message(MESSAGE_EVENTS[name], texts))
    return messages or None


def _tool_input(span: Span) -> tuple[str, Any]:
    """Where a tool span records its input, and the input: gen_ai.tool.call.arguments (latest conventions) or
    the `content` of its gen_ai.tool.message event (v1.36)."""
    if TOOL_ARGUMENTS in span.attributes:
        attr = f"attributes.{TOOL_ARGUMENTS}"
        return attr, _json(span, attr, span.attributes[TOOL_ARGUMENTS])
    for i, (event, attributes) in enumerate(span.events):
        if event == "gen_ai.tool.message" and "content" in attributes:
            attr = f"events[{i}].attributes.content"
            return attr, _json(span, attr, attributes["content"])
    raise _Bad(span, f"attributes.{TOOL_ARGUMENTS}", "missing, and no gen_ai.tool.message event: no tool input")


def tool_used(span: Span) -> ToolCall:
    """The name and input of an `execute_tool` span."""
    name = span.attributes.get("gen_ai.tool.name")
    if not isinstance(name, str) or not name:
        raise _Bad(span, "attributes.gen_ai.tool.name", "missing: a tool span names its tool")
    attr, tool_input = _tool_input(span)
    if not isinstance(tool_input, dict):
        raise _Bad(span, attr, "the tool input is not a JSON object")
    return ToolCall(name=name, input=tool_input)


def _turns(messages: list[Message]) -> list[SeedTurn]:
    """The text turns of `messages` before a request: tool-only messages left out, a role's consecutive messages
    one turn; so they go user, assistant, ..., an assistant's opening (before any user turn) and a last user turn
    the agent never answered are left out too."""
    turns: list[SeedTurn] = []
    for message in messages:
        if message.role not in ("user", "assistant") or not message.text:
            continue
        if turns and turns[-1].role == message.role:
            turns[-1].content += "\n\n" + message.text
        elif turns or message.role == "user":
            turns.append(SeedTurn(role=message.role, content=message.text))  # type: ignore[arg-type]
    return turns[:-1] if turns and turns[-1].role == "user" else turns


def _last_request(messages: list[Message], request: str) -> int | None:
    """The index of the last user message whose text is `request`."""
    found = [i for i, m in enumerate(messages) if m.role == "user" and m.text == request]
    return found[-1] if found else None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class Extraction:
    """What a trace file gave: the cases, how many invocations it holds and why the others were skipped."""

    path: Path
    invocations: int
    cases: list[SeedLine] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def __iter__(self) -> Iterator[SeedLine]:
        return iter(self.cases)

    def jsonl(self) -> str:
        """The cases file's content."""
        return "".join(line_of(case) + "\n" for case in self.cases)

    def summary(self) -> str:
        """`N invocations → N cases, M skipped (why)`."""
        why = ", ".join(f"{count} {reason}" for reason, count in self.skipped.most_common())
        skipped = sum(self.skipped.values())
        counts = f"{_count(self.invocations, 'invocation')} → {_count(len(self.cases), 'case')}, {skipped} skipped"
        line = f"{self.path}: {counts}"
        return line + (f" ({why})" if why else "")


def _case(invocation: Span, chats: list[Span], tools: list[Span]) -> SeedLine | str:
    """The case of one invocation, or why there is none."""
    try:
        prompt = messages_of(invocation) or []
        asked = [m for m in prompt if m.role == "user" and m.text]
        if not asked:
            return "no user text"
        request = asked[-1].text
        history = next((m for m in map(messages_of, sorted(chats, key=lambda s: s.start)) if m is not None), None)
        at = _last_request(history, request) if history is not None else None
        before = history[:at] if history is not None and at is not None else prompt[: _last_request(prompt, request)]
        used = [tool_used(span) for span in sorted(tools, key=lambda s: s.start)]
    except _Redacted:
        return "content redacted"
    agent = invocation.attributes.get("gen_ai.agent.name")
    source = CaseSource(
        trace_id=invocation.trace_id,
        span_id=invocation.span_id,
        agent=agent if isinstance(agent, str) and agent else None,
        start_time=invocation.start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    return SeedLine(
        id=f"{invocation.trace_id}:{invocation.span_id}",
        request=request,
        conversation=_turns(before),
        tools_used=used,
        source=source.model_dump(exclude_none=True),
    )


def extract(spans: list[Span], path: Path) -> Extraction:
    """One case per `invoke_agent` span, in start-time order; chat and tool spans count for the invocation they
    are nearest under (an agent called as a tool has its own)."""
    by_key: dict[tuple[str, str], Span] = {}
    for span in spans:
        by_key.setdefault(span.key, span)  # a span exported twice counts once

    def owner(span: Span) -> Span | None:
        seen: set[str] = set()
        parent = span.parent_id
        while parent is not None and parent not in seen:
            seen.add(parent)
            above = by_key.get((span.trace_id, parent))
            if above is None:
                return None
            if above.operation == "invoke_agent":
                return above
            parent = above.parent_id
        return None

    invocations = sorted((s for s in by_key.values() if s.operation == "invoke_agent"), key=lambda s: (s.start, s.key))
    if not invocations:
        raise InputError(f"{path}: no agent invocations (invoke_agent spans) among its {len(by_key)} spans")
    under: dict[tuple[str, str], dict[str, list[Span]]] = {s.key: {"chat": [], "execute_tool": []} for s in invocations}
    for span in by_key.values():
        if span.operation in ("chat", "execute_tool") and (found := owner(span)) is not None:
            under[found.key][span.operation].append(span)
    result = Extraction(path, len(invocations))
    problems = []
    for invocation in invocations:
        children = under[invocation.key]
        try:
            case = _case(invocation, children["chat"], children["execute_tool"])
        except _Bad as exc:
            problems.append(str(exc))
            continue
        if isinstance(case, str):
            result.skipped[case] += 1
        else:
            result.cases.append(case)
    if problems:
        raise InputError.capped(problems)
    return result


def extract_cases(path: Path) -> Extraction:
    """The seed cases of a trace file (format detected from its first line); InputError when any line is bad."""
    return extract(read_spans(path), path)

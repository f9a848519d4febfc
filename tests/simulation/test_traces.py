"""`cases from-traces`: seed cases from the spans a real strands Agent writes.

The agent runs on a scripted model (agents.simulated.model.SimulatedModel with a fixed script) whose tool calls go
through strands' own tool execution; its spans are exactly what strands' tracer writes, caught by an in-memory
exporter on a TracerProvider of our own, in both of strands' message conventions.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import strands.telemetry.tracer as strands_tracer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from strands import Agent, tool

from agents.simulated.model import ModelCall, Reply, SimulatedModel
from store.dataset import Dataset
from store.files import TEMP_PREFIX

LEGACY = ""  # strands' default: semantic conventions v1.36, one gen_ai.<role>.message event per message
LATEST = "gen_ai_latest_experimental"  # gen_ai.input.messages, gen_ai.tool.call.arguments

ORDERS = {"A1": "shipped with dhl as parcel P-9", "B2": "not shipped yet"}
PARCELS = {"P-9": "in Leipzig"}
FIRST, SECOND = "Where is my order A1?", "And order B2?"


@dataclass
class Plan:
    """What the model does for a request: these tool calls, one per model call, then this answer."""

    calls: list[tuple[str, dict[str, Any]]]
    answer: str
    preface: str = ""  # said along with the first tool call


PLANS = {
    FIRST: Plan(
        calls=[("lookup_order", {"order_id": "A1"}), ("track_parcel", {"carrier": "dhl", "parcel": "P-9"})],
        answer="A1 shipped with DHL (parcel P-9); it is in Leipzig.",
        preface="Let me look up A1.",
    ),
    SECOND: Plan(calls=[("lookup_order", {"order_id": "B2"})], answer="B2 has not shipped yet."),
}


def last_request(call: ModelCall) -> tuple[str, int]:
    """The last user text the model was sent, and how many tool results came after it."""
    for back, message in enumerate(reversed(call.messages)):
        texts = [b["text"] for b in message["content"] if "text" in b]
        if message["role"] == "user" and texts:
            later = call.messages[len(call.messages) - back :]
            return " ".join(texts), sum("toolResult" in b for m in later for b in m["content"])
    raise AssertionError("the model was sent no user text")


class Script:
    """The model's side: the plan of the request it was last asked, step by step."""

    def reply(self, call: ModelCall) -> Reply:
        request, results = last_request(call)
        plan = PLANS[request]
        if results < len(plan.calls):
            return Reply(text=plan.preface if results == 0 else "", tool_calls=[plan.calls[results]])
        return Reply(text=plan.answer)


@dataclass
class Shop:
    """An agent with two tools; `ran` is every tool call strands executed."""

    ran: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def agent(self) -> Agent:
        @tool
        def lookup_order(order_id: str) -> str:
            """Look up an order by its id."""
            self.ran.append(("lookup_order", {"order_id": order_id}))
            return ORDERS[order_id]

        @tool
        def track_parcel(carrier: str, parcel: str) -> str:
            """Where a parcel is."""
            self.ran.append(("track_parcel", {"carrier": carrier, "parcel": parcel}))
            return PARCELS[parcel]

        return Agent(
            model=SimulatedModel(Script()),
            tools=[lookup_order, track_parcel],
            name="shop",
            system_prompt="You help shoppers with their orders.",
            callback_handler=None,
        )


def record(monkeypatch: pytest.MonkeyPatch, opt_in: str) -> InMemorySpanExporter:
    """Send strands' spans to an in-memory exporter, under OTEL_SEMCONV_STABILITY_OPT_IN=`opt_in`.

    The global tracer provider is left alone: strands' tracer (a singleton) gets a TracerProvider of our own.
    OTEL_SDK_DISABLED stays set (the suite sets it): the SDK reads it once, when a provider is built, so only
    that moment runs without it."""
    assert os.environ.get("OTEL_SDK_DISABLED") == "true"
    with monkeypatch.context() as building:
        building.delenv("OTEL_SDK_DISABLED")
        provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", opt_in)
    tracer = strands_tracer.Tracer()
    tracer.tracer_provider = provider
    tracer.tracer = provider.get_tracer(tracer.service_name)
    monkeypatch.setattr(strands_tracer, "_tracer_instance", tracer)
    return exporter


def write_sdk_lines(spans: tuple[ReadableSpan, ...], path: Path) -> Path:
    """Format (a): one `ReadableSpan.to_json()` a line, in the order the spans ended (as an exporter sees them)."""
    path.write_text("".join(span.to_json(indent=None) + "\n" for span in spans))
    return path


def invocations(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == "invoke_agent shop"), key=lambda s: s.start_time or 0)


def read_cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(params=[LEGACY, LATEST], ids=["v1.36-events", "latest-conventions"])
def two_turns(request, monkeypatch, tmp_path) -> tuple[tuple[ReadableSpan, ...], Shop]:
    """The spans of one Agent asked twice (FIRST, then SECOND), and the shop whose tools it called."""
    exporter = record(monkeypatch, request.param)
    shop = Shop()
    agent = shop.agent()
    agent(FIRST)
    agent(SECOND)
    return exporter.get_finished_spans(), shop


def test_one_case_per_invocation_with_request_conversation_and_tools(two_turns, cli, tmp_path):
    spans, shop = two_turns
    assert shop.ran == PLANS[FIRST].calls + PLANS[SECOND].calls  # strands executed the tools
    traces = write_sdk_lines(spans, tmp_path / "traces.jsonl")
    out = tmp_path / "cases.jsonl"

    result = cli("cases", "from-traces", str(traces), "--out", str(out))

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{traces}: 2 invocations → 2 cases, 0 skipped; wrote {out}\n"
    first, second = read_cases(out)
    expected_ids = [(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for s in invocations(spans)]
    assert [(c["source"]["trace_id"], c["source"]["span_id"]) for c in (first, second)] == expected_ids
    for case, span in zip((first, second), invocations(spans), strict=True):
        assert case["id"] == f"{case['source']['trace_id']}:{case['source']['span_id']}"
        assert case["source"]["agent"] == "shop"
        assert case["source"]["start_time"] == json.loads(span.to_json())["start_time"]

    assert list(first) == ["id", "request", "tools_used", "source"]  # no conversation before the first request
    assert first["request"] == FIRST
    assert first["tools_used"] == [{"name": name, "input": args} for name, args in PLANS[FIRST].calls]

    assert list(second) == ["id", "request", "conversation", "tools_used", "source"]
    assert second["request"] == SECOND
    assert second["conversation"] == [  # the first exchange, its tool-only messages left out
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": f"{PLANS[FIRST].preface}\n\n{PLANS[FIRST].answer}"},
    ]
    assert second["tools_used"] == [{"name": "lookup_order", "input": {"order_id": "B2"}}]

    # the file is a cases file: `generate --cases` plays both requests (judged: the traces state no truth)
    result = cli("generate", "--cases", str(out), "--dataset", "traced", "--seed", "1")
    assert result.exit_code == 0, result.output
    dataset = Dataset(tmp_path / "output", "traced")
    stored = list(dataset.records(dataset.manifest()))
    assert {r.prompt for r in stored} == {FIRST, SECOND} and {r.truth for r in stored} == {"judged"}
    assert [t.content for t in next(r for r in stored if r.prompt == SECOND).conversation[:2]] == [
        FIRST,
        f"{PLANS[FIRST].preface}\n\n{PLANS[FIRST].answer}",
    ]


def to_hex_ids(request: dict[str, Any]) -> dict[str, Any]:
    """OTLP/JSON as the spec and a collector's file exporter write it: ids in hex, not protobuf's base64."""
    for resource in request["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64decode(span[key]).hex()
    return request


def test_otlp_json_from_opentelemetrys_own_encoder_gives_the_same_cases(two_turns, cli, tmp_path):
    encoder = pytest.importorskip(
        "opentelemetry.exporter.otlp.proto.common.trace_encoder",
        reason="opentelemetry-exporter-otlp-proto-common is not installed: no real OTLP encoder",
    )
    json_format = pytest.importorskip("google.protobuf.json_format", reason="protobuf is not installed")
    spans, _ = two_turns
    sdk = tmp_path / "sdk-cases.jsonl"
    traces = write_sdk_lines(spans, tmp_path / "sdk.jsonl")
    assert cli("cases", "from-traces", str(traces), "--out", str(sdk)).exit_code == 0

    # two export requests, one a line, the first invocation's spans split across them
    requests = [json_format.MessageToJson(encoder.encode_spans(part), indent=None) for part in (spans[:3], spans[3:])]
    protobuf_json = tmp_path / "otlp-base64.json"
    protobuf_json.write_text("".join(line + "\n" for line in requests))
    collector_json = tmp_path / "otlp.json"
    collector_json.write_text("".join(json.dumps(to_hex_ids(json.loads(line))) + "\n" for line in requests))

    for traces in (collector_json, protobuf_json):
        out = tmp_path / f"{traces.stem}-cases.jsonl"
        result = cli("cases", "from-traces", str(traces), "--out", str(out))
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"{traces}: 2 invocations → 2 cases, 0 skipped")
        assert out.read_text() == sdk.read_text()


@pytest.mark.parametrize(
    ("opt_in", "reason"),
    [(LEGACY, "no user text"), (LATEST + ",gen_ai_unredacted_attributes=", "content redacted")],
    ids=["no-prompt", "redacted"],
)
def test_an_invocation_without_user_text_is_skipped_and_counted(monkeypatch, cli, tmp_path, opt_in, reason):
    exporter = record(monkeypatch, opt_in)
    agent = Shop().agent()
    agent(SECOND)
    agent()  # no prompt: the agent carries on from its history; no user asked anything
    traces = write_sdk_lines(exporter.get_finished_spans(), tmp_path / "traces.jsonl")
    out = tmp_path / "cases.jsonl"

    result = cli("cases", "from-traces", str(traces), "--out", str(out))

    assert result.exit_code == 0, result.output
    if reason == "no user text":
        assert result.stdout == f"{traces}: 2 invocations → 1 case, 1 skipped (1 no user text); wrote {out}\n"
        assert [case["request"] for case in read_cases(out)] == [SECOND]
    else:  # strands wrote [REDACTED] for every message and tool input: nothing to take
        assert result.stdout == f"{traces}: 2 invocations → 0 cases, 2 skipped (2 content redacted); wrote {out}\n"
        assert out.read_text() == ""


def test_a_malformed_line_is_exit_2_naming_file_and_line_and_nothing_is_written(two_turns, cli, tmp_path):
    spans, _ = two_turns
    traces = write_sdk_lines(spans, tmp_path / "traces.jsonl")
    lines = traces.read_text().splitlines()
    lines[2] = lines[2][:80]  # cut short
    broken = json.loads(lines[4])
    del broken["context"]["span_id"]
    lines[4] = json.dumps(broken)
    traces.write_text("\n".join(lines) + "\n")
    out = tmp_path / "cases.jsonl"

    result = cli("cases", "from-traces", str(traces), "--out", str(out))

    assert result.exit_code == 2
    cut, missing = result.stderr.splitlines()
    assert cut.startswith(f"{traces}:3: (line): not JSON: ")
    assert missing == f"{traces}:5: context.span_id: Field required"
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not list(tmp_path.glob(f"{TEMP_PREFIX}*"))


def test_an_existing_out_is_replaced_only_with_force(two_turns, cli, tmp_path):
    spans, _ = two_turns
    traces = write_sdk_lines(spans, tmp_path / "traces.jsonl")
    out = tmp_path / "cases.jsonl"
    out.write_text("keep me\n")

    refused = cli("cases", "from-traces", str(traces), "--out", str(out))
    assert refused.exit_code == 2
    assert refused.stderr == f"{out}: already exists; give --force to replace it\n"
    assert out.read_text() == "keep me\n"

    assert cli("cases", "from-traces", str(traces), "--out", str(out), "--force").exit_code == 0
    assert [case["request"] for case in read_cases(out)] == [FIRST, SECOND]


def otlp_span(span_id: str, parent: str, name: str, start: int, attributes: dict[str, Any], events=()) -> dict:
    """A span as a collector's file exporter writes it (hex ids, nanosecond times, typed attribute values)."""

    def typed(value: Any) -> dict[str, Any]:
        return {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}

    def pairs(values: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"key": key, "value": typed(value)} for key, value in values.items()]

    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "startTimeUnixNano": str(start),
        "attributes": pairs(attributes),
        "events": [{"timeUnixNano": str(start), "name": n, "attributes": pairs(a)} for n, a in events],
    }


def handwritten(tool_input: str) -> str:
    """One invocation in OTLP/JSON: the agent span, an event-loop cycle and under it a tool call."""
    agent, cycle, call = "00000000000000a1", "00000000000000b2", "00000000000000c3"
    start = 1_700_000_000_000_000_000
    user = ("gen_ai.user.message", {"content": json.dumps([{"text": "Refund order C3"}])})
    tool_message = ("gen_ai.tool.message", {"role": "tool", "content": tool_input, "id": "t1"})
    operation = "gen_ai.operation.name"
    spans = [
        otlp_span(
            agent, "", "invoke_agent desk", start, {operation: "invoke_agent", "gen_ai.agent.name": "desk"}, [user]
        ),
        otlp_span(cycle, agent, "execute_event_loop_cycle", start + 1, {operation: "execute_event_loop_cycle"}),
        otlp_span(
            call,
            cycle,
            "execute_tool refund",
            start + 2,
            {operation: "execute_tool", "gen_ai.tool.name": "refund"},
            [tool_message],
        ),
    ]
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}) + "\n"


def test_a_handwritten_otlp_file_and_a_tool_input_that_is_not_json(cli, tmp_path):
    traces = tmp_path / "otlp.json"
    traces.write_text(handwritten(json.dumps({"order_id": "C3", "amount": 12.5})))
    out = tmp_path / "cases.jsonl"
    assert cli("cases", "from-traces", str(traces), "--out", str(out)).exit_code == 0
    assert read_cases(out) == [
        {
            "id": "5b8efff798038103d269b633813fc60c:00000000000000a1",
            "request": "Refund order C3",
            "tools_used": [{"name": "refund", "input": {"order_id": "C3", "amount": 12.5}}],
            "source": {
                "trace_id": "5b8efff798038103d269b633813fc60c",
                "span_id": "00000000000000a1",
                "agent": "desk",
                "start_time": "2023-11-14T22:13:20.000000Z",
            },
        }
    ]

    traces.write_text(handwritten("{order_id: C3"))
    bad = tmp_path / "bad-cases.jsonl"
    result = cli("cases", "from-traces", str(traces), "--out", str(bad))
    assert result.exit_code == 2
    assert result.stderr == (
        f"{traces}:1: resourceSpans[0].scopeSpans[0].spans[2].events[0].attributes.content: not JSON: "
        "Expecting property name enclosed in double quotes (column 2)\n"
    )
    assert not bad.exists()


def test_the_conversation_goes_user_assistant_from_a_chat_spans_history(cli, tmp_path):
    """Latest conventions, handwritten: the history on the model call has an assistant's greeting first and a
    user turn the agent never answered last; the turns before the request still go user, assistant."""

    def message(role: str, *parts: dict[str, Any]) -> dict[str, Any]:
        return {"role": role, "parts": list(parts)}

    def text(content: str) -> dict[str, Any]:
        return {"type": "text", "content": content}

    call = {"type": "tool_call", "name": "refund", "id": "t1", "arguments": {"order_id": "C3"}}
    history = [
        message("assistant", text("Hello, how can I help?")),
        message("user", text("Refund order C3")),
        message("assistant", text("Checking C3."), call),
        message("user", {"type": "tool_call_response", "id": "t1", "response": [{"text": "ok"}]}),
        message("assistant", text("Refunded.")),
        message("user", text("Hello?")),
        message("user", text("And C4?")),
    ]
    details = "gen_ai.client.inference.operation.details"
    agent, chat, start = "00000000000000a1", "00000000000000d4", 1_700_000_000_000_000_000
    spans = [
        otlp_span(agent, "", "invoke_agent desk", start, {"gen_ai.operation.name": "invoke_agent"},
                  [(details, {"gen_ai.input.messages": json.dumps(history[-1:])})]),
        otlp_span(chat, agent, "chat", start + 5, {"gen_ai.operation.name": "chat"},
                  [(details, {"gen_ai.input.messages": json.dumps(history)})]),
    ]  # fmt: skip
    traces = tmp_path / "otlp.json"
    traces.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n")
    out = tmp_path / "cases.jsonl"

    assert cli("cases", "from-traces", str(traces), "--out", str(out)).exit_code == 0
    (case,) = read_cases(out)
    assert case["request"] == "And C4?"
    assert case["conversation"] == [
        {"role": "user", "content": "Refund order C3"},
        {"role": "assistant", "content": "Checking C3.\n\nRefunded."},
    ]
    assert "tools_used" not in case  # the refund was called in an earlier invocation
    assert "agent" not in case["source"]


class Front:
    """An outer agent's model: hand the user's question to the shop agent (a tool), then close."""

    def reply(self, call: ModelCall) -> Reply:
        if any("toolResult" in block for block in call.messages[-1]["content"]):
            return Reply(text="Done.")
        return Reply(tool_calls=[("ask_shop", {"question": FIRST})])


def test_an_agent_called_as_a_tool_is_an_invocation_with_its_own_tools(monkeypatch, cli, tmp_path):
    exporter = record(monkeypatch, LEGACY)

    @tool
    def ask_shop(question: str) -> str:
        """Ask the shop agent."""
        return str(Shop().agent()(question))

    Agent(model=SimulatedModel(Front()), tools=[ask_shop], name="front", callback_handler=None)("Check my order")
    traces = write_sdk_lines(exporter.get_finished_spans(), tmp_path / "traces.jsonl")
    out = tmp_path / "cases.jsonl"

    assert cli("cases", "from-traces", str(traces), "--out", str(out)).exit_code == 0
    outer, inner = read_cases(out)
    assert (outer["source"]["agent"], outer["request"]) == ("front", "Check my order")
    assert outer["tools_used"] == [{"name": "ask_shop", "input": {"question": FIRST}}]
    assert (inner["source"]["agent"], inner["request"]) == ("shop", FIRST)
    assert inner["tools_used"] == [{"name": name, "input": args} for name, args in PLANS[FIRST].calls]
    assert inner["source"]["trace_id"] == outer["source"]["trace_id"]

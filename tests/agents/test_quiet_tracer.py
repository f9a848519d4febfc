"""strands builds every span's content before asking whether anyone records it; with no tracer provider configured,
`QuietTracer` skips that work, and once one is configured it traces as strands does."""

import asyncio

import pytest
from opentelemetry import trace as trace_api
from pydantic import BaseModel
from strands import tool
from strands.telemetry import tracer as strands_tracer

from agents.simulated import ModelCall, Reply
from agents.strands_runtime import QuietTracer, quiet_tracing


class Watched(dict):
    """Message content that notes when something reads it to serialise it."""

    reads = 0

    def items(self):
        Watched.reads += 1
        return super().items()


def messages():
    return [{"role": "user", "content": [Watched(text="Customer C-0042: a lot of cash deposits")]}]


def test_without_a_tracer_provider_no_span_content_is_built():
    tracer = QuietTracer()
    Watched.reads = 0
    span = tracer.start_model_invoke_span(messages=messages(), model_id="simulated")
    cycle = tracer.start_event_loop_cycle_span(invocation_state={}, messages=messages())
    agent = tracer.start_agent_span(messages=messages(), agent_name="task")
    tool = tracer.start_tool_call_span({"toolUseId": "1", "name": "get_customer", "input": Watched(id="C-1")})
    tracer.end_tool_call_span(tool, {"toolUseId": "1", "status": "success", "content": [Watched(text="{}")]})
    for started in (span, cycle, agent, tool):
        assert started is trace_api.INVALID_SPAN and not started.is_recording()
    assert Watched.reads == 0


def recorded_spans(monkeypatch):
    """An in-memory exporter of the spans a tracer provider, configured now, records."""
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace_api, "_TRACER_PROVIDER", provider)
    return exporter


def test_with_a_tracer_provider_spans_are_recorded_as_strands_records_them(monkeypatch):
    tracer = QuietTracer()  # made before the provider, as strands' singleton is
    exporter = recorded_spans(monkeypatch)
    span = tracer.start_model_invoke_span(messages=messages(), model_id="simulated")
    assert span.is_recording()
    span.end()
    (recorded,) = exporter.get_finished_spans()
    assert recorded.name == "chat"
    assert any("cash deposits" in str(event.attributes) for event in recorded.events)


def test_agents_goldsmith_builds_take_the_quiet_tracer():
    from strands.telemetry import tracer as strands_tracer

    from agents.providers import build_lineup
    from agents.settings import ModelSettings
    from agents.simulated.model import SimSettings

    quiet_tracing()
    lineup = build_lineup(ModelSettings(), sim=SimSettings(seed=1), task_policy=None)
    agent = lineup.user.agent(system_prompt="You are a user.")
    assert isinstance(agent.tracer, QuietTracer) and agent.tracer is strands_tracer.get_tracer()


@pytest.mark.parametrize("provider", [trace_api.ProxyTracerProvider(), trace_api.NoOpTracerProvider()])
def test_an_api_default_or_no_op_provider_records_nothing(monkeypatch, provider):
    monkeypatch.setattr(
        trace_api, "_TRACER_PROVIDER", None if isinstance(provider, trace_api.ProxyTracerProvider) else provider
    )
    assert not QuietTracer.recording()


class Balance(BaseModel):
    """The balance found."""

    balance: int


@tool
def get_balance(account: str) -> int:
    """The balance of an account.

    Args:
        account: The account number.
    """
    return 120


class LooksUp:
    """Calls `get_balance` once, then answers with what it returned."""

    def reply(self, call: ModelCall) -> Reply:
        if not any("toolResult" in block for message in call.messages for block in message["content"]):
            return Reply(tool_calls=[("get_balance", {"account": "A-1"})])
        return Reply(tool_calls=[(call.structured_output_tool, {"balance": 120})])


def run_tool_call() -> Balance:
    from agents.providers import build_lineup
    from agents.settings import ModelSettings
    from agents.simulated import SimSettings

    lineup = build_lineup(ModelSettings(), sim=SimSettings(seed=1), task_policy=LooksUp())
    agent = lineup.task.agent(tools=[get_balance], system_prompt="You look balances up.")
    return asyncio.run(agent.invoke_async("A-1?", structured_output_model=Balance)).structured_output


def test_a_tool_call_serialises_its_input_schema_only_for_a_recorded_span(monkeypatch):
    """strands' tool executor serialises the tool's input schema for the call's span before it looks at the span:
    with no provider nothing is serialised; with one the span has the schema, as strands records it."""
    serialised = []
    encode = strands_tracer.JSONEncoder.encode
    monkeypatch.setattr(
        strands_tracer.JSONEncoder, "encode", lambda self, value: serialised.append(value) or encode(self, value)
    )
    assert run_tool_call() == Balance(balance=120)
    assert serialised == []

    exporter = recorded_spans(monkeypatch)
    assert run_tool_call() == Balance(balance=120)
    (span,) = [span for span in exporter.get_finished_spans() if span.name == "execute_tool get_balance"]
    assert '"account"' in span.attributes["gen_ai.tool.json_schema"]
    assert get_balance.tool_spec["inputSchema"]["json"] in serialised

"""strands builds every span's content before asking whether anyone records it; with no tracer provider configured,
`QuietTracer` skips that work, and once one is configured it traces as strands does."""

import pytest
from opentelemetry import trace as trace_api

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


def test_with_a_tracer_provider_spans_are_recorded_as_strands_records_them(monkeypatch):
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = QuietTracer()  # made before the provider, as strands' singleton is
    monkeypatch.setattr(trace_api, "_TRACER_PROVIDER", provider)
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

"""The simulated model drives strands' real agent loop: tools really execute, structured output is the
SDK's own, and usage flows into the SDK's metrics."""

import asyncio

from pydantic import BaseModel
from strands import Agent, tool

from agents.messages import tool_exchanges, usage_of
from agents.simulated import ModelCall, Reply, SimSettings, SimulatedModel


class Answer(BaseModel):
    """The answer."""

    total: int


class AddThenAnswer:
    """Calls `add` once, then answers with the tool's result through structured output."""

    def reply(self, call: ModelCall) -> Reply:
        done = call.exchanges()
        if not done:
            return Reply(text="Let me add.", tool_calls=[("add", {"a": 2, "b": 3})])
        return Reply(tool_calls=[(call.structured_output_tool, {"total": int(done[0].output)})])


def test_tool_runs_for_real_and_structured_output_comes_back():
    calls = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers.

        Args:
            a: first
            b: second
        """
        calls.append((a, b))
        return a + b

    agent = Agent(model=SimulatedModel(AddThenAnswer()), tools=[add], callback_handler=None)
    result = asyncio.run(agent.invoke_async("what is 2+3?", structured_output_model=Answer))
    assert calls == [(2, 3)]
    assert result.structured_output == Answer(total=5)
    (exchange,) = tool_exchanges(agent.messages, skip={"Answer"})
    assert (exchange.name, exchange.input, exchange.output, exchange.status) == (
        "add",
        {"a": 2, "b": 3},
        "5",
        "success",
    )
    usage = usage_of(result)
    assert usage.input > 0 and usage.output > 0


def test_a_failing_tool_is_reported_to_the_model_as_an_error():
    @tool
    def add(a: int, b: int) -> int:
        """Add.

        Args:
            a: first
            b: second
        """
        raise ValueError("no adding today")

    seen = []

    class Policy:
        def reply(self, call):
            done = call.exchanges()
            seen.extend(done)
            if not done:
                return Reply(tool_calls=[("add", {"a": 1, "b": 1})])
            return Reply(tool_calls=[(call.structured_output_tool, {"total": 0})])

    agent = Agent(model=SimulatedModel(Policy()), tools=[add], callback_handler=None)
    asyncio.run(agent.invoke_async("go", structured_output_model=Answer))
    assert seen[0].status == "error" and "no adding today" in seen[0].output


def test_randomness_depends_on_seed_and_prompt_only():
    def call(seed, prompt):
        return ModelCall("sys", [{"role": "user", "content": [{"text": prompt}]}], [], seed)

    assert call(1, "a").rng("x").random() == call(1, "a").rng("x").random()
    assert call(1, "a").rng("x").random() != call(2, "a").rng("x").random()
    assert call(1, "a").rng("x").random() != call(1, "b").rng("x").random()


def test_latency_setting_is_applied_per_call():
    import time

    class TextOnly:
        def reply(self, call):
            return Reply(text="hi")

    agent = Agent(model=SimulatedModel(TextOnly(), SimSettings(latency_ms=50)), callback_handler=None)
    started = time.monotonic()
    asyncio.run(agent.invoke_async("hello"))
    assert time.monotonic() - started >= 0.05

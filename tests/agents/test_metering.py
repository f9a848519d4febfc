"""Per-model meters: strands' retry strategy widened to every transient Bedrock error, calls and cost counted."""

import asyncio

import pytest
from botocore.exceptions import ClientError
from pydantic import BaseModel
from strands.types.exceptions import ModelThrottledException

from agents.metering import ModelMeter, is_transient
from agents.pricing import Price
from agents.providers import RoleModel
from agents.ratelimit import RateLimiter
from agents.settings import Retry
from agents.simulated.model import ModelCall, Reply, SimulatedModel
from store.records import TokenUsage


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Converse")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ModelThrottledException("slow down"), True),
        (client_error("ServiceUnavailableException"), True),
        (client_error("ModelNotReadyException"), True),
        (client_error("ThrottlingException"), True),
        (client_error("ValidationException"), False),
        (client_error("AccessDeniedException"), False),
        (ValueError("bad output"), False),
    ],
)
def test_which_errors_are_retried(error, transient):
    assert is_transient(error) is transient


class Answer(BaseModel):
    """The answer."""

    text: str


class FlakyThenFine:
    """Fails the first calls with the given errors, then answers."""

    def __init__(self, errors):
        self.errors = list(errors)

    def reply(self, call: ModelCall) -> Reply:
        if self.errors:
            raise self.errors.pop(0)
        return Reply(tool_calls=[(call.structured_output_tool, {"text": "done"})])


def test_unavailable_and_not_ready_are_retried_by_strands_and_counted():
    policy = FlakyThenFine([client_error("ServiceUnavailableException"), client_error("ModelNotReadyException")])
    meter = ModelMeter("m", Price(input=2, output=10), RateLimiter(), Retry(initial_delay_s=0.01, max_delay_s=0.02))
    model = RoleModel("m", "task", lambda: SimulatedModel(policy), meter)
    result, spend = asyncio.run(model.invoke(model.agent(), "go", Answer))
    assert result.structured_output == Answer(text="done")
    assert meter.stats.transient_errors == 2 and meter.stats.calls == 3
    assert spend.cost_usd == pytest.approx((spend.tokens.input * 2 + spend.tokens.output * 10) / 1e6)
    assert meter.stats.cost_usd == spend.cost_usd > 0


def test_a_permanent_error_is_not_retried():
    policy = FlakyThenFine([client_error("ValidationException")])
    meter = ModelMeter("m", None, RateLimiter(), Retry(initial_delay_s=0.01))
    model = RoleModel("m", "task", lambda: SimulatedModel(policy), meter)
    with pytest.raises(ClientError):
        asyncio.run(model.invoke(model.agent(), "go", Answer))
    assert meter.stats.calls == 1 and meter.stats.transient_errors == 0


def test_the_rate_limit_is_applied_to_every_model_call_of_every_agent_sharing_the_model():
    from tests.agents.test_ratelimit import FakeClock

    clock = FakeClock()
    meter = ModelMeter("m", None, RateLimiter(rpm=2, clock=clock, sleep=clock.sleep), Retry())
    model = RoleModel("m", "task", lambda: SimulatedModel(FlakyThenFine([])), meter)

    async def three_agents():
        for _ in range(3):
            await model.invoke(model.agent(), "go", Answer)

    asyncio.run(three_agents())
    assert meter.stats.calls == 3
    assert clock.sleeps == [60.0]  # the third call waited for the first to leave the minute
    assert meter.snapshot().rate_limit_wait_s == 60.0


def test_a_failed_invocation_still_counts_the_tokens_of_the_calls_that_answered():
    from agents.output_guard import MalformedOutput
    from tests.agents.test_malformed_output import Answer as Total
    from tests.agents.test_malformed_output import Recorder

    meter = ModelMeter("m", Price(input=2, output=10), RateLimiter(), Retry(initial_delay_s=0.01))
    model = RoleModel("m", "task", lambda: SimulatedModel(Recorder(lambda n: {"total": "never a number"})), meter, 2)
    with pytest.raises(MalformedOutput):
        asyncio.run(model.invoke(model.agent(), "go", Total))
    assert meter.stats.calls == 3 and meter.stats.tokens.input > 0 and meter.stats.tokens.output > 0
    assert meter.stats.cost_usd > 0


def test_cached_prompt_tokens_are_priced_once_on_openai_compatible_servers():
    """prompt_tokens includes prompt_tokens_details.cached_tokens there; Bedrock reports them apart."""
    price = Price(input=2, output=10, cache_read=0.2)
    reported = TokenUsage(input=1000, output=100, cache_read=800)
    openai = ModelMeter("openai:m", price, RateLimiter(), Retry()).charge_reported(reported)
    assert openai.tokens == TokenUsage(input=200, output=100, cache_read=800)
    assert openai.cost_usd == pytest.approx((200 * 2 + 100 * 10 + 800 * 0.2) / 1e6)
    bedrock = ModelMeter("bedrock:m", price, RateLimiter(), Retry()).charge_reported(reported)
    assert bedrock.tokens == reported


def test_timeouts_and_dropped_connections_are_retried():
    class APITimeoutError(Exception):
        pass

    class APIConnectionError(Exception):
        pass

    assert is_transient(APITimeoutError()) and is_transient(APIConnectionError()) and not is_transient(ValueError())

"""Malformed model output and throttling: a structured output that fails validation goes back to the model with
strands' validation error, a bounded number of times (then MalformedOutput); simulated throttling goes through
strands' retry strategy. The simulated models' --sim-malformed-rate / --sim-throttle-rate drive both."""

import asyncio

import pytest
from pydantic import BaseModel
from strands.types.exceptions import ModelThrottledException

from agents.metering import ModelMeter
from agents.output_guard import MalformedOutput
from agents.providers import RoleModel, build_lineup
from agents.ratelimit import RateLimiter
from agents.settings import ModelSettings, Retry
from agents.simulated.model import ModelCall, Reply, SimSettings, SimulatedModel, malformed


class Answer(BaseModel):
    """The answer."""

    total: int
    note: str = ""


class Recorder:
    """Answers `total=5` (or what `answer` returns), recording the messages of every call."""

    def __init__(self, answer=lambda n: {"total": 5}):
        self.answer = answer
        self.seen: list[list] = []

    def reply(self, call: ModelCall) -> Reply:
        self.seen.append(call.messages)
        return Reply(tool_calls=[(call.structured_output_tool, self.answer(len(self.seen)))])


def role(policy, output_retries: int = 2, sim: SimSettings | None = None) -> RoleModel:
    meter = ModelMeter("m", None, RateLimiter(), Retry(initial_delay_s=0.001, max_delay_s=0.002))
    return RoleModel("m", "task", lambda: SimulatedModel(policy, sim), meter, output_retries)


def last_text(messages: list) -> str:
    return "".join(
        item.get("text", "")
        for block in messages[-1]["content"]
        if "toolResult" in block
        for item in block["toolResult"]["content"]
    )


def test_a_structured_output_that_fails_validation_is_sent_back_with_the_error_and_the_retry_is_used():
    policy = Recorder(lambda n: {"total": "five"} if n == 1 else {"total": 5})
    model = role(policy)
    result, _ = asyncio.run(model.invoke(model.agent(), "go", Answer))
    assert result.structured_output == Answer(total=5)
    assert len(policy.seen) == 2
    error = last_text(policy.seen[1])
    assert error.startswith("Validation failed for Answer. Please fix the following errors:")
    assert "Field 'total'" in error
    assert model.meter.stats.calls == 2 and model.meter.stats.transient_errors == 0


@pytest.mark.parametrize("output_retries", [0, 2])
def test_a_model_that_always_answers_malformed_fails_after_output_retries_plus_one_attempts(output_retries):
    policy = Recorder(lambda n: {"total": "five"})
    model = role(policy, output_retries)
    with pytest.raises(MalformedOutput) as caught:
        asyncio.run(model.invoke(model.agent(), "go", Answer))
    attempts = output_retries + 1
    assert len(policy.seen) == attempts
    assert caught.value.attempts == attempts and caught.value.output_model == "Answer"
    assert str(caught.value) == (
        f"Answer: structured output failed validation {attempts} times; last error: "
        "Field 'total': Input should be a valid integer, unable to parse string as an integer"
    )
    # the stopped call never reached the model: neither rate-limited nor counted, and not retried as transient
    assert model.meter.stats.calls == attempts and model.meter.stats.transient_errors == 0


def test_the_bound_is_per_invocation():
    policy = Recorder(lambda n: {"total": "five"} if n % 2 else {"total": 5})  # every other answer is malformed
    model = role(policy, output_retries=1)
    agent = model.agent()
    for _ in range(3):
        result, _ = asyncio.run(model.invoke(agent, "go", Answer))
        assert result.structured_output == Answer(total=5)


def test_malformed_gives_the_first_key_the_wrong_json_type_and_leaves_the_rest():
    spec = {"name": "Answer", "description": "This StructuredOutputTool should only be invoked ...", "inputSchema": {}}
    call = ModelCall("", [{"role": "user", "content": [{"text": "go"}]}], [spec], seed=0)
    reply = Reply(text="t", tool_calls=[("add", {"a": 1}), ("Answer", {"note": "x", "total": 5})])
    assert malformed(reply, call, 1.0).tool_calls == [("add", {"a": 1}), ("Answer", {"note": ["x"], "total": 5})]
    assert malformed(reply, call, 1.0).text == "t"
    assert reply.tool_calls[1] == ("Answer", {"note": "x", "total": 5})  # the policy's reply is not changed
    numbers = Reply(tool_calls=[("Answer", {"total": 5})])
    assert malformed(numbers, call, 1.0).tool_calls == [("Answer", {"total": "n/a"})]
    assert malformed(numbers, call, 0.0) is numbers
    plain = ModelCall("", call.messages, [], seed=0)
    assert malformed(Reply(tool_calls=[("Answer", {"total": 5})]), plain, 1.0).tool_calls == [("Answer", {"total": 5})]


def lineup(sim: SimSettings, policy, **settings) -> RoleModel:
    """The task role of a lineup built as a run builds it, on `policy`."""
    return build_lineup(ModelSettings(**settings), sim=sim, task_policy=policy).task


def test_sim_malformed_rate_with_the_output_retries_setting():
    model = lineup(SimSettings(malformed_rate=1.0), policy := Recorder(), output_retries=1)
    with pytest.raises(MalformedOutput, match="failed validation 2 times"):
        asyncio.run(model.invoke(model.agent(), "go", Answer))
    assert len(policy.seen) == 2


def test_simulated_models_back_off_a_thousand_times_faster_with_the_same_attempts():
    model = lineup(SimSettings(), Recorder())
    assert model.meter.retry == Retry(max_attempts=6, initial_delay_s=0.004, max_delay_s=0.24)


def test_sim_throttling_is_retried_by_strands_and_counted():
    retry = Retry(max_attempts=30, initial_delay_s=1, max_delay_s=2)  # 1-2 ms for the simulated models
    model = lineup(SimSettings(seed=1, throttle_rate=0.5), Recorder(), retry=retry)
    for n in range(8):
        result, _ = asyncio.run(model.invoke(model.agent(), f"request {n}", Answer))
        assert result.structured_output == Answer(total=5)
    stats = model.meter.stats
    assert stats.transient_errors > 0 and stats.calls == 8 + stats.transient_errors


def test_sim_throttling_every_call_gives_up_after_max_attempts():
    retry = Retry(max_attempts=3, initial_delay_s=1, max_delay_s=1)
    model = lineup(SimSettings(throttle_rate=1.0), policy := Recorder(), retry=retry)
    with pytest.raises(ModelThrottledException, match="simulated throttling"):
        asyncio.run(model.invoke(model.agent(), "go", Answer))
    assert policy.seen == [] and model.meter.stats.calls == model.meter.stats.transient_errors == 3


def outcomes(seed: int) -> list[str]:
    """Per invocation: how many calls the model answered, and how it ended."""
    retry = Retry(max_attempts=4, initial_delay_s=1, max_delay_s=1)
    sim = SimSettings(seed=seed, throttle_rate=0.4, malformed_rate=0.5)
    policy = Recorder()
    model = lineup(sim, policy, retry=retry, output_retries=1)
    seen = []
    for n in range(12):
        before = len(policy.seen)
        try:
            asyncio.run(model.invoke(model.agent(), f"request {n}", Answer))
            ended = "ok"
        except Exception as exc:
            ended = type(exc).__name__
        seen.append(f"{len(policy.seen) - before} {ended}")
    return seen + [f"throttled {model.meter.stats.transient_errors}"]


def test_the_same_seed_gives_the_same_outcomes():
    first = outcomes(seed=3)
    assert outcomes(seed=3) == first
    assert outcomes(seed=4) != first
    assert {line.split()[1] for line in first[:-1]} > {"ok"}  # the draws do make things go wrong


def kyc_episodes(sim: SimSettings, **settings) -> tuple[list, dict]:
    """A few KYC episodes with the simulated user, task agent (KycAnalystPolicy) and judge."""
    from rubrics.model import BUNDLED, load_rubric
    from simulation.domains import get_domain
    from simulation.episode import EpisodeSettings, run_episode
    from simulation.roles import make_roles, prepare_models

    domain = get_domain("kyc")
    rubric = load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(domain.categories))
    lineup = prepare_models(ModelSettings(**settings), domain, sim)
    world = domain.build_world(1)
    roles = make_roles(domain, world, rubric, lineup, "together")
    episode = EpisodeSettings(
        dataset="t", domain="kyc", domain_version=domain.version, world_seed=1, seed=sim.seed, run_id="r",
        persona=domain.card.user_simulator.name, models=ModelSettings().models.as_record(), max_rounds=3,
    )  # fmt: skip

    async def run():
        return [await run_episode(case, roles, episode) for case in domain.draw_cases(world, sim.seed, 6)]

    return asyncio.run(run()), lineup.meters.stats()


def test_the_simulated_roles_answer_the_validation_error_with_the_same_structured_output_again():
    clean, clean_stats = kyc_episodes(SimSettings(seed=5))
    noisy, noisy_stats = kyc_episodes(SimSettings(seed=5, malformed_rate=0.5), output_retries=20)
    assert noisy_stats["simulated"].calls > clean_stats["simulated"].calls  # outputs were sent back, and fixed
    assert "failed" not in {e.status for e in clean}
    assert [(e.status, e.prompt) for e in noisy] == [(e.status, e.prompt) for e in clean]
    assert [[(a.finding, a.tool_trace) for a in e.attempts] for e in noisy] == [
        [(a.finding, a.tool_trace) for a in e.attempts] for e in clean
    ]
    assert [[c.passed for c in e.critiques] for e in noisy] == [[c.passed for c in e.critiques] for e in clean]


class KeepsCalling:
    """Calls a tool on every turn until a tool result asks for the answer; then answers."""

    def __init__(self):
        self.calls = 0

    def reply(self, call: ModelCall) -> Reply:
        last = call.messages[-1]["content"]
        asked = any("tool budget reached" in str(block) for block in last)
        if asked:
            return Reply(tool_calls=[(call.structured_output_tool, {"total": self.calls})])
        self.calls += 1
        return Reply(tool_calls=[("lookup", {"n": self.calls})])


def test_a_model_that_keeps_calling_tools_is_asked_for_its_answer_at_the_budget():
    from strands import tool

    @tool
    def lookup(n: int) -> str:
        """Look something up.

        Args:
            n: What to look up.
        """
        return f"result {n}"

    policy = KeepsCalling()
    meter = ModelMeter("m", None, RateLimiter(), Retry())
    model = RoleModel("m", "task", lambda: SimulatedModel(policy), meter, 2, tool_budget=3)
    result, _ = asyncio.run(model.invoke(model.agent(tools=[lookup]), "go", Answer))
    assert result.structured_output == Answer(total=4)  # three calls ran, the fourth was refused

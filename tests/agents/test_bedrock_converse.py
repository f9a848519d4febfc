"""The Bedrock path with `botocore.stub.Stubber` on each role's bedrock-runtime client: the Converse requests
the agents really send, and a whole episode driven by stubbed responses (the simulated policies answer)."""

import asyncio

import pytest
from botocore.stub import Stubber

from agents.providers import build_lineup
from agents.settings import ModelSettings
from agents.simulated.model import ModelCall, SimSettings, reply_message
from agents.simulated.servers import SimulatedProvider, _converse_cache_prefix, converse_response
from rubrics.model import BUNDLED, load_rubric
from simulation.domains import get_domain
from simulation.episode import EpisodeSettings, run_episode
from simulation.roles import make_roles

SONNET = "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0"


def stub_client(client, provider: SimulatedProvider, sent: list[dict]) -> Stubber:
    """Answer each Converse call with a stubbed response computed from the request, as the service would."""
    stubber = Stubber(client)

    def respond(params, **_):
        sent.append(params)
        system, tools = params.get("system", []), params.get("toolConfig", {}).get("tools", [])
        call = ModelCall(
            system_prompt="".join(b.get("text", "") for b in system),
            messages=params["messages"],
            tool_specs=[t["toolSpec"] for t in tools if "toolSpec" in t],
            seed=0,
        )
        reply, usage = provider.answer(call, _converse_cache_prefix(system, tools))
        stubber.add_response("converse", converse_response(*reply_message(reply, call), usage))

    client.meta.events.register("provide-client-params.bedrock-runtime.Converse", respond)
    stubber.activate()
    return stubber


@pytest.fixture
def episode():
    domain = get_domain("kyc")
    world = domain.build_world(1)
    settings = ModelSettings.model_validate({"models": {"user": HAIKU, "task": HAIKU, "critic": SONNET}})
    lineup = build_lineup(settings, sim=SimSettings(), task_policy=None)
    provider = SimulatedProvider.for_domain("kyc", SimSettings(seed=3, defect_rate=1.0))
    sent = {role: [] for role in ("user", "task", "critic")}
    for role, model in (("user", lineup.user), ("task", lineup.task), ("critic", lineup.critic[0])):
        stub_client(model.build().client, provider, sent[role])
    rubric = load_rubric(BUNDLED / "kyc.yaml", domain="kyc", categories=set(domain.categories))
    roles = make_roles(domain, world, rubric, lineup, "together")
    case = next(c for c in domain.draw_cases(world, 5, 10) if c.difficulty == "standard")
    settings = EpisodeSettings(
        dataset="kyc", domain="kyc", domain_version=domain.version, world_seed=1, seed=3, run_id="stub",
        persona="analyst", models=settings.models.as_record(), max_rounds=3,
    )  # fmt: skip
    result = asyncio.run(run_episode(case, roles, settings))
    return result, sent, lineup, rubric, domain


def test_a_whole_episode_runs_on_bedrock_converse(episode):
    result, sent, lineup, _, _ = episode
    assert result.status == "accepted", (result.reasons, result.error)
    assert result.rounds == 2  # defect rate 1: the first draft is planted with a defect, then revised
    assert result.example.tool_trace and result.example.provenance.models["critic"] == SONNET
    usage = result.example.provenance.tokens
    assert usage.cache_read > 0 and usage.cache_write > 0
    assert result.example.provenance.cost_usd == pytest.approx(result.spend.cost_usd, abs=1e-6)
    assert result.example.provenance.cost_usd > 0
    calls = sum(len(v) for v in sent.values())
    assert sum(m.stats.calls for m in lineup.meters.values()) == calls


def test_requests_carry_cache_points_tools_and_inference_settings_per_role(episode):
    _, sent, _, rubric, domain = episode
    for role, requests in sent.items():
        for request in requests:
            assert request["system"][-1] == {"cachePoint": {"type": "default"}}, role
            assert request["toolConfig"]["tools"][-1] == {"cachePoint": {"type": "default"}}, role
    temperature = {role: {r["inferenceConfig"]["temperature"] for r in requests} for role, requests in sent.items()}
    assert temperature == {"user": {0.8}, "task": {0.2}, "critic": {0.0}}
    assert {r["inferenceConfig"]["maxTokens"] for r in sent["critic"]} == {2048}

    task_tools = {t["toolSpec"]["name"] for t in sent["task"][0]["toolConfig"]["tools"] if "toolSpec" in t}
    assert {t.tool_name for t in domain.tools(domain.build_world(1))} | domain.action_names | {
        "KycFinding"
    } == task_tools

    critic = sent["critic"][0]
    assert [t["toolSpec"]["name"] for t in critic["toolConfig"]["tools"] if "toolSpec" in t] == ["JudgeVerdict"]
    system = critic["system"][0]["text"]
    assert rubric.version in system
    assert all(c.id in system for c in rubric.criteria if c.method == "judge")
    assert sent["user"][0]["modelId"] == HAIKU.partition(":")[2]
    assert critic["modelId"] == SONNET.partition(":")[2]

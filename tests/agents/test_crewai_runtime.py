"""The CrewAI runtime's parts: domain tools as CrewAI tools, tool traces from CrewAI's hook, and the CrewAI LLM
built from the same settings as the strands model of a role."""

import asyncio
import json

import pytest
from pydantic import BaseModel

from agents.crewai_runtime import CrewAIRuntime, crewai_tools, llm_for
from agents.metering import ModelMeter
from agents.providers import RoleModel, build_lineup
from agents.ratelimit import RateLimiter
from agents.runtime import Instructions
from agents.settings import ModelSettings, Retry
from agents.simulated import Reply, SimulatedModel
from agents.simulated.model import SimSettings
from simulation.domains import get_domain

HAIKU = "bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0"


class Answer(BaseModel):
    text: str


@pytest.mark.parametrize("domain_name", ["kyc", "crypto"])
def test_domain_tools_keep_their_parameters_and_results_as_crewai_tools(domain_name):
    domain = get_domain(domain_name)
    world = domain.build_world(1)
    tools = domain.tools(world)
    calls = [c for case in domain.draw_cases(world, 1, 40) for c in case.expected_tool_calls]
    by_name = {t.tool_name: t for t in tools}
    assert {c.name for c in calls} <= set(by_name)
    for strands_tool, crew_tool in zip(tools, crewai_tools(tools), strict=True):
        spec = strands_tool.tool_spec
        schema = crew_tool.args_schema.model_json_schema()
        assert crew_tool.name == spec["name"] and crew_tool.description == spec["description"]
        assert set(schema["properties"]) == set(spec["inputSchema"]["json"]["properties"])
        assert set(schema.get("required", [])) == set(spec["inputSchema"]["json"].get("required", []))
    adapted = {t.name: t for t in crewai_tools(tools)}
    for call in calls[:30]:  # the same text strands puts in its tool result
        assert adapted[call.name].run(**call.input) == json.dumps(by_name[call.name](**call.input), ensure_ascii=False)


class LooksUp:
    """Calls `get_customer_profile` for the customer named in the request, then answers."""

    def reply(self, call):
        if not call.exchanges():
            return Reply(tool_calls=[("get_customer_profile", {"customer_id": call.prompt.split()[-1]})])
        return Reply(tool_calls=[(call.structured_output_tool, {"text": call.exchanges()[0].status})])


def simulated_role(policy) -> RoleModel:
    meter = ModelMeter("simulated", None, RateLimiter(None, None), Retry())
    return RoleModel("simulated", "task", lambda: SimulatedModel(policy, SimSettings()), meter)


def test_each_run_records_its_own_tool_calls_and_errors_from_crewais_hook():
    domain = get_domain("kyc")
    tools = domain.tools(domain.build_world(1))
    model = simulated_role(LooksUp())
    instructions = Instructions(role="investigator", goal="Look customers up.", backstory="Careful.")
    customers = ["C-0001", "C-9999", "C-0002", "C-0003"]

    async def runs():
        return await asyncio.gather(
            *(CrewAIRuntime().run(model, instructions, f"profile of {c}", Answer, tools) for c in customers)
        )

    outcomes = asyncio.run(runs())
    for customer, outcome in zip(customers, outcomes, strict=True):
        (entry,) = outcome.tool_trace
        assert entry.name == "get_customer_profile" and entry.input == {"customer_id": customer}
        if customer == "C-9999":
            assert entry.status == "error" and outcome.output.text == "error"
            assert entry.output == "Error executing tool: no customer with id 'C-9999'"
        else:
            assert entry.status == "success" and json.loads(entry.output)["id"] == customer
        assert outcome.spend.tokens.input > 0 and outcome.spend.tokens.output > 0
    assert model.meter.stats.calls == 2 * len(customers)


def test_bedrock_llm_is_built_from_the_strands_models_settings_and_client():
    settings = ModelSettings.model_validate(
        {"models": {"user": HAIKU, "task": HAIKU, "critic": HAIKU}, "bedrock": {"region": "eu-west-1"}}
    )
    settings = settings.model_copy(
        update={"bedrock": settings.bedrock.model_copy(update={"endpoint_url": "http://127.0.0.1:9"})}
    )
    lineup = build_lineup(settings, sim=SimSettings(), task_policy=None, runtime="crewai")
    for role, expected in (("task", (0.2, 4096)), ("critic", (0.0, 2048))):
        model = lineup.task if role == "task" else lineup.critic[0]
        llm = llm_for(model)
        assert type(llm).__name__ == "BedrockCompletion" and llm.model_id == HAIKU.partition(":")[2]
        assert (llm.temperature, llm.max_tokens) == expected and llm.region_name == "eu-west-1"
        client = llm._client  # the strands model's own client: endpoint, profile, retries, retry counting
        assert client is model.build().client and client.meta.endpoint_url == "http://127.0.0.1:9"


def test_openai_llm_is_built_from_the_strands_models_settings():
    settings = ModelSettings.model_validate(
        {"models": {"user": "openai:llama-3.3-70b", "task": "openai:llama-3.3-70b", "critic": "openai:llama-3.3-70b"}}
    )
    settings = settings.model_copy(
        update={"openai": settings.openai.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})}
    )
    lineup = build_lineup(settings, sim=SimSettings(), task_policy=None, runtime="crewai")
    llm = llm_for(lineup.task)
    assert llm.model == "llama-3.3-70b" and llm.base_url == "http://127.0.0.1:9/v1"
    assert (llm.temperature, llm.max_tokens) == (0.2, 4096)

"""`bedrock:` and `openai:` runs end to end through the real clients, against the simulated models served on
127.0.0.1 (agents/simulated/servers.py): throttling, retries, prompt caching, cost, preflight errors, budget."""

import json

import pytest

from agents.simulated.model import SimSettings
from agents.simulated.servers import SimulatedProvider, start
from store.dataset import Dataset
from store.records import Example

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture
def serve():
    servers = []

    def run(kind: str, **options) -> tuple[str, SimulatedProvider]:
        provider = SimulatedProvider.for_domain("kyc", SimSettings(seed=1, defect_rate=0.3), seed=7, **options)
        server = start(kind, provider)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", provider

    yield run
    for server in servers:
        server.shutdown()


@pytest.fixture
def fast_retries(tmp_path):
    """goldsmith.yaml with strands' retry delays in milliseconds rather than seconds."""
    path = tmp_path / "goldsmith.yaml"
    path.write_text("retry:\n  initial_delay_s: 0.02\n  max_delay_s: 0.2\n")
    return str(path)


def stored(tmp_path) -> tuple[list[Example], dict]:
    dataset = Dataset(tmp_path / "output", "kyc")
    records = list(dataset.records(dataset.manifest()))
    (run_file,) = (tmp_path / "output" / "kyc" / "runs").glob("*/summary.json")
    return records, json.loads(run_file.read_text())


@pytest.mark.slow  # ~40 s: botocore adaptive mode really backs off and slows the send rate
def test_bedrock_run_with_30_percent_throttling_accounts_for_every_episode(cli, tmp_path, serve, fast_retries):
    url, provider = serve("converse", throttle_rate=0.3)
    result = cli(
        "generate", "--count", "10", "--seed", "4", "--concurrency", "5", "--config", fast_retries,
        "--model", f"bedrock:{HAIKU}", "--critic-model", f"bedrock:{SONNET}", "--endpoint-url", url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records, summary = stored(tmp_path)
    assert summary["accepted"] + summary["rejected"] + summary["failed"] == summary["episodes"] == 10
    assert summary["failed"] == 0 and summary["added"] == summary["accepted"] == len(records)
    assert len({r.id for r in records}) == len(records)
    assert all(Example.model_validate(r.model_dump()) == r for r in records)

    # every throttled response the server sent was retried, by botocore or by strands, and counted
    assert provider.counts["throttled"] > 10
    stats = summary["model_stats"].values()
    assert sum(s["client_retries"] + s["transient_errors"] for s in stats) == provider.counts["throttled"]

    # prompt caching and cost, per record and per run
    assert all(r.provenance.tokens.cache_read > 0 and r.provenance.cost_usd > 0 for r in records)
    assert summary["tokens"]["cache_read"] > 0
    assert summary["cost_per_accepted_usd"] == pytest.approx(summary["cost_usd"] / summary["accepted"], rel=1e-3)
    assert "cache read" in result.output and "per accepted example" in result.output
    assert summary["models"] == {"user": f"bedrock:{HAIKU}", "task": f"bedrock:{HAIKU}", "critic": f"bedrock:{SONNET}"}


def test_openai_compatible_server_run(cli, tmp_path, serve, fast_retries):
    url, provider = serve("openai", throttle_rate=0.3)
    result = cli(
        "generate", "--count", "6", "--seed", "2", "--config", fast_retries,
        "--model", "openai:llama-3.3-70b", "--base-url", f"{url}/v1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records, summary = stored(tmp_path)
    assert summary["episodes"] == 6 and summary["failed"] == 0 and len(records) == summary["accepted"] > 0
    assert summary["model_stats"]["openai:llama-3.3-70b"]["transient_errors"] == provider.counts["throttled"] > 0
    assert all(r.provenance.tokens.cache_read > 0 for r in records)
    assert all(r.tool_trace for r in records if r.category != "out_of_scope")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"known_models": {HAIKU}}, f"bedrock:{SONNET}: unknown model id in us-east-1"),
        ({"denied_models": {SONNET}}, f"bedrock:{SONNET}: access denied in us-east-1"),
    ],
)
def test_a_model_that_cannot_be_used_is_one_line_and_exit_2_before_any_episode(cli, tmp_path, serve, options, expected):
    url, provider = serve("converse", **options)
    result = cli(
        "generate", "--model", f"bedrock:{HAIKU}", "--critic-model", f"bedrock:{SONNET}", "--endpoint-url", url
    )
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(expected)
    assert provider.counts["requests"] == 2  # one ping per model, no episode
    assert not (tmp_path / "output").exists()


def test_missing_credentials_is_one_line_and_exit_2(cli, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    models = ("--model", f"bedrock:{HAIKU}", "--critic-model", f"bedrock:{SONNET}")
    result = cli("generate", *models, "--endpoint-url", "http://127.0.0.1:9")
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("bedrock: no AWS credentials found; set AWS_PROFILE")
    assert not (tmp_path / "output").exists()


def test_an_unreachable_endpoint_is_one_line_and_exit_2(cli, tmp_path):
    result = cli("generate", "--model", f"bedrock:{HAIKU}", "--endpoint-url", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert (
        result.output
        == "bedrock: cannot reach the Bedrock endpoint http://127.0.0.1:9/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse\n"
    )


def test_unknown_openai_model_is_exit_2(cli, tmp_path, serve):
    url, _ = serve("openai", known_models={"qwen3"})
    result = cli("generate", "--model", "openai:nope", "--base-url", f"{url}/v1")
    assert result.exit_code == 2
    assert result.output.strip() == "openai:nope: unknown model on this server"


@pytest.mark.parametrize("workers", ["1", "2"])  # with worker processes, their usage reaches the run's budget
def test_budget_stops_the_run_cleanly_and_keeps_what_finished(cli, tmp_path, serve, workers):
    url, _ = serve("converse")
    result = cli(
        "generate", "--count", "30", "--seed", "1", "--concurrency", "2", "--budget-usd", "0.01",
        "--model", f"bedrock:{SONNET}", "--endpoint-url", url, "--workers", workers,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records, summary = stored(tmp_path)
    assert summary["stopped_by_budget"] and 0 < summary["episodes"] < 30
    assert summary["cost_usd"] >= 0.01
    # in-flight episodes finish: at most `concurrency` episodes started after the cap was crossed
    assert summary["cost_usd"] - 0.01 < 2 * max(r.provenance.cost_usd for r in records) + 0.01
    assert len(records) == summary["accepted"] and "reached, run stopped early" in result.output


def test_budget_needs_a_price_for_every_model(cli, tmp_path, serve):
    url, _ = serve("converse")
    result = cli("generate", "--budget-usd", "1", "--model", "bedrock:my.custom-model-v1:0", "--endpoint-url", url)
    assert result.exit_code == 2
    assert "--budget-usd: no price for bedrock:my.custom-model-v1:0" in result.output


@pytest.mark.parametrize(
    ("quirks", "mechanism"),
    [
        ({"tool_calls_as": "hermes"}, "text_parse"),
        ({"tool_calls_as": "fenced"}, "text_parse"),
        ({"tool_calls_as": "bare"}, "text_parse"),
        ({"named_tool_choice": False, "tool_calls_as": "hermes"}, "text_parse"),
        ({"nulls": True}, "tool_call"),
        ({"prose_for_output": True}, "response_format"),
    ],
    ids=["hermes-tags", "fenced-json", "bare-json", "named-choice-refused", "null-fields", "prose-for-the-answer"],
)
def test_structured_output_survives_how_real_servers_and_small_models_answer(cli, tmp_path, serve, quirks, mechanism):
    """Tool calls written as text, a refused named tool_choice, null for every optional field: no episode fails
    on output parsing, and the summary says which mechanism answered."""
    url, _ = serve("openai", **quirks)
    result = cli("generate", "--count", "4", "--seed", "2", "--model", "openai:small", "--base-url", f"{url}/v1")
    assert result.exit_code == 0, result.output
    records, summary = stored(tmp_path)
    assert summary["failed"] == 0 and len(records) == summary["accepted"] > 0, summary["top_reasons"]
    mechanisms = summary["model_stats"]["openai:small"]["structured_output"]
    assert mechanisms.get(mechanism, 0) > 0, mechanisms


def test_a_refused_named_tool_choice_falls_back_to_the_json_schema(serve):
    """A forced structured output, on a server that refuses a named tool_choice: asked with response_format."""
    import asyncio

    from agents.metering import ModelMeter
    from agents.ratelimit import RateLimiter
    from agents.settings import Retry
    from agents.structured import TolerantOpenAIModel
    from agents.user_simulator import SimulatedRequest, user_instructions
    from simulation.domains import get_domain

    url, provider = serve("openai", named_tool_choice=False)
    meter = ModelMeter("openai:small", None, RateLimiter(), Retry())
    model = TolerantOpenAIModel(
        on_mechanism=meter.count_mechanism,
        client_args={"api_key": "x", "base_url": f"{url}/v1", "max_retries": 0},
        model_id="small",
        stream=False,
    )
    system = user_instructions(get_domain("kyc").card.user_simulator).system_prompt
    brief = [{"role": "user", "content": [{"text": '```json\n{"request_type": "off_topic", "variant": 3}\n```'}]}]
    spec = {"name": "SimulatedRequest", "description": "The message.",
            "inputSchema": {"json": SimulatedRequest.model_json_schema()}}  # fmt: skip

    async def ask():
        forced = {"tool": {"name": "SimulatedRequest"}}
        return [event async for event in model.stream(brief, [spec], system, tool_choice=forced)]

    events = asyncio.run(ask())
    starts = [e["contentBlockStart"]["start"]["toolUse"]["name"] for e in events if "contentBlockStart" in e]
    assert starts == ["SimulatedRequest"] and meter.stats.structured_output == {"response_format": 1}
    assert model.named_choice is False


def test_the_preflight_ping_is_counted_with_its_cached_tokens_as_cached(serve):
    """The ping is a paid call: counted in the model's tokens. Sent again to a server that caches prompts, its prompt
    comes back as cached tokens, which count as cache reads (as the server processed them), not as new input."""
    from agents.preflight import preflight
    from agents.providers import build_lineup
    from agents.settings import ModelSettings
    from simulation.domains import get_domain

    url, _ = serve("openai")
    spec = "openai:llama-3.3-70b"
    settings = ModelSettings.model_validate({"models": {"user": spec}, "openai": {"base_url": f"{url}/v1"}})
    policy = get_domain("kyc").simulated_task_policy(0.0)
    seen = []
    for _ in range(2):
        lineup = build_lineup(settings, sim=SimSettings(), task_policy=policy)
        preflight(lineup)
        seen.append(lineup.meters[spec].snapshot().tokens)
    assert (seen[0].input, seen[0].cache_read, seen[0].output) == (8, 0, 1)
    assert (seen[1].input, seen[1].cache_read, seen[1].output) == (1, 7, 1)

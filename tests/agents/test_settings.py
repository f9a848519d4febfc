"""goldsmith.yaml and the model flags: specs per role, a jury, inference defaults, bad input as exit 2."""

import pytest

from agents.pricing import Price, load_prices
from agents.settings import ModelSettings, load_settings, with_overrides
from config import InputError
from store.records import TokenUsage
from tests.conftest import ROOT


def write(tmp_path, text: str):
    path = tmp_path / "goldsmith.yaml"
    path.write_text(text)
    return path


def test_config_file_roles_jury_and_inference(tmp_path):
    settings = load_settings(
        write(
            tmp_path,
            "models:\n"
            "  user: bedrock:us.amazon.nova-micro-v1:0\n"
            "  critic:\n"
            "    - bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0\n"
            "    - openai:gpt-oss-120b\n"
            "inference:\n"
            "  task: {temperature: 0.5}\n"
            "limits:\n"
            "  openai:gpt-oss-120b: {rpm: 30}\n",
        )
    )
    assert settings.models.task == "simulated"
    assert settings.models.critic == ["bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0", "openai:gpt-oss-120b"]
    assert settings.inference["task"].temperature == 0.5 and settings.inference["task"].max_tokens == 4096
    assert settings.inference["critic"].temperature == 0.0
    assert settings.limit_for("openai:gpt-oss-120b").rpm == 30 and settings.limit_for("simulated").rpm is None


def test_flags_override_the_file(tmp_path):
    base = load_settings(write(tmp_path, "models:\n  task: bedrock:a.b-v1:0\nbedrock:\n  region: eu-west-1\n"))
    settings = with_overrides(base, model="openai:m", critic_model="simulated,simulated", region="us-east-1", rpm=5)
    assert (settings.models.user, settings.models.task, settings.models.critic) == (
        "openai:m",
        "openai:m",
        ["simulated", "simulated"],
    )
    assert settings.bedrock.region == "us-east-1" and settings.default_limit.rpm == 5


def test_no_file_means_all_simulated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(None) == ModelSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "models:\n  user: bedrok:x\n",
            "goldsmith.yaml:2: models.user: unknown model; write simulated, bedrock:<model-id> or openai:<model>, "
            "got 'bedrok:x'",
        ),
        (
            "models:\n  critic:\n    - simulated\n    - 'bedrock:'\n",
            "goldsmith.yaml:4: models.critic[1]: name the model, e.g. bedrock:<model-id>, got 'bedrock:'",
        ),
        ("inference:\n  critic:\n    temperature: 3\n", "goldsmith.yaml:3: inference.critic.temperature:"),
        ("budget_usd: -1\n", "goldsmith.yaml:1: budget_usd:"),
        ("bedrok:\n  region: x\n", "goldsmith.yaml:1: bedrok: unknown key (did you mean 'bedrock'?)"),
    ],
)
def test_bad_config_names_file_line_and_field(tmp_path, text, expected):
    with pytest.raises(InputError) as err:
        load_settings(write(tmp_path, text))
    (problem,) = err.value.problems
    assert problem.startswith(str(tmp_path / expected)), problem


def test_bad_model_flag_is_exit_2_with_the_flag_named(cli, tmp_path):
    result = cli("generate", "--critic-model", "simulated,gpt4")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "--critic-model: unknown model; write simulated, bedrock:<model-id> or openai:<model>, got 'gpt4'"
    )
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models:\n  task: 'bedrock:'\n", "2: models.task: name the model, e.g. bedrock:<model-id>, got 'bedrock:'"),
        (
            "models:\n  task: bedrock:\n",
            "2: yaml: a value on this line contains ': ' or ends in ':'; put the value in quotes",
        ),
    ],
)
def test_bad_config_file_is_exit_2_and_nothing_written(cli, tmp_path, text, expected):
    path = write(tmp_path, text)
    result = cli("generate", "--config", str(path))
    assert result.exit_code == 2
    assert result.output == f"{path}:{expected}\n"
    assert not (tmp_path / "output").exists()


def test_prices_cost_per_token_kind_and_inference_profiles_fall_back_to_the_model():
    price = Price(input=3, output=15, cache_read=0.3, cache_write=3.75)
    usage = TokenUsage(input=1_000_000, output=100_000, cache_read=2_000_000, cache_write=100_000)
    assert price.cost(usage) == pytest.approx(3 + 1.5 + 0.6 + 0.375)
    table = load_prices()
    assert table.for_spec("bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0") == table.for_spec(
        "bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert table.for_spec("bedrock:nobody.knows-v1:0") is None
    assert Price(input=1, output=2).cost(TokenUsage(cache_read=1_000_000)) == 1  # cache priced as input by default


def test_a_price_file_overrides_the_bundled_table(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("prices:\n  bedrock:my.model-v1:0: {input: 1, output: 2}\n  simulated: {input: 5, output: 5}\n")
    table = load_prices(path)
    assert table.for_spec("bedrock:my.model-v1:0").output == 2 and table.for_spec("simulated").input == 5
    assert table.for_spec("bedrock:amazon.nova-lite-v1:0") is not None


def test_the_documented_example_config_loads():
    settings = load_settings(ROOT / "goldsmith.example.yaml")
    assert settings.models.critic == ["bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"]
    assert settings.budget_usd == 5 and settings.bedrock.region == "us-east-1"

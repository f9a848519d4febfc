"""Model settings: which model plays each role and how it is called (`goldsmith.yaml`, CLI flags on top).

A model spec is `simulated`, `bedrock:<model-id or inference-profile id>` or `openai:<model>`. The critic
may be a list of specs: a judge jury.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from config import InputError, load_yaml_model
from store.records import Strict

Role = Literal["user", "task", "critic"]
ROLES: tuple[Role, ...] = ("user", "task", "critic")
PREFIXES = ("simulated", "bedrock", "openai")
CONFIG_FILE = "goldsmith.yaml"


def check_spec(spec: str) -> str:
    """A model spec, checked for shape: a known prefix, and a model name where the provider needs one."""
    prefix, colon, name = spec.partition(":")
    if prefix not in PREFIXES:
        raise ValueError("unknown model; write simulated, bedrock:<model-id> or openai:<model>")
    if prefix == "simulated" and colon:
        raise ValueError("the simulated provider takes no model name; write simulated")
    if prefix != "simulated" and not name.strip():
        raise ValueError(f"name the model, e.g. {prefix}:<model-id>")
    return spec


def _split_jury(value: Any) -> Any:
    """`a,b` (as the CLI writes it) or a YAML list, or one spec: always a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


ModelSpec = Annotated[str, AfterValidator(check_spec)]
Jury = Annotated[list[ModelSpec], BeforeValidator(_split_jury), Field(min_length=1)]


class RoleModels(Strict):
    """Which model plays each role. A cheap user simulator and a strong critic is the usual pattern."""

    user: ModelSpec = "simulated"
    task: ModelSpec = "simulated"
    critic: Jury = Field(default_factory=lambda: ["simulated"])

    def specs(self) -> list[str]:
        """Every distinct model spec, in role order."""
        return list(dict.fromkeys([self.user, self.task, *self.critic]))

    def as_record(self) -> dict[str, str | list[str]]:
        """For provenance and manifests: the critic as one spec, or the jury's list."""
        critic = self.critic[0] if len(self.critic) == 1 else self.critic
        return {"user": self.user, "task": self.task, "critic": critic}


class Inference(Strict):
    """Inference settings for one role's model calls (ignored by the simulated models)."""

    temperature: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)


def _default_inference() -> dict[Role, Inference]:
    return {
        "user": Inference(temperature=0.8, max_tokens=1024),
        "task": Inference(temperature=0.2, max_tokens=4096),
        "critic": Inference(temperature=0.0, max_tokens=2048),
    }


class Bedrock(Strict):
    region: str | None = Field(None, description="AWS region  [default: the profile's, AWS_REGION, us-west-2]")
    profile: str | None = Field(None, description="AWS named profile")
    endpoint_url: str | None = Field(None, description="bedrock-runtime endpoint (VPC endpoint, local test server)")
    max_attempts: int = Field(4, ge=1, description="botocore attempts per call, adaptive retry mode")
    read_timeout_s: int = Field(300, ge=1)
    streaming: bool = Field(False, description="ConverseStream instead of Converse; a batch job needs no stream")
    prompt_caching: bool = Field(True, description="Claude: cache points after the system prompt and the tools")


class OpenAI(Strict):
    base_url: str | None = Field(None, description="any OpenAI-compatible server: vLLM, Ollama, LM Studio")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    timeout_s: float = Field(
        300, gt=0, allow_inf_nan=False, description="per request; a timed-out request is retried by `retry`"
    )


class Batch(Strict):
    """Amazon Bedrock batch inference for the judge (`--judge-batch` on revalidate and evaluate). The quotas are
    your account's (Service Quotas, "batch inference"): the defaults are Bedrock's usual ones."""

    s3_uri: str | None = Field(
        None,
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,62}(/.*)?$",
        description="s3://bucket/prefix for job input and output",
    )
    role_arn: str | None = Field(
        None, pattern=r"^arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+$", description="the service role Bedrock assumes"
    )
    timeout_hours: int = Field(24, ge=24, le=168, description="a job not done by then ends Expired")
    min_records: int = Field(100, ge=1, description="fewer judge requests than this are judged on demand")
    max_records: int = Field(50_000, ge=1, description="records per job; more are split into several jobs")
    poll_s: float = Field(60, ge=0, description="seconds between job status checks")


class Retry(Strict):
    """strands' retry strategy, on top of the provider client's own retries."""

    max_attempts: int = Field(6, ge=1)
    initial_delay_s: float = Field(4, gt=0)
    max_delay_s: float = Field(240, gt=0)


class Limit(Strict):
    """Client-side rate limits for one model, shared by every role and episode that uses it."""

    rpm: int | None = Field(None, ge=1, description="requests per minute")
    tpm: int | None = Field(None, ge=1, description="tokens per minute (input tokens, estimated before the call)")


class ModelSettings(Strict):
    """The schema of goldsmith.yaml."""

    models: RoleModels = Field(default_factory=RoleModels)
    inference: dict[Role, Inference] = Field(default_factory=_default_inference)
    bedrock: Bedrock = Field(default_factory=Bedrock)
    openai: OpenAI = Field(default_factory=OpenAI)
    batch: Batch = Field(default_factory=Batch)
    retry: Retry = Field(default_factory=Retry)
    limits: dict[ModelSpec, Limit] = Field(default_factory=dict, description="per model spec")
    default_limit: Limit = Field(default_factory=Limit, description="for every model not named in limits")
    prices: Path | None = Field(None, description="a price table merged over the bundled one")
    budget_usd: float | None = Field(None, gt=0)
    tool_budget: int = Field(
        16, ge=1, description="tool calls per task-agent attempt; beyond it the model is asked to answer"
    )
    output_retries: int = Field(
        2,
        ge=0,
        description="how many times a structured output that fails validation is sent back to the model with the error",
    )

    @model_validator(mode="after")
    def _fill_inference(self) -> ModelSettings:
        defaults = _default_inference()
        for role in ROLES:
            given = self.inference.get(role)
            base = defaults[role]
            self.inference[role] = (
                base if given is None else base.model_copy(update=given.model_dump(exclude_unset=True))
            )
        return self

    def limit_for(self, spec: str) -> Limit:
        return self.limits.get(spec, self.default_limit)


def load_settings(path: Path | None) -> ModelSettings:
    """goldsmith.yaml from `path`, or ./goldsmith.yaml when it exists, else the defaults (all simulated)."""
    if path is None:
        path = Path(CONFIG_FILE)
        if not path.exists():
            return ModelSettings()
    settings = load_yaml_model(path, ModelSettings)
    if settings.prices is not None and not settings.prices.is_absolute():
        settings.prices = path.parent / settings.prices
    return settings


def with_overrides(settings: ModelSettings, **flags: Any) -> ModelSettings:
    """`settings` with the CLI flags that were given (None = not given) laid on top; bad values are InputErrors."""
    data = settings.model_dump(exclude_unset=False)
    models, blame = data["models"], {}
    for role in ROLES:
        flag = next((f for f in (f"{role}_model", "model") if flags.get(f)), None)
        if flag:
            models[role] = flags[flag]
            blame[f"models.{role}"] = "--" + flag.replace("_", "-")
    for key in ("region", "profile", "endpoint_url"):
        if flags.get(key) is not None:
            data["bedrock"][key] = flags[key]
    if flags.get("base_url") is not None:
        data["openai"]["base_url"] = flags["base_url"]
    for key in ("rpm", "tpm"):
        if flags.get(key) is not None:
            data["default_limit"][key] = flags[key]
            for limit in data["limits"].values():
                limit[key] = flags[key]
    if flags.get("budget_usd") is not None:
        data["budget_usd"] = flags["budget_usd"]
    try:
        return ModelSettings.model_validate(data)
    except ValueError as exc:
        raise InputError(_flag_problems(exc, blame)) from None


def _flag_problems(exc: Any, blame: dict[str, str]) -> list[str]:
    """One line per bad flag (a bad --model is one line, not one per role)."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
        flag = blame.get(where, "--" + where.rsplit(".", 1)[-1].replace("_", "-"))
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{flag}: {message}, got {err['input']!r}")
    return list(dict.fromkeys(problems))

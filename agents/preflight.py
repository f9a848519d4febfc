"""Before a batch starts: one cheap call (one output token) to every real model in the lineup, so missing
credentials, a model without access or a mistyped model id is one clear line, not 40 failed episodes. The call is
paid like any other: its tokens count in the model's totals and cost."""

from __future__ import annotations

from typing import Any

from agents.providers import Lineup, RoleModel
from config import InputError
from store.records import TokenUsage

PING = "Reply with the single word OK."


class ProviderProblem(Exception):
    """A problem with the provider, not one model (no credentials, no region, endpoint unreachable)."""


def preflight(lineup: Lineup) -> None:
    """Check each distinct real model once; raise InputError with one line per model that cannot be used,
    or one line for the provider when nothing of it can be used."""
    problems = []
    seen: set[str] = set()
    for model in [lineup.user, lineup.task, *lineup.critic]:
        if model.spec in seen or model.spec == "simulated":
            continue
        seen.add(model.spec)
        provider = model.spec.partition(":")[0]
        try:
            problem = CHECKS[provider](model)
        except ProviderProblem as exc:
            raise InputError(f"{provider}: {exc}") from None
        if problem:
            problems.append(f"{model.spec}: {problem}")
    if problems:
        raise InputError(problems)


def _check_bedrock(model: RoleModel) -> str | None:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    bedrock = model.build()
    client = bedrock.client
    region = client.meta.region_name
    try:
        answer = client.converse(
            modelId=bedrock.config["model_id"],
            messages=[{"role": "user", "content": [{"text": PING}]}],
            inferenceConfig={"maxTokens": 1},
        )
        usage = answer.get("usage", {})
        model.meter.charge_reported(TokenUsage(input=usage.get("inputTokens", 0), output=usage.get("outputTokens", 0)))
    except (NoCredentialsError, PartialCredentialsError):
        raise ProviderProblem(
            "no AWS credentials found; set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
        ) from None
    except NoRegionError:
        raise ProviderProblem("no AWS region; set --region or AWS_REGION") from None
    except EndpointConnectionError as exc:
        raise ProviderProblem(f"cannot reach the Bedrock endpoint {exc.kwargs.get('endpoint_url', '')}") from None
    except ClientError as exc:
        return _bedrock_client_error(exc, region)
    return None


def _bedrock_client_error(exc: Any, region: str) -> str | None:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    if code in {"ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"}:
        return None  # the model exists and we may call it; the batch's retries handle the rest
    if code in {"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}:
        return f"AWS rejected the credentials ({code}); refresh them (e.g. `aws sso login`)"
    if code == "AccessDeniedException":
        return (
            f"access denied in {region}: allow bedrock:InvokeModel on this model (and its inference profile) "
            "and enable model access in the Bedrock console"
        )
    if code == "ResourceNotFoundException" or (code == "ValidationException" and "model identifier" in message):
        return f"unknown model id in {region} (check the id, or use an inference profile id such as us.<model-id>)"
    if code == "ValidationException" and "on-demand throughput" in message:
        return f"this model needs an inference profile id in {region} (e.g. us.<model-id>)"
    return f"{code}: {message}"


def _check_openai(model: RoleModel) -> str | None:
    import openai

    client_args = dict(model.build().client_args)
    try:
        with openai.OpenAI(**client_args) as client:
            answer = client.chat.completions.create(
                model=model.spec.partition(":")[2], messages=[{"role": "user", "content": PING}], max_tokens=1
            )
        if answer.usage is not None:  # a paid call like any other: counted (a cached prompt as cached), and priced
            details = answer.usage.prompt_tokens_details
            cached = (details.cached_tokens or 0) if details is not None else 0
            usage = answer.usage
            model.meter.charge_reported(
                TokenUsage(input=usage.prompt_tokens, output=usage.completion_tokens, cache_read=cached)
            )
    except openai.APIConnectionError:
        raise ProviderProblem(f"cannot reach {client_args.get('base_url') or 'the OpenAI API'}") from None
    except openai.AuthenticationError:
        raise ProviderProblem("the API key was rejected") from None
    except openai.NotFoundError:
        return "unknown model on this server"
    except openai.RateLimitError:
        return None
    except openai.APIStatusError as exc:
        return f"HTTP {exc.status_code}: {exc.message}"
    return None


CHECKS = {"bedrock": _check_bedrock, "openai": _check_openai}

"""Per-model accounting and call control: rate limits before each call, transient errors and retries
counted, tokens priced. One `ModelMeter` per model spec, shared by every role and episode using it."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from strands import ModelRetryStrategy
from strands.hooks import AfterModelCallEvent, BeforeModelCallEvent, HookRegistry
from strands.types.exceptions import ModelThrottledException

from agents.pricing import Price
from agents.ratelimit import RateLimiter
from agents.settings import Retry
from store.records import Strict, TokenUsage

# provider errors worth retrying: the model is busy or warming up, not wrong
TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException", "InternalServerException"}
)


# OpenAI client errors worth retrying (by name: the openai package is only imported for openai: models)
TRANSIENT_CLIENT_ERRORS = frozenset({"APITimeoutError", "APIConnectionError"})


def is_transient(exc: BaseException) -> bool:
    """Throttling (any provider), a timeout or dropped connection, or a Bedrock / HTTP error that says "try
    again"."""
    if isinstance(exc, ModelThrottledException) or type(exc).__name__ in TRANSIENT_CLIENT_ERRORS:
        return True
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code") in TRANSIENT_CODES:
        return True
    return getattr(exc, "status_code", None) in {500, 502, 503, 504, 529}


def uncached_input(spec: str, usage: TokenUsage) -> TokenUsage:
    """Usage in Goldsmith's accounting, where `input` counts the uncached input tokens only (as Bedrock reports
    them), so each token is priced once. OpenAI-compatible servers count cached tokens inside `prompt_tokens`
    (`prompt_tokens_details.cached_tokens`): those are taken out of `input`."""
    if not spec.startswith("openai:"):
        return usage
    cached = usage.cache_read + usage.cache_write
    return usage.model_copy(update={"input": max(0, usage.input - cached)})


@dataclass
class Spend:
    """What some model calls used: tokens by kind and their estimated cost."""

    tokens: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float = 0.0

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.tokens + other.tokens, self.cost_usd + other.cost_usd)


class ModelStats(Strict):
    """A model's calls over a run, as the run summary reports them."""

    calls: int = 0
    client_retries: int = 0  # retries the provider's client made itself (botocore adaptive mode)
    transient_errors: int = 0  # throttling / unavailable errors that reached strands, which retried them
    rate_limit_wait_s: float = 0.0
    tokens: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    priced: bool = True
    structured_output: dict[str, int] = {}  # openai: models: which mechanism answered (agents/structured.py)

    def __add__(self, other: ModelStats) -> ModelStats:
        """These stats and `other`'s (a worker's), added up."""
        mechanisms = dict(self.structured_output)
        for name, count in other.structured_output.items():
            mechanisms[name] = mechanisms.get(name, 0) + count
        return ModelStats(
            calls=self.calls + other.calls,
            client_retries=self.client_retries + other.client_retries,
            transient_errors=self.transient_errors + other.transient_errors,
            rate_limit_wait_s=self.rate_limit_wait_s + other.rate_limit_wait_s,
            tokens=self.tokens + other.tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            priced=self.priced,
            structured_output=mechanisms,
        )


def summed_by_model(stats: Iterable[tuple[str, ModelStats]]) -> dict[str, ModelStats]:
    """(model spec, stats) pairs of several meters, added up per model spec (candidates can share a model)."""
    total: dict[str, ModelStats] = {}
    for spec, each in stats:
        total[spec] = total[spec] + each if spec in total else each
    return total


class ModelMeter:
    """Rate limiting, retry policy and accounting for one model spec."""

    def __init__(self, spec: str, price: Price | None, limiter: RateLimiter, retry: Retry):
        self.spec = spec
        self.price = price
        self.limiter = limiter
        self.retry = retry
        self.stats = ModelStats(priced=price is not None)
        self._lock = threading.Lock()  # the provider client reports retries from worker threads

    # strands hook provider: registered on every agent that calls this model
    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeModelCallEvent, self._before_call)
        registry.add_callback(AfterModelCallEvent, self._after_call)

    async def _before_call(self, event: BeforeModelCallEvent) -> None:
        await self.limiter.acquire(event.projected_input_tokens or 0)
        self.stats.calls += 1

    def _after_call(self, event: AfterModelCallEvent) -> None:
        if event.exception is not None and is_transient(event.exception):
            self.stats.transient_errors += 1

    def retry_strategy(self) -> ModelRetryStrategy:
        """strands' retry strategy (a fresh one per agent: it keeps per-invocation state), widened to every
        transient error, with this run's delays."""
        return _TransientRetry(
            max_attempts=self.retry.max_attempts,
            initial_delay=self.retry.initial_delay_s,  # type: ignore[arg-type]  # floats sleep fine
            max_delay=self.retry.max_delay_s,  # type: ignore[arg-type]
        )

    def charge_reported(self, usage: TokenUsage) -> Spend:
        """Record usage as strands read it from this model's provider (see `uncached_input`)."""
        return self.charge(uncached_input(self.spec, usage))

    def count_mechanism(self, name: str) -> None:
        """Count the mechanism that answered a call (tool_call, response_format, text_parse, text)."""
        with self._lock:
            self.stats.structured_output[name] = self.stats.structured_output.get(name, 0) + 1

    def count_client_retries(self, attempts: int) -> None:
        with self._lock:
            self.stats.client_retries += attempts

    def snapshot(self) -> ModelStats:
        """The stats so far, with the time spent waiting on the rate limiter."""
        return self.stats.model_copy(update={"rate_limit_wait_s": round(self.limiter.waited_s, 3)})

    def charge(self, usage: TokenUsage) -> Spend:
        """Record `usage` (Goldsmith's accounting) against this model; its estimated cost (0 when unpriced)."""
        cost = self.price.cost(usage) if self.price else 0.0
        self.stats.tokens += usage
        self.stats.cost_usd += cost
        return Spend(usage, cost)


class _TransientRetry(ModelRetryStrategy):
    def is_retryable(self, exception: Exception) -> bool:
        return is_transient(exception)


class Meters(dict[str, ModelMeter]):
    """The meters of a run, by model spec."""

    def cost_usd(self) -> float:
        return sum(m.stats.cost_usd for m in self.values())

    def unpriced(self) -> list[str]:
        return [spec for spec, m in self.items() if m.price is None]

    def stats(self) -> dict[str, ModelStats]:
        return {spec: m.snapshot() for spec, m in self.items()}

    def limiters(self) -> dict[str, RateLimiter]:
        """Each model's rate limiter, by model spec."""
        return {spec: m.limiter for spec, m in self.items()}

    def take(self) -> dict[str, ModelStats]:
        """Each model's stats since they were last taken, for the models that were used (a worker's report to its
        run); the meters start again from zero."""
        usage = {}
        for spec, meter in self.items():
            with meter._lock:
                stats, meter.stats = meter.stats, ModelStats(priced=meter.stats.priced)
            if stats != ModelStats(priced=stats.priced):
                usage[spec] = stats
        return usage

    def add(self, usage: dict[str, ModelStats]) -> None:
        """Add a worker's report (`take`) to these meters: the budget, the progress line and the summary read them."""
        for spec, stats in usage.items():
            meter = self[spec]
            with meter._lock:
                meter.stats += stats

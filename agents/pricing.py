"""Token prices per model spec (`agents/prices.yaml`, user-editable) and the cost of a call's usage."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field

from config import load_yaml_model
from store.records import Strict, TokenUsage

BUNDLED = Path(__file__).with_name("prices.yaml")
_GEO_PREFIX = re.compile(r"^bedrock:(?:us|eu|apac|jp|au|ca|us-gov|global)\.")


class Price(Strict):
    """US dollars per million tokens; cache prices default to the input price when not given."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)
    batch_input: float | None = Field(None, ge=0, description="batch inference; the on-demand price when not given")
    batch_output: float | None = Field(None, ge=0)

    def batch_cost(self, usage: TokenUsage) -> float:
        """What a batch inference job charges for `usage` (no prompt caching in batch)."""
        rate_in = self.input if self.batch_input is None else self.batch_input
        rate_out = self.output if self.batch_output is None else self.batch_output
        return (usage.input * rate_in + usage.output * rate_out) / 1_000_000

    def cost(self, usage: TokenUsage) -> float:
        per_token = (
            usage.input * self.input
            + usage.output * self.output
            + usage.cache_read * (self.input if self.cache_read is None else self.cache_read)
            + usage.cache_write * (self.input if self.cache_write is None else self.cache_write)
        )
        return per_token / 1_000_000


class PriceTable(Strict):
    prices: dict[str, Price]

    def for_spec(self, spec: str) -> Price | None:
        """The price of `spec`; an inference-profile id falls back to its bare model id."""
        return self.prices.get(spec) or self.prices.get(_GEO_PREFIX.sub("bedrock:", spec))


def load_prices(override: Path | None = None) -> PriceTable:
    """The bundled table, with `override`'s entries laid over it."""
    table = load_yaml_model(BUNDLED, PriceTable)
    if override is not None:
        table.prices.update(load_yaml_model(override, PriceTable).prices)
    return table

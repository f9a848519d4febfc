"""The task agent's tools over one crypto-market world: real `@tool` functions the agent framework executes.

Each docstring is what the model sees. Tools return JSON-serialisable data and raise ValueError for
an unknown id, ticker or currency, which the framework reports to the model as a failed tool call.
Parameters are plain types (str, int, float, bool) so other agent frameworks can wrap the same functions.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

from strands import tool

from simulation.domains.crypto.world import HISTORY_DAYS, Asset, CryptoWorld, Exchange, significant

TOP_MOVERS = 5


def find_asset(world: CryptoWorld, symbol: str) -> Asset:
    """The asset a ticker or an asset id names; ValueError when there is none, or the ticker is shared."""
    key = symbol.strip()
    by_id = world.by_id.get(key)
    if isinstance(by_id, Asset):
        return by_id
    matches = world.assets_by_symbol.get(key.upper(), [])
    if not matches:
        raise ValueError(f"no asset with ticker or id {symbol!r}")
    if len(matches) > 1:
        named = ", ".join(f"{a.id} ({a.name})" for a in matches)
        raise ValueError(f"ticker {key.upper()} is shared by {named}; pass the asset id instead")
    return matches[0]


def build_tools(world: CryptoWorld) -> list[Any]:
    """The ten market-data tools, bound to `world`."""
    as_of = world.as_of
    exchange_names = {e.id: e.name for e in world.exchanges}

    asset_for = partial(find_asset, world)

    def usd_per_unit(currency: str) -> float:
        code = currency.strip().upper()
        if code == "USD":
            return 1.0
        if code not in world.usd_per_unit:
            raise ValueError(f"unsupported currency {currency!r}; supported: USD, {', '.join(world.usd_per_unit)}")
        return world.usd_per_unit[code]

    def change_pct(asset: Asset, days: int) -> float:
        bars = world.prices_by_asset[asset.id]
        return round(100 * (bars[-1].close / bars[-1 - days].close - 1), 2)

    def market_cap(asset: Asset) -> float:
        return round(world.prices_by_asset[asset.id][-1].close * asset.circulating_supply, 2)

    def check_days(days: int) -> None:
        if not 1 <= days <= HISTORY_DAYS:
            raise ValueError(f"days must be between 1 and {HISTORY_DAYS}, got {days}")

    @tool
    def search_assets(query: str) -> list[dict]:
        """Find assets by ticker symbol, asset id or name (case-insensitive). Use when a ticker may be shared
        by several assets or you only know part of a name.

        Args:
            query: A ticker (e.g. HLX), an asset id (e.g. AS-0007) or words of the asset's name.
        """
        words = query.casefold().split()
        return [
            {"asset_id": a.id, "symbol": a.symbol, "name": a.name, "sector": a.sector, "market_cap_usd": market_cap(a)}
            for a in world.assets
            if words
            and (
                " ".join(words) in {a.symbol.casefold(), a.id.casefold()} or all(w in a.name.casefold() for w in words)
            )
        ]

    @tool
    def get_price(symbol: str, currency: str = "USD") -> dict:
        """Get an asset's latest daily price with its 24-hour and 7-day change, market cap and circulating and
        maximum supply.

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
            currency: Fiat currency to quote in: USD, EUR, GBP, CHF or JPY.
        """
        asset = asset_for(symbol)
        last = world.prices_by_asset[asset.id][-1]
        rate = usd_per_unit(currency)
        return {
            "id": last.id,
            "asset_id": asset.id,
            "symbol": asset.symbol,
            "name": asset.name,
            "date": last.date,
            "currency": currency.strip().upper(),
            "price": significant(last.close / rate),
            "change_24h_pct": change_pct(asset, 1),
            "change_7d_pct": change_pct(asset, 7),
            "market_cap": round(market_cap(asset) / rate, 2),
            "circulating_supply": asset.circulating_supply,
            "max_supply": asset.max_supply,
        }

    @tool
    def get_price_history(symbol: str, days: int = 30) -> list[dict]:
        """Get an asset's daily closing prices (USD) and traded volume (USD, all venues) over the last `days`
        days, oldest first: the close `days` days ago and every close since (days + 1 bars), so the move over
        the period is the last close against the first.

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
            days: How many days back, 1 to 90.
        """
        check_days(days)
        bars = world.prices_by_asset[asset_for(symbol).id][-days - 1 :]
        return [b.model_dump(exclude={"asset_id"}) for b in bars]

    @tool
    def get_market_overview() -> dict:
        """Get the whole market at a glance: total market cap and daily volume, the top gainers and losers of
        the last 7 days, and each sector's 7-day change (market-cap weighted)."""
        movers = sorted(
            (
                {"asset_id": a.id, "symbol": a.symbol, "name": a.name, "change_7d_pct": change_pct(a, 7)}
                for a in world.assets
            ),
            key=lambda m: m["change_7d_pct"],
        )
        sectors: dict[str, list[tuple[float, float]]] = {}
        for a in world.assets:
            sectors.setdefault(a.sector, []).append((market_cap(a), change_pct(a, 7)))
        return {
            "as_of": as_of,
            "total_market_cap_usd": round(sum(market_cap(a) for a in world.assets), 2),
            "total_volume_24h_usd": round(sum(world.prices_by_asset[a.id][-1].volume_usd for a in world.assets), 2),
            "top_gainers_7d": movers[::-1][:TOP_MOVERS],
            "top_losers_7d": movers[:TOP_MOVERS],
            "sector_change_7d_pct": {
                sector: round(sum(cap * change for cap, change in rows) / sum(cap for cap, _ in rows), 2)
                for sector, rows in sorted(sectors.items())
            },
        }

    @tool
    def get_exchange_listings(symbol: str) -> list[dict]:
        """List the exchanges where an asset trades or used to trade: pair, status, average daily volume over
        30 days, and bid depth (the USD that can be sold within 2% of the mid price). A delisted market shows
        the figures last recorded before it closed (`delisted_on`); its bids are no longer there.

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
        """
        rows = world.listings_by_asset.get(asset_for(symbol).id, [])
        return [{"exchange": exchange_names[row.exchange_id], **row.model_dump(exclude={"asset_id"})} for row in rows]

    @tool
    def get_exchange_info(exchange_id: str) -> dict:
        """Get an exchange's profile: kind (centralized or decentralized), jurisdiction, founding year, whether
        it publishes proof of reserves, and how many assets it lists.

        Args:
            exchange_id: Exchange id, e.g. EX-03.
        """
        exchange = world.by_id.get(exchange_id.strip())
        if not isinstance(exchange, Exchange):
            raise ValueError(f"no exchange with id {exchange_id!r}")
        listed = sum(row.exchange_id == exchange.id and row.status == "active" for row in world.listings)
        return {**exchange.model_dump(), "active_listings": listed}

    @tool
    def get_token_unlocks(symbol: str, include_past: bool = False) -> list[dict]:
        """List an asset's scheduled token unlocks (tokens released from vesting to team, investors or funds),
        soonest first. The share given is of the maximum supply; use get_price for the circulating supply.

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
            include_past: Also list unlocks that already happened.
        """
        rows = world.unlocks_by_asset.get(asset_for(symbol).id, [])
        return [
            {
                **u.model_dump(exclude={"asset_id"}),
                "days_from_now": (date.fromisoformat(u.date) - date.fromisoformat(as_of)).days,
            }
            for u in rows
            if include_past or u.date > as_of
        ]

    @tool
    def get_news(symbol: str, days: int = 30) -> list[dict]:
        """Get news about an asset from the last `days` days, newest first, with each item's sentiment.

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
            days: How many days back, 1 to 90.
        """
        check_days(days)
        since = (date.fromisoformat(as_of) - timedelta(days=days)).isoformat()
        rows = world.news_by_asset.get(asset_for(symbol).id, [])
        return [n.model_dump(exclude={"asset_id"}) for n in reversed(rows) if n.date > since]

    @tool
    def get_onchain_metrics(symbol: str) -> dict:
        """Get an asset's latest on-chain snapshot: holder count, share of supply held by the ten largest
        wallets, active addresses over 7 days, and net flow to exchanges over 7 days (USD; positive means
        tokens moving onto exchanges).

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
        """
        asset = asset_for(symbol)
        return {"symbol": asset.symbol, **world.onchain_by_asset[asset.id].model_dump()}

    @tool
    def convert_currency(amount: float, from_currency: str, to_currency: str) -> dict:
        """Convert an amount between fiat currencies (USD, EUR, GBP, CHF, JPY) at today's reference rate.
        For crypto assets use get_price.

        Args:
            amount: The amount to convert.
            from_currency: Currency code of the amount, e.g. EUR.
            to_currency: Currency code to convert into, e.g. USD.
        """
        rate = usd_per_unit(from_currency) / usd_per_unit(to_currency)
        codes = {from_currency.strip().upper(), to_currency.strip().upper()}
        return {
            "amount": amount,
            "from_currency": from_currency.strip().upper(),
            "to_currency": to_currency.strip().upper(),
            "rate": significant(rate),
            "converted": round(amount * rate, 2),
            "rate_ids": [r.id for r in world.fx_rates if r.currency in codes],
            "as_of": as_of,
        }

    return [
        search_assets,
        get_price,
        get_price_history,
        get_market_overview,
        get_exchange_listings,
        get_exchange_info,
        get_token_unlocks,
        get_news,
        get_onchain_metrics,
        convert_currency,
    ]

"""What a crypto-market assistant can do for the user, not just look up: set price alerts and keep a watchlist.

The state an action changes is the user's desk of one conversation: their price alerts (per asset, at most one
below and one above the price: a new one replaces the old) and their watchlist. `apply_action` is the one rule
for how an action changes it; the tools call it, and so does the case drawing, which applies a case's expected
actions to an empty desk to get the end state the conversation must leave. An asset is named in the state by
its ticker (by its asset id when several assets share the ticker), whatever the user or the assistant typed.

Which actions a conversation calls for (`alert_action`, `watchlist_action`): exactly what the user asked for,
no more. An alert "if it drops below X" is `set_price_alert(symbol, below, X)`; "if it rises above X" is the
same with `above`; "add it to my watchlist" is `add_to_watchlist(symbol)`.
"""

from __future__ import annotations

import math
from typing import Any

from strands import tool

from simulation.domains.base import ActionDesk
from simulation.domains.crypto.tools import find_asset
from simulation.domains.crypto.world import CryptoWorld
from store.records import ToolCall

ACTIONS = frozenset({"set_price_alert", "add_to_watchlist", "remove_from_watchlist"})
DIRECTIONS = ("below", "above")


def apply_action(state: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
    """Change `state` by one action; ValueError for an unknown action or arguments it refuses (the state is then
    unchanged)."""
    symbol = str(arguments.get("symbol", "")).strip()
    if not symbol:
        raise ValueError("symbol is required")
    watchlist = set(state.get("watchlist", []))
    if name == "set_price_alert":
        direction, price = str(arguments.get("direction", "")).strip().lower(), arguments.get("price")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
        if isinstance(price, bool) or not isinstance(price, int | float) or not math.isfinite(price) or price <= 0:
            raise ValueError("price must be a positive number (USD)")
        state.setdefault("alerts", {}).setdefault(symbol, {})[direction] = float(price)
        return
    if name == "add_to_watchlist":
        watchlist.add(symbol)
    elif name == "remove_from_watchlist":
        if symbol not in watchlist:
            raise ValueError(f"{symbol} is not on the watchlist")
        watchlist.discard(symbol)
    else:
        raise ValueError(f"no action {name!r}")
    if watchlist:
        state["watchlist"] = sorted(watchlist)
    else:
        state.pop("watchlist", None)


def alert_action(symbol: str, direction: str, price: float) -> ToolCall:
    """The alert the user asked for: on their asset, the way they said (below: "drops/falls below"; above:
    "rises/climbs above"), at the price they named."""
    return ToolCall(name="set_price_alert", input={"symbol": symbol, "direction": direction, "price": price})


def watchlist_action(symbol: str) -> ToolCall:
    """The asset the user asked to watch, added to their watchlist."""
    return ToolCall(name="add_to_watchlist", input={"symbol": symbol})


def asset_key(world: CryptoWorld, symbol: str) -> str:
    """How the state names the asset `symbol` (a ticker or an asset id) names: its ticker, or its asset id when
    the ticker is shared; ValueError when the world has no such asset, or the ticker is shared."""
    asset = find_asset(world, symbol)
    return asset.symbol if len(world.assets_by_symbol[asset.symbol]) == 1 else asset.id


class CryptoActionTools:
    """The action tools, decorated once (at class definition: strands builds each tool's spec and input model then);
    an instance binds them to one conversation's desk and the world's assets without decorating again (a `@tool`
    method read from an instance is the same tool bound to it)."""

    def __init__(self, desk: ActionDesk, world: CryptoWorld):
        self.desk = desk
        self.world = world

    def tools(self) -> list[Any]:
        """The action tools, bound to this desk."""
        return [self.set_price_alert, self.add_to_watchlist, self.remove_from_watchlist]

    @tool
    def set_price_alert(self, symbol: str, direction: str, price: float) -> dict:
        """Set a price alert for the user: they are told when the asset's price falls below (direction below) or
        rises above (direction above) a price. Only when the user asks for one, at the price they name. One
        alert per asset and direction: a new one replaces the old.

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
            direction: below or above.
            price: The price in USD at which the alert fires.
        """
        arguments = {"symbol": asset_key(self.world, symbol), "direction": direction, "price": price}
        return self.desk.act("set_price_alert", arguments)

    @tool
    def add_to_watchlist(self, symbol: str) -> dict:
        """Add an asset to the user's watchlist. Only when the user asks for it.

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
        """
        return self.desk.act("add_to_watchlist", {"symbol": asset_key(self.world, symbol)})

    @tool
    def remove_from_watchlist(self, symbol: str) -> dict:
        """Remove an asset from the user's watchlist. Only when the user asks for it.

        Args:
            symbol: Ticker symbol (e.g. HLX) or asset id (e.g. AS-0007).
        """
        return self.desk.act("remove_from_watchlist", {"symbol": asset_key(self.world, symbol)})


def build_action_tools(desk: ActionDesk, world: CryptoWorld) -> list[Any]:
    """The action tools, changing `desk` (one conversation's alerts and watchlist) for assets of `world`."""
    return CryptoActionTools(desk, world).tools()

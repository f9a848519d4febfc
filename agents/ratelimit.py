"""Client-side rate limits: requests and tokens per minute, over a sliding 60-second window.

One limiter per model, shared by every role and concurrent episode that calls that model; a call waits
until both budgets have room for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

WINDOW_S = 60.0


class RateLimiter:
    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.rpm = rpm
        self.tpm = tpm
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[tuple[float, int]] = deque()  # (time, tokens) of calls in the window
        self._lock = asyncio.Lock()
        self.waited_s = 0.0

    @property
    def active(self) -> bool:
        return bool(self.rpm or self.tpm)

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until one more call of `tokens` tokens fits in the last minute, then count it.

        A call bigger than the whole tpm budget is let through once the window is empty."""
        if not self.active:
            return
        async with self._lock:  # callers are served in arrival order
            while (wait := self._wait_for(tokens)) > 0:
                self.waited_s += wait
                await self._sleep(wait)
            self._sent.append((self._clock(), tokens))

    def _wait_for(self, tokens: int) -> float:
        now = self._clock()
        while self._sent and self._sent[0][0] <= now - WINDOW_S:
            self._sent.popleft()
        if not self._sent:
            return 0.0
        expires = self._sent[0][0] + WINDOW_S - now
        if self.rpm and len(self._sent) >= self.rpm:
            return expires
        if self.tpm and sum(t for _, t in self._sent) + tokens > self.tpm:
            return expires
        return 0.0

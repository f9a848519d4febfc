"""What a job's workers share wherever they run (this process, worker processes, a Ray cluster): each model's rate
limits (`Limits`, for every job) and, for a generation run's episodes, the screening of each new request against the
prompts already in the dataset or the run (`Coordinator`).

Requests are screened in case order (each waits until the one before it is screened, or will never be), so which
of two similar requests wins does not depend on where or when episodes run: the same seed gives the same dataset
at any concurrency, with any number of workers. Screening an episode again (a worker killed and its episode
retried) gives the same answer as the first time until the episode is released.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agents.ratelimit import RateLimiter
from store.dedup import PromptIndex


class Limits:
    """One per job: the models' rate limiters by model spec, for every worker's calls."""

    def __init__(self, limiters: dict[str, RateLimiter]):
        self.limiters = limiters

    async def acquire(self, spec: str, tokens: int) -> None:
        """Wait until model `spec`'s rate limits have room for one more call of `tokens` input tokens."""
        await self.limiters[spec].acquire(tokens)

    def waited(self) -> dict[str, float]:
        """Seconds calls waited on each model's rate limits."""
        return {spec: limiter.waited_s for spec, limiter in self.limiters.items()}


class Coordinator(Limits):
    """One per generation run. `key` names an accepted prompt in the index (the example id it will have)."""

    def __init__(self, index: PromptIndex, key: Callable[[str], str], limiters: dict[str, RateLimiter]):
        super().__init__(limiters)
        self.index = index
        self.key = key
        self.answers: dict[int, str | None] = {}  # episode -> its screening's answer, until it is released
        self.through = -1  # every episode up to this one is screened or released
        self.done: set[int] = set()  # episodes above `through` that are screened or released
        self.waiting: dict[int, asyncio.Event] = {}  # episode -> set once every episode before it is done

    async def screen(self, number: int, prompt: str) -> str | None:
        """Why episode `number`'s request must be turned away ("duplicate", "near_duplicate"), or None (it is
        indexed, so later requests must not repeat it)."""
        if number in self.answers:
            return self.answers[number]
        if number - 1 > self.through:
            await self.waiting.setdefault(number, asyncio.Event()).wait()
        match = self.index.match(prompt)
        if match is None:
            self.index.add(self.key(prompt), prompt)
        self.answers[number] = match.kind if match else None
        self._done(number)
        return self.answers[number]

    def release(self, number: int) -> None:
        """Episode `number` will screen no (more) requests: finished, failed, skipped, or resumed past screening."""
        self.answers.pop(number, None)
        self._done(number)

    def _done(self, number: int) -> None:
        if number <= self.through:
            return
        self.done.add(number)
        while self.through + 1 in self.done:
            self.through += 1
            self.done.remove(self.through)
        if (waiter := self.waiting.pop(self.through + 1, None)) is not None:
            waiter.set()

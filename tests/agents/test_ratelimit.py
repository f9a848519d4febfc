"""The client-side rate limiter on a fake clock: exact waits, no real sleeping."""

import asyncio

from agents.ratelimit import RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(limiter: RateLimiter, calls: list[tuple[float, int]], clock: FakeClock) -> list[float]:
    """Issue calls (at time t, with n tokens) in order; the times they were let through."""
    admitted = []

    async def go():
        for at, tokens in calls:
            clock.now = max(clock.now, at)
            await limiter.acquire(tokens)
            admitted.append(clock.now)

    asyncio.run(go())
    return admitted


def test_rpm_holds_the_third_call_until_the_first_leaves_the_window():
    clock = FakeClock()
    limiter = RateLimiter(rpm=2, clock=clock, sleep=clock.sleep)
    assert run(limiter, [(0, 0), (10, 0), (20, 0), (30, 0)], clock) == [0, 10, 60, 70]
    assert limiter.waited_s == 50  # 40 s for the third call, 10 s for the fourth


def test_tpm_counts_tokens_in_the_window():
    clock = FakeClock()
    limiter = RateLimiter(tpm=1000, clock=clock, sleep=clock.sleep)
    assert run(limiter, [(0, 600), (1, 300), (2, 300), (3, 100), (4, 400)], clock) == [0, 1, 60, 60, 61]


def test_a_call_bigger_than_the_tpm_budget_goes_through_alone():
    clock = FakeClock()
    limiter = RateLimiter(tpm=100, clock=clock, sleep=clock.sleep)
    assert run(limiter, [(0, 500), (0, 10)], clock) == [0, 60]


def test_no_limits_never_waits():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert run(limiter, [(0, 10**9)] * 100, clock) == [0] * 100 and clock.sleeps == []


def test_concurrent_callers_share_one_budget():
    clock = FakeClock()
    limiter = RateLimiter(rpm=3, clock=clock, sleep=clock.sleep)
    admitted = []

    async def caller():
        await limiter.acquire()
        admitted.append(clock.now)

    async def go():
        await asyncio.gather(*(caller() for _ in range(7)))

    asyncio.run(go())
    assert sorted(admitted) == [0, 0, 0, 60, 60, 60, 120]

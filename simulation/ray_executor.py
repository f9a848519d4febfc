"""`generate --executor ray`: a run's episodes played by Ray actors, on a local Ray instance or across a cluster
(`--ray-address`). Needs the `ray` extra (`pip install 'goldsmith[ray]'`), and Goldsmith installed on every node.

Each actor rebuilds the run's roles from the run's `WorkerSpec` (simulation/workers.py) and plays the episodes sent
to it, checkpointing them in the run's journal: the output location must be one every node reaches (S3, or a
shared filesystem). The run's screening and rate limits live in one coordinator actor, so RPM / TPM hold across the
cluster. An actor whose process dies is restarted by Ray and its episodes are retried there, each from the state the
run sent (a retried request is screened with the answer it had); nothing is committed by an actor: the run commits
once every episode is back, to the store's compare-and-swap, as with any executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config import InputError, RunFailed
from simulation.coordinator import Coordinator
from simulation.workers import EpisodeWorker, WorkerSpec

if TYPE_CHECKING:
    from agents.metering import Meters, ModelStats
    from agents.ratelimit import RateLimiter
    from simulation.episode import Episode


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray: needs Ray (pip install 'goldsmith[ray]')") from None
    return ray


class CoordinatorActor(Coordinator):
    """The run's coordinator as a Ray actor: it reads the dataset's prompt index itself (from the output location
    every node reaches) and keeps its own rate limiters, one per rate-limited model."""

    def __init__(self, spec: WorkerSpec, screened: list[tuple[str, str]], limits: dict[str, tuple[Any, Any]]):
        from functools import partial

        from agents.ratelimit import RateLimiter
        from simulation.episode import example_id
        from simulation.runner import prompt_index
        from store.dataset import Dataset

        dataset = Dataset(spec.config.output_dir, spec.settings.dataset)
        limiters = {name: RateLimiter(rpm, tpm) for name, (rpm, tpm) in limits.items()}
        super().__init__(prompt_index(dataset, screened), partial(example_id, spec.settings), limiters)

    async def release_async(self, number: int) -> None:
        self.release(number)

    async def waited_async(self) -> dict[str, float]:
        return self.waited()


class _ActorRemote:
    """An episode actor's way to the coordinator actor."""

    def __init__(self, coordinator: Any):
        self.coordinator = coordinator

    async def screen(self, number: int, prompt: str) -> str | None:
        return await self.coordinator.screen.remote(number, prompt)

    async def acquire(self, spec: str, tokens: int) -> None:
        await self.coordinator.acquire.remote(spec, tokens)


class EpisodeActor:
    """A Ray actor playing a run's episodes (restarted by Ray if its process dies)."""

    def __init__(self, spec: WorkerSpec, coordinator: Any):
        self.worker = EpisodeWorker(spec, _ActorRemote(coordinator))

    async def play(self, episode: Episode) -> tuple[Episode, dict[str, ModelStats]]:
        return await self.worker.play(episode)

    async def close(self) -> None:
        await self.worker.close()

    async def pid(self) -> int:
        import os

        return os.getpid()


class RayActors:
    """Episodes played by `workers` Ray actors (each episode to the actor with the fewest in flight)."""

    def __init__(
        self,
        spec: WorkerSpec,
        workers: int,
        limiters: dict[str, RateLimiter],
        meters: Meters,
        screened: list[tuple[str, str]],
    ):
        self.spec = spec
        self.workers = workers
        self.meters = meters
        self.limits = {s: (lim.rpm, lim.tpm) for s, lim in limiters.items() if lim.active}  # rebuilt in the actor
        self.screened = screened
        self.started = False

    async def __aenter__(self) -> RayActors:
        ray = _ray()
        if not ray.is_initialized():
            address = self.spec.config.ray_address
            try:
                ray.init(
                    address=address,
                    num_cpus=None if address else self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, ValueError) as exc:
                raise InputError(f"--ray-address {address}: {exc}") from None
            self.started = True
        coordinator = ray.remote(num_cpus=0)(CoordinatorActor)
        self.coordinator = coordinator.remote(self.spec, self.screened, self.limits)
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(EpisodeActor)
        self.actors = [actor.remote(self.spec, self.coordinator) for _ in range(self.workers)]
        self.in_flight = [0] * self.workers
        await self.coordinator.waited_async.remote()  # built: its errors (an unreadable dataset) surface here
        return self

    async def play(self, episode: Episode) -> Episode:
        ray = _ray()
        slot = min(range(self.workers), key=self.in_flight.__getitem__)
        self.in_flight[slot] += 1
        try:
            result, usage = await self.actors[slot].play.remote(episode)
        except ray.exceptions.RayError as exc:
            raise RunFailed(f"episode {episode.case.index} failed on Ray: {exc}") from None
        finally:
            self.in_flight[slot] -= 1
        self.meters.add(usage)
        return result

    def release(self, number: int) -> None:
        self.coordinator.release_async.remote(number)

    async def __aexit__(self, *exc: object) -> None:
        ray = _ray()
        try:
            if exc[0] is None:
                for actor in self.actors:
                    await actor.close.remote()  # every checkpoint written
                waited = await self.coordinator.waited_async.remote()
                for spec, seconds in waited.items():
                    self.meters[spec].limiter.waited_s += seconds
        finally:
            for actor in [*self.actors, self.coordinator]:
                ray.kill(actor)
            if self.started:
                ray.shutdown()

"""`--executor ray`: a job's items (a generation run's episodes, a re-validation's examples, an evaluation's goldens)
done by Ray actors, on a local Ray instance or across a cluster (`--ray-address`). Needs the `ray` extra
(`pip install 'goldsmith[ray]'`), and Goldsmith installed on every node.

Each actor builds its worker from the job's `Job` (simulation/workers.py) and does the items sent to it (an episode
checkpoints in the run's journal: the output location must be one every node reaches, S3 or a shared filesystem).
The job's rate limits (and a run's screening) live in one coordinator actor, so RPM / TPM hold across the cluster.
An actor whose process dies is restarted by Ray and its items are retried there, each from what the job sent (a
retried request is screened with the answer it had); nothing is committed by an actor: the job commits once every
item is back, to the store's compare-and-swap, as with any executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config import InputError, RunFailed

if TYPE_CHECKING:
    from agents.metering import Meters
    from simulation.workers import Job


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray: needs Ray (pip install 'goldsmith[ray]')") from None
    return ray


class CoordinatorActor:
    """The job's coordinator as a Ray actor, built there by the job (a run's reads the dataset's prompt index from
    the output location every node reaches), with its own rate limiters, one per rate-limited model."""

    def __init__(self, job: Job, limits: dict[str, tuple[Any, Any]]):
        from agents.ratelimit import RateLimiter

        self.coordinator = job.coordinator({name: RateLimiter(rpm, tpm) for name, (rpm, tpm) in limits.items()})

    async def screen(self, number: int, prompt: str) -> str | None:
        return await self.coordinator.screen(number, prompt)  # type: ignore[attr-defined]

    async def acquire(self, spec: str, tokens: int) -> None:
        await self.coordinator.acquire(spec, tokens)

    async def release(self, number: int) -> None:
        self.coordinator.release(number)  # type: ignore[attr-defined]

    async def waited(self) -> dict[str, float]:
        return self.coordinator.waited()


class _ActorRemote:
    """A worker actor's way to the coordinator actor."""

    def __init__(self, coordinator: Any):
        self.coordinator = coordinator

    async def screen(self, number: int, prompt: str) -> str | None:
        return await self.coordinator.screen.remote(number, prompt)

    async def acquire(self, spec: str, tokens: int) -> None:
        await self.coordinator.acquire.remote(spec, tokens)


class WorkerActor:
    """A Ray actor doing a job's items (restarted by Ray if its process dies)."""

    def __init__(self, job: Job, coordinator: Any):
        self.worker = job.worker(_ActorRemote(coordinator))

    async def run(self, item: Any) -> tuple[Any, dict[str, Any]]:
        """The item's result, with the model usage since the last report."""
        result = await self.worker.run(item)
        return result, self.worker.usage()

    async def close(self) -> None:
        await self.worker.close()

    async def pid(self) -> int:
        import os

        return os.getpid()


class RayActors:
    """A job's items done by `workers` Ray actors (each item to the actor with the fewest in flight)."""

    def __init__(self, job: Job, workers: int, meters: Meters, address: str | None):
        self.job = job
        self.workers = workers
        self.meters = meters
        self.address = address
        limiters = meters.limiters().items()
        self.limits = {s: (lim.rpm, lim.tpm) for s, lim in limiters if lim.active}  # rebuilt in the actor
        self.started = False

    async def __aenter__(self) -> RayActors:
        ray = _ray()
        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address,
                    num_cpus=None if self.address else self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, ValueError) as exc:
                raise InputError(f"--ray-address {self.address}: {exc}") from None
            self.started = True
        self.coordinator = ray.remote(num_cpus=0)(CoordinatorActor).remote(self.job, self.limits)
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(WorkerActor)
        self.actors = [actor.remote(self.job, self.coordinator) for _ in range(self.workers)]
        self.in_flight = [0] * self.workers
        await self.coordinator.waited.remote()  # built: its errors (an unreadable dataset) surface here
        return self

    async def run(self, item: Any) -> Any:
        ray = _ray()
        slot = min(range(self.workers), key=self.in_flight.__getitem__)
        self.in_flight[slot] += 1
        try:
            result, usage = await self.actors[slot].run.remote(item)
        except ray.exceptions.RayError as exc:
            if isinstance(cause := getattr(exc, "cause", None), InputError):  # bad input met in an actor
                raise cause from None
            raise RunFailed(f"failed on Ray: {exc}") from None
        finally:
            self.in_flight[slot] -= 1
        self.meters.add(usage)
        return result

    def release(self, number: int) -> None:
        """A generation run's episode `number` will screen no (more) requests."""
        self.coordinator.release.remote(number)

    async def __aexit__(self, *exc: object) -> None:
        ray = _ray()
        try:
            if exc[0] is None:
                for actor in self.actors:
                    await actor.close.remote()  # every checkpoint written
                waited = await self.coordinator.waited.remote()
                for spec, seconds in waited.items():
                    self.meters[spec].limiter.waited_s += seconds
        finally:
            for actor in [*self.actors, self.coordinator]:
                ray.kill(actor)
            if self.started:
                ray.shutdown()

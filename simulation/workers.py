"""Where a job's work is done: in the job's own process, in worker processes on this machine (`Processes`,
`--workers N`), or by Ray actors across a cluster (simulation/ray_executor.py). A job is a generation run's episodes,
a re-validation's examples or an evaluation's (golden, candidate) pairs.

A worker is built from the job's `Job` (what the job itself validated, pickled: never a file of the output
directory), does the items it is given (an episode checkpoints in the run's journal as in the run's own process) and
reports each result with the model usage it cost. What the items share stays with one coordinator
(simulation/coordinator.py): each model call of a rate-limited model takes its permit there, one round trip per
call, and a generation run's requests are screened there in case order. The job keeps the budget (usage is added to
its meters as results come), the lease and the commit.

Worker processes talk to the job over a Unix socket in a private temp directory: length-prefixed pickles, as
between the processes of one program (the socket is the job's own; nothing is read from the output directory).
A worker process that dies has its items done again by the others, from what the job sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import sys
import tempfile
import traceback
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field, model_validator

from config import InputError, RunFailed
from store.records import Strict

if TYPE_CHECKING:
    from agents.metering import Meters, ModelStats
    from agents.providers import Lineup
    from agents.ratelimit import RateLimiter
    from agents.settings import ModelSettings
    from agents.simulated.model import SimSettings
    from rubrics.model import Rubric
    from simulation.coordinator import Coordinator, Limits
    from simulation.domains.base import Domain
    from simulation.episode import Episode, EpisodeSettings, Roles
    from simulation.runner import RunConfig


class Executor(Protocol):
    """Does a job's items (`async with` it around them); `release` is for a generation run's episodes."""

    async def __aenter__(self) -> Executor: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def run(self, item: Any) -> Any: ...
    def release(self, number: int) -> None: ...


class Remote(Protocol):
    """A worker's way to the job's coordinator."""

    async def screen(self, number: int, prompt: str) -> str | None: ...
    async def acquire(self, spec: str, tokens: int) -> None: ...


class Worker(Protocol):
    """A job's roles rebuilt in a worker (process or Ray actor), doing the items it is given."""

    async def run(self, item: Any) -> Any: ...
    def usage(self) -> dict[str, ModelStats]: ...  # the model usage since the last report
    async def close(self) -> None: ...


class Job(Protocol):
    """What a worker is built from (pickled to it) and the coordinator its workers share."""

    def coordinator(self, limiters: dict[str, RateLimiter]) -> Limits: ...
    def worker(self, remote: Remote) -> Worker: ...


PER_LOOP = 32  # items in flight one event loop carries at full speed (bench/throughput.py, 200 ms model calls)


def cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ExecutorOptions(Strict):
    """How many items are in flight (`--concurrency`) and where they are done (`--workers`, `--executor`,
    `--ray-address`)."""

    concurrency: int = Field(4, ge=1)
    workers: int | None = Field(
        None, ge=1, description="worker processes (or Ray actors); None: one per 32 in flight, at most the cores"
    )
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None  # a Ray cluster to join; None: start a local Ray instance

    @model_validator(mode="after")
    def _ray_address(self) -> ExecutorOptions:
        if self.ray_address and self.executor != "ray":
            raise InputError("--ray-address: the cluster of --executor ray; give --executor ray too")
        return self

    @property
    def worker_count(self) -> int:
        """`workers`, or as many as `concurrency` keeps busy: a worker (its own event loop) per 32 items in flight,
        at most this machine's cores (on Ray, the cluster's: not capped here)."""
        if self.workers is not None:
            return self.workers
        wanted = -(-self.concurrency // PER_LOOP)
        return wanted if self.executor == "ray" else min(wanted, cores())

    @property
    def pooled(self) -> bool:
        """Whether the items go to workers outside the job's own process."""
        return self.worker_count > 1 or self.executor == "ray"


def pool(options: ExecutorOptions, job: Job, meters: Meters) -> Any:
    """The workers `options` ask for (processes on this machine or Ray actors), built from `job`, sharing the rate
    limiters of the job's `meters` and adding their usage to them."""
    if options.executor == "ray":  # its coordinator is an actor, built there
        from simulation.ray_executor import RayActors

        return RayActors(job, options.worker_count, meters, options.ray_address)
    return Processes(job, options.worker_count, job.coordinator(meters.limiters()), meters)


class InProcess:
    """A job's items done by a worker in the job's own process, on its event loop (its usage is the job's already),
    closed at the end (an MCP server it started stops)."""

    def __init__(self, worker: Worker):
        self.worker = worker

    async def __aenter__(self) -> InProcess:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.close()

    async def run(self, item: Any) -> Any:
        return await self.worker.run(item)


def worker_lineup(settings: ModelSettings, domain: Domain, sim: SimSettings, runtime: str, remote: Remote) -> Lineup:
    """A worker's models: built as the job's own (`prepare_models`) but without its check of each real model (the
    job made it), each rate-limited model taking every call's permit from the job's limiter."""
    from agents.providers import build_lineup

    policy = domain.simulated_task_policy(sim.defect_rate)
    lineup = build_lineup(settings, sim=sim, task_policy=policy, runtime=runtime)  # type: ignore[arg-type]
    for spec, meter in lineup.meters.items():
        if meter.limiter.active:  # the job's limiter decides, for every worker at once
            meter.limiter = RemoteLimiter(spec, remote)  # type: ignore[assignment]
    return lineup


class RemoteLimiter:
    """A model's rate limiter in a worker: each call takes its permit from the job's coordinator."""

    active = True
    waited_s = 0.0  # the coordinator's limiter counts the waiting

    def __init__(self, spec: str, remote: Remote):
        self.spec = spec
        self.remote = remote

    async def acquire(self, tokens: int = 0) -> None:
        await self.remote.acquire(self.spec, tokens)


# ---- a generation run's episodes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeJob:
    """What a worker needs to play a run's episodes: the run's validated settings, from the run itself."""

    config: RunConfig
    domain_source: str  # the --domain the run was given (a pack's name, or its directory)
    settings: EpisodeSettings
    rubric: Rubric
    screened: list[tuple[str, str]]  # (key, prompt) of the requests earlier attempts of the run screened in

    def coordinator(self, limiters: dict[str, RateLimiter]) -> Coordinator:
        """The run's coordinator: the dataset's prompts (read lazily from its index) and the run's, and the limits."""
        from functools import partial

        from simulation.coordinator import Coordinator
        from simulation.episode import example_id
        from simulation.runner import prompt_index
        from store.dataset import Dataset

        index = prompt_index(Dataset(self.config.output_dir, self.settings.dataset), self.screened)
        return Coordinator(index, partial(example_id, self.settings), limiters)

    def worker(self, remote: Remote) -> EpisodeWorker:
        return EpisodeWorker(self, remote)


def play_locally(roles: Roles, settings: EpisodeSettings, writer: Any, screen: Any) -> Any:
    """`play(episode)` for roles in this process: checkpoints through `writer`, requests screened by `screen`."""
    from simulation.episode import run_episode

    async def checkpoint(episode: Episode) -> None:
        await writer.save(episode.case.index, episode)

    async def screened(episode: Episode, prompt: str) -> str | None:
        return await screen(episode.case.index, prompt)

    async def play(episode: Episode) -> Episode:
        return await run_episode(episode, roles, settings, checkpoint=checkpoint, screen=screened)

    return play


class Local:
    """Episodes played in the run's own process, on its event loop."""

    def __init__(self, roles: Roles, settings: EpisodeSettings, journal: Any, coordinator: Coordinator):
        from store.journal import CheckpointWriter

        self.writer = CheckpointWriter(journal)  # written behind the episodes, in batches; flushed on exit
        self.coordinator = coordinator
        self.run = play_locally(roles, settings, self.writer, coordinator.screen)

    async def __aenter__(self) -> Local:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.writer.close()  # every checkpoint written before anything is committed (or the run stops)

    def release(self, number: int) -> None:
        self.coordinator.release(number)


class EpisodeWorker:
    """A run's roles rebuilt from its job, in a worker, playing the episodes it is given."""

    def __init__(self, job: EpisodeJob, remote: Remote):
        from simulation.domains import get_domain
        from simulation.runner import build_roles, sim_settings
        from store.dataset import Dataset
        from store.journal import CheckpointWriter, RunJournal

        config = job.config
        domain = get_domain(job.domain_source, paths=True)
        world = domain.build_world(job.settings.world_seed)
        sim = sim_settings(config, job.settings.seed)
        self.lineup = worker_lineup(config.models, domain, sim, config.runtime, remote)
        self.resources = ExitStack()
        roles = build_roles(config, domain, world, job.rubric, self.lineup, self.resources)
        journal = RunJournal(Dataset(config.output_dir, job.settings.dataset), job.settings.run_id)
        self.writer = CheckpointWriter(journal)
        self.run = play_locally(roles, job.settings, self.writer, remote.screen)

    def usage(self) -> dict[str, ModelStats]:
        return self.lineup.meters.take()

    async def close(self) -> None:
        """Write every checkpoint saved so far; stop what the roles hold open (an MCP server)."""
        try:
            await self.writer.close()
        finally:
            self.resources.close()


# ---- worker processes ------------------------------------------------------------------------------------------

HEADER = struct.Struct("!I")


async def _receive(reader: asyncio.StreamReader) -> Any:
    header = await reader.readexactly(HEADER.size)
    return pickle.loads(await reader.readexactly(HEADER.unpack(header)[0]))


def _send(writer: asyncio.StreamWriter, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(HEADER.pack(len(data)) + data)


class WorkerLost(Exception):
    """A worker process ended before it reported an item it was given."""


class _Connection:
    """The job's side of one worker process."""

    def __init__(self, number: int, process: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.number = number
        self.process = process
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[Any]] = {}  # item -> its result
        self.stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.alive = True


class Processes:
    """A job's items done by `workers` processes on this machine, each with its own event loop (each item goes to
    the worker with the fewest in flight); their usage added to the job's `meters`."""

    def __init__(self, job: Job, workers: int, coordinator: Limits, meters: Meters):
        self.job = job
        self.workers = workers
        self.coordinator = coordinator
        self.meters = meters
        self.connections: list[_Connection] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.keys = itertools.count()

    async def __aenter__(self) -> Processes:
        self.folder = tempfile.TemporaryDirectory(prefix="goldsmith-workers-")
        address = str(Path(self.folder.name) / "run.sock")  # the temp directory is the user's own (mode 0700)
        arrived: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.server = await asyncio.start_unix_server(lambda r, w: arrived.put_nowait((r, w)), address)
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no event loop or threads inherited
        processes = []
        for number in range(self.workers):
            process = context.Process(
                target=worker_main, args=(address, self.job, number), name=f"goldsmith-worker-{number}"
            )
            process.daemon = True
            process.start()
            processes.append(process)
        try:
            for number in range(self.workers):
                reader, writer = await self._arrival(arrived, processes)
                hello = await _receive(reader)
                if hello[0] == "fatal":
                    raise RunFailed(f"a worker could not start: {hello[1]}")
                connection = _Connection(number, processes[hello[1]], reader, writer)
                self.connections.append(connection)
                self._spawn(self._listen(connection))
        except BaseException:
            await self._stop(graceful=False)
            raise
        return self

    @staticmethod
    async def _arrival(arrived: asyncio.Queue, processes: list[Any]) -> tuple[Any, Any]:
        while True:
            try:
                return await asyncio.wait_for(arrived.get(), timeout=1)
            except TimeoutError:
                if dead := [p for p in processes if p.exitcode is not None]:
                    raise RunFailed(
                        f"worker process {dead[0].name} exited ({dead[0].exitcode}) while starting"
                    ) from None

    async def __aexit__(self, *exc: object) -> None:
        await self._stop(graceful=exc[0] is None)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, item: Any) -> Any:
        key = next(self.keys)
        while True:
            alive = [c for c in self.connections if c.alive]
            if not alive:
                raise RunFailed("every worker process has exited; start again with the same --run-id")
            connection = min(alive, key=lambda c: len(c.pending))
            future = connection.pending[key] = asyncio.get_running_loop().create_future()
            _send(connection.writer, ("run", key, item))
            try:
                return await future
            except WorkerLost:
                continue  # done again by another worker, from what was sent (an episode's screening is remembered)
            finally:
                connection.pending.pop(key, None)

    def release(self, number: int) -> None:
        """A generation run's episode `number` will screen no (more) requests."""
        self.coordinator.release(number)  # type: ignore[attr-defined]

    async def _listen(self, connection: _Connection) -> None:
        """Serve one worker's requests and take its reports until it stops or dies."""
        try:
            while True:
                message = await _receive(connection.reader)
                kind = message[0]
                if kind == "done":
                    _, key, result, usage = message
                    self.meters.add(usage)
                    if (future := connection.pending.get(key)) is not None and not future.done():
                        future.set_result(result)
                elif kind == "error":
                    _, key, error = message
                    if isinstance(error, str):
                        error = RunFailed(f"failed in worker process {connection.number}: {error}")
                    if (future := connection.pending.get(key)) is not None and not future.done():
                        future.set_exception(error)
                elif kind == "stopped":
                    connection.stopped.set_result(None)
                    return
                else:  # a request to the coordinator: answered in its own task, in any order
                    self._spawn(self._answer(connection, message))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        connection.alive = False
        lost = WorkerLost(f"worker process {connection.process.name} exited")
        for future in connection.pending.values():
            if not future.done():
                future.set_exception(lost)
        if not connection.stopped.done():
            connection.stopped.set_exception(lost)

    async def _answer(self, connection: _Connection, message: tuple) -> None:
        kind, request, *args = message
        answer = await getattr(self.coordinator, kind)(*args)  # screen or acquire
        with contextlib.suppress(ConnectionError, RuntimeError):  # a worker gone meanwhile needs no answer
            _send(connection.writer, ("reply", request, answer))

    async def _stop(self, graceful: bool) -> None:
        """Graceful: each worker writes its checkpoints and exits. Otherwise (a second Ctrl-C, an error) they are
        stopped at once; their checkpoints written so far let the run resume."""
        if graceful:
            for connection in self.connections:
                if connection.alive:
                    _send(connection.writer, ("stop",))
            for connection in self.connections:
                with contextlib.suppress(WorkerLost):
                    await connection.stopped
        for connection in self.connections:
            connection.writer.close()
        for task in list(self.tasks):
            task.cancel()
        self.server.close()
        for connection in self.connections:
            process = connection.process
            await asyncio.to_thread(process.join, 10 if graceful else 0)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join)
        self.folder.cleanup()


class _SocketRemote:
    """A worker process's way to the job's coordinator: requests over its socket, answers matched by number."""

    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        self.numbers = itertools.count()
        self.waiting: dict[int, asyncio.Future[Any]] = {}

    async def _ask(self, *message: Any) -> Any:
        number = next(self.numbers)
        future = self.waiting[number] = asyncio.get_running_loop().create_future()
        _send(self.writer, (message[0], number, *message[1:]))
        return await future

    async def screen(self, number: int, prompt: str) -> str | None:
        return await self._ask("screen", number, prompt)

    async def acquire(self, spec: str, tokens: int) -> None:
        await self._ask("acquire", spec, tokens)

    def answer(self, number: int, value: Any) -> None:
        self.waiting.pop(number).set_result(value)


def worker_main(address: str, job: Job, number: int) -> None:
    """Worker process `number`: connect to the job, build its worker, do what it is sent until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the job's to handle: it tells its workers
    asyncio.run(_work(address, job, number))
    # All the worker wrote is flushed and closed (`_work` returns only then). The interpreter's teardown would free
    # the world and the roles object by object: ~30 ms between the last episode and the commit, for memory the
    # system takes back at once.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


async def _work(address: str, job: Job, number: int) -> None:
    reader, writer = await asyncio.open_unix_connection(address)
    remote = _SocketRemote(writer)
    try:
        worker = job.worker(remote)
    except Exception as exc:
        _send(writer, ("fatal", "".join(traceback.format_exception_only(exc)).strip()))
        await writer.drain()
        return
    gc.freeze()  # the roles and world live as long as the worker (see Run.execute)
    _send(writer, ("hello", number))
    running: set[asyncio.Task[None]] = set()

    async def run(key: int, item: Any) -> None:
        try:
            result = await worker.run(item)
            _send(writer, ("done", key, result, worker.usage()))
        except InputError as exc:  # bad input met in a worker (an MCP server that cannot be used) is the job's
            _send(writer, ("error", key, exc))
        except Exception as exc:
            _send(writer, ("error", key, "".join(traceback.format_exception_only(exc)).strip()))

    async def stop() -> None:
        await asyncio.gather(*running)
        await worker.close()
        _send(writer, ("stopped",))

    try:
        while True:  # until the job closes the connection (after "stopped", or when it stops at once)
            message = await _receive(reader)
            if message[0] == "run":
                task = asyncio.create_task(run(message[1], message[2]))
                running.add(task)
                task.add_done_callback(running.discard)
            elif message[0] == "reply":
                remote.answer(message[1], message[2])
            elif message[0] == "stop":  # finish what is in flight (still answering replies), then report
                stopping = asyncio.create_task(stop())  # noqa: F841 (held until the job closes the connection)
    except (asyncio.IncompleteReadError, ConnectionError):  # the job is gone: nothing to report to
        await worker.close()

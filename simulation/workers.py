"""Where a run's episodes are played: in the run's own process (`Local`), in worker processes on this machine
(`Processes`, `generate --workers N`), or as Ray actors across a cluster (simulation/ray_executor.py).

A worker rebuilds the run's world, models and roles from the `WorkerSpec` the run hands it (what the run itself
validated: never a file of the output directory), plays the episodes it is given, checkpoints them in the run's
journal as the run's own process would, and reports each finished episode with the model usage it cost. What the
episodes share stays with one `Coordinator` (simulation/coordinator.py): each request is screened there in case
order, and each model call of a rate-limited model takes its permit there, one round trip per call. The run keeps
the budget (usage is added to its meters as episodes finish), the lease and the commit.

Worker processes talk to the run over a Unix socket in a private temp directory: length-prefixed pickles, as
between the processes of one program (the socket is the run's own; nothing is read from the output directory).
A worker process that dies has its episodes played again by the others, from the state the run sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import multiprocessing
import pickle
import signal
import struct
import tempfile
import traceback
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from config import RunFailed

if TYPE_CHECKING:
    from agents.metering import Meters, ModelStats
    from rubrics.model import Rubric
    from simulation.coordinator import Coordinator
    from simulation.episode import Episode, EpisodeSettings, Roles
    from simulation.runner import RunConfig


class Executor(Protocol):
    """Plays episodes for a run (`async with` it around the episodes)."""

    async def __aenter__(self) -> Executor: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def play(self, episode: Episode) -> Episode: ...
    def release(self, number: int) -> None: ...


class Remote(Protocol):
    """A worker's way to the run's coordinator."""

    async def screen(self, number: int, prompt: str) -> str | None: ...
    async def acquire(self, spec: str, tokens: int) -> None: ...


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to play a run's episodes: the run's validated settings, from the run itself."""

    config: RunConfig
    domain_source: str  # the --domain the run was given (a pack's name, or its directory)
    settings: EpisodeSettings
    rubric: Rubric


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
        self.play = play_locally(roles, settings, self.writer, coordinator.screen)

    async def __aenter__(self) -> Local:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.writer.close()  # every checkpoint written before anything is committed (or the run stops)

    def release(self, number: int) -> None:
        self.coordinator.release(number)


class EpisodeWorker:
    """A run's roles rebuilt from its spec, in a worker (process or Ray actor), playing the episodes it is given."""

    def __init__(self, spec: WorkerSpec, remote: Remote):
        from agents.providers import build_lineup
        from simulation.domains import get_domain
        from simulation.runner import build_roles, sim_settings
        from store.dataset import Dataset
        from store.journal import CheckpointWriter, RunJournal

        config = spec.config
        domain = get_domain(spec.domain_source, paths=True)
        world = domain.build_world(spec.settings.world_seed)
        sim = sim_settings(config, spec.settings.seed)
        # no preflight: the run checked every real model before it started its workers
        self.lineup = build_lineup(
            config.models, sim=sim, task_policy=domain.simulated_task_policy(sim.defect_rate), runtime=config.runtime
        )
        for spec_name, meter in self.lineup.meters.items():
            if meter.limiter.active:  # the run's limiter decides, for every worker at once
                meter.limiter = RemoteLimiter(spec_name, remote)  # type: ignore[assignment]
        self.resources = ExitStack()
        roles = build_roles(config, domain, world, spec.rubric, self.lineup, self.resources)
        journal = RunJournal(Dataset(config.output_dir, spec.settings.dataset), spec.settings.run_id)
        self.writer = CheckpointWriter(journal)
        self.play_episode = play_locally(roles, spec.settings, self.writer, remote.screen)

    async def play(self, episode: Episode) -> tuple[Episode, dict[str, ModelStats]]:
        """Play `episode` to its outcome; with the model usage this worker reported since its last report."""
        result = await self.play_episode(episode)
        return result, self.lineup.meters.take()

    async def close(self) -> None:
        """Write every checkpoint saved so far; stop what the roles hold open (an MCP server)."""
        try:
            await self.writer.close()
        finally:
            self.resources.close()


class RemoteLimiter:
    """A model's rate limiter in a worker: each call takes its permit from the run's coordinator."""

    active = True
    waited_s = 0.0  # the coordinator's limiter counts the waiting

    def __init__(self, spec: str, remote: Remote):
        self.spec = spec
        self.remote = remote

    async def acquire(self, tokens: int = 0) -> None:
        await self.remote.acquire(self.spec, tokens)


# ---- worker processes ------------------------------------------------------------------------------------------

HEADER = struct.Struct("!I")


async def _receive(reader: asyncio.StreamReader) -> Any:
    header = await reader.readexactly(HEADER.size)
    return pickle.loads(await reader.readexactly(HEADER.unpack(header)[0]))


def _send(writer: asyncio.StreamWriter, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(HEADER.pack(len(data)) + data)


class WorkerLost(Exception):
    """A worker process ended before it reported an episode it was given."""


class _Connection:
    """The run's side of one worker process."""

    def __init__(self, number: int, process: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.number = number
        self.process = process
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[Episode]] = {}  # episode -> its outcome
        self.stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.alive = True


class Processes:
    """Episodes played by `workers` processes on this machine, each with its own event loop, `concurrency` split
    between them (each episode goes to the worker with the fewest in flight)."""

    def __init__(self, spec: WorkerSpec, workers: int, coordinator: Coordinator, meters: Meters):
        self.spec = spec
        self.workers = workers
        self.coordinator = coordinator
        self.meters = meters
        self.connections: list[_Connection] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Processes:
        self.folder = tempfile.TemporaryDirectory(prefix="goldsmith-workers-")
        address = str(Path(self.folder.name) / "run.sock")  # the temp directory is the user's own (mode 0700)
        arrived: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.server = await asyncio.start_unix_server(lambda r, w: arrived.put_nowait((r, w)), address)
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no event loop or threads inherited
        processes = []
        for number in range(self.workers):
            process = context.Process(
                target=worker_main, args=(address, self.spec, number), name=f"goldsmith-worker-{number}"
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

    async def play(self, episode: Episode) -> Episode:
        number = episode.case.index
        while True:
            alive = [c for c in self.connections if c.alive]
            if not alive:
                raise RunFailed("every worker process has exited; resume the run with --run-id")
            connection = min(alive, key=lambda c: len(c.pending))
            future = connection.pending[number] = asyncio.get_running_loop().create_future()
            _send(connection.writer, ("play", episode))
            try:
                return await future
            except WorkerLost:
                continue  # played again by another worker, from the state sent (its screening is remembered)
            finally:
                connection.pending.pop(number, None)

    def release(self, number: int) -> None:
        self.coordinator.release(number)

    async def _listen(self, connection: _Connection) -> None:
        """Serve one worker's requests and take its reports until it stops or dies."""
        try:
            while True:
                message = await _receive(connection.reader)
                kind = message[0]
                if kind == "done":
                    _, number, episode, usage = message
                    self.meters.add(usage)
                    if (future := connection.pending.get(number)) is not None and not future.done():
                        future.set_result(episode)
                elif kind == "error":
                    _, number, text = message
                    if (future := connection.pending.get(number)) is not None and not future.done():
                        future.set_exception(RunFailed(f"episode {number} failed in a worker process: {text}"))
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
        answer = await (self.coordinator.screen if kind == "screen" else self.coordinator.acquire)(*args)
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
    """A worker process's way to the run's coordinator: requests over its socket, answers matched by number."""

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


def worker_main(address: str, spec: WorkerSpec, number: int) -> None:
    """Worker process `number`: connect to the run, rebuild its roles, play what it is sent until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle: it tells its workers
    asyncio.run(_work(address, spec, number))


async def _work(address: str, spec: WorkerSpec, number: int) -> None:
    reader, writer = await asyncio.open_unix_connection(address)
    remote = _SocketRemote(writer)
    try:
        worker = EpisodeWorker(spec, remote)
    except Exception as exc:
        _send(writer, ("fatal", "".join(traceback.format_exception_only(exc)).strip()))
        await writer.drain()
        return
    gc.freeze()  # the roles and world live as long as the worker (see Run.execute)
    _send(writer, ("hello", number))
    playing: set[asyncio.Task[None]] = set()

    async def play(episode: Episode) -> None:
        try:
            result, usage = await worker.play(episode)
            _send(writer, ("done", episode.case.index, result, usage))
        except Exception as exc:
            _send(writer, ("error", episode.case.index, "".join(traceback.format_exception_only(exc)).strip()))

    async def stop() -> None:
        await asyncio.gather(*playing)
        await worker.close()
        _send(writer, ("stopped",))

    try:
        while True:  # until the run closes the connection (after "stopped", or when it stops at once)
            message = await _receive(reader)
            if message[0] == "play":
                task = asyncio.create_task(play(message[1]))
                playing.add(task)
                task.add_done_callback(playing.discard)
            elif message[0] == "reply":
                remote.answer(message[1], message[2])
            elif message[0] == "stop":  # finish what is in flight (still answering replies), then report
                stopping = asyncio.create_task(stop())  # noqa: F841 (held until the run closes the connection)
    except (asyncio.IncompleteReadError, ConnectionError):  # the run is gone: nothing to report to
        await worker.close()

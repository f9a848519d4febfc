"""A run's durable progress, kept beside its dataset so that a killed run can be resumed:

    <name>/runs/<run>/plan.json              what the run is (simulation/plan.py); written once
    <name>/runs/<run>/episodes/00042.json    the latest checkpoint of episode 42, replaced after each stage
    <name>/runs/<run>/lease/000001.json      who is running it now (owner, heartbeat); one file per holder

Each checkpoint is written whole and atomically (store/storage.py), so after a crash every episode's file
is its last completed stage, never a torn one. During a run, `CheckpointWriter` writes the checkpoints
behind the episodes, in batches gathered for up to 0.1 s (one worker-thread hand-off and one journal commit of
the file system each), and the runner commits only after every one is written.

One process at a time runs a run id: it holds a lease, a file it created exclusively (the storage's
compare-and-swap, so also on S3) and rewrites every few seconds as a heartbeat. A second process finds a live
lease and stops, naming the holder. A lease whose heartbeat is older than its time to live, or whose owner is a
process on this machine that no longer exists, has expired: the next process takes the run over by creating
the lease file of the next generation, which only one process can do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from config import InputError
from store.dataset import Dataset
from store.files import Staged, abandon, complete, stage
from store.storage import LocalStorage

M = TypeVar("M", bound=BaseModel)


class RunJournal:
    def __init__(self, dataset: Dataset, run_id: str):
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise InputError(f"--run-id: invalid run id {run_id!r}")
        self.dataset = dataset
        self.run_id = run_id

    def _key(self, *parts: str) -> str:
        return self.dataset.key("runs", self.run_id, *parts)

    @property
    def where(self) -> str:
        """The plan file, for messages."""
        return self.dataset.storage.url(self._key("plan.json"))

    def plan(self) -> dict[str, Any] | None:
        """The plan the run was started with, or None for a new run."""
        data = self.dataset.storage.read(self._key("plan.json"))
        return None if data is None else json.loads(data)

    def start(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Record the plan of a new run; if the run already has one (it is being resumed), that one."""
        if self.dataset.storage.create(self._key("plan.json"), json.dumps(plan, indent=2).encode()):
            return plan
        stored = self.plan()
        assert stored is not None
        return stored

    def save(self, index: int, state: BaseModel) -> None:
        self.write(index, state.model_dump_json().encode())

    def write(self, index: int, data: bytes) -> None:
        """Replace episode `index`'s checkpoint with `data` (a serialised state), atomically and durably."""
        self.dataset.storage.write(self._checkpoint(index), data)

    def stage(self, batch: dict[int, bytes]) -> list[Staged]:
        """The first half of writing a batch of checkpoints (local storage only): each in a temp file beside its
        checkpoint; `store.files.complete` makes them durable and puts them in place."""
        assert isinstance(self.dataset.storage, LocalStorage)
        root, staged = self.dataset.storage.root, []
        try:
            for index, data in batch.items():
                staged.append(stage(root / self._checkpoint(index), data))
        except BaseException:
            abandon(staged)
            raise
        return staged

    def _checkpoint(self, index: int) -> str:
        return self._key("episodes", f"{index:05d}.json")

    def load(self, model: type[M]) -> dict[int, M]:
        """Every episode's latest checkpoint, by episode index."""
        states: dict[int, M] = {}
        for name in self.dataset.storage.children(self._key("episodes")):
            if not (name.endswith(".json") and name[:-5].isdigit()):
                continue
            data = self.dataset.storage.read(self._key("episodes", name))
            try:
                states[int(name[:-5])] = model.model_validate_json(data or b"")
            except ValidationError as error:
                where = self.dataset.storage.url(self._key("episodes", name))
                raise InputError(
                    f"{where}: not a checkpoint this Goldsmith can resume ({error.errors()[0]['msg']})"
                ) from None
        return states


GATHER_S = 0.1  # how long a batch of checkpoints gathers saves before it is written


class CheckpointWriter:
    """Writes the checkpoints of a run's episodes behind them, in batches, so that no episode waits for the disk:
    `save` takes the state as it is (serialised at once) and returns; one writer task writes what is pending, a batch
    at a time, each gathered for up to `GATHER_S` (an episode saved twice before its turn is written once, at its
    newest stage). A crash therefore loses at most the stages saved since the last batch: the resumed run plays
    those again. Nothing is committed from memory alone: `flush` (the runner's, before it commits) writes what is
    pending at once and waits until every checkpoint is written, and raises a write's error; a failed write also
    fails the next `save`. Use within one event loop; `close` when done.

    Why gather: written as soon as the last batch was done, nearly every batch held one checkpoint (the saves of
    many episodes are spread out in time): 215 batches for 288 checkpoints in a run of 96 episodes, each with its
    fsyncs and file-system journal commits, the loop's own file operations waiting behind them at times. Gathered
    for 0.1 s: 41 batches; 0.945 -> 0.96 of the latency ideal at 64 episodes in flight on 2 workers (medians of 5,
    `bench/throughput.py --runs 64:2 --repeat 5`).
    """

    def __init__(self, journal: RunJournal):
        self.journal = journal
        self.local = isinstance(journal.dataset.storage, LocalStorage)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="checkpoints")
        self.pending: dict[int, bytes] = {}
        self.writer: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.batches = 0  # batches written so far
        self.written = 0  # checkpoints written so far
        self.hurry = asyncio.Event()  # set by `flush`: write what is pending now

    async def save(self, index: int, state: BaseModel) -> None:
        """Checkpoint `state` as episode `index`'s latest stage (written shortly after)."""
        if self.error is not None:
            raise self.error
        self.pending[index] = state.model_dump_json().encode()  # as it is now: the episode goes on changing it
        if self.writer is None or self.writer.done():
            self.writer = asyncio.get_running_loop().create_task(self._drain())

    async def flush(self) -> None:
        """Return once every checkpoint saved so far is written; raise the error of a write that failed."""
        self.hurry.set()
        try:
            while self.writer is not None and not self.writer.done():
                await asyncio.shield(self.writer)  # a cancelled caller does not cancel the writer
        finally:
            self.hurry.clear()
        if self.error is not None:
            raise self.error

    async def close(self) -> None:
        """`flush`, then stop the writer's thread."""
        try:
            await self.flush()
        finally:
            self.thread.shutdown()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending and self.error is None:
            if not self.hurry.is_set():  # let more saves join this batch
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.hurry.wait(), GATHER_S)
            batch, self.pending = self.pending, {}
            try:
                if self.local:  # the temp files written here (page cache), synced and renamed on the thread
                    await loop.run_in_executor(self.thread, complete, self.journal.stage(batch))
                else:
                    await loop.run_in_executor(self.thread, self._write, batch)
            except Exception as error:  # kept for the next save and the flush
                self.error = error
            else:
                self.batches += 1
                self.written += len(batch)

    def _write(self, batch: dict[int, bytes]) -> None:
        for index, data in batch.items():
            self.journal.write(index, data)


LEASE_TTL_S = float(os.environ.get("GOLDSMITH_LEASE_TTL_S", "60"))


class RunLease:
    """The exclusive right to run one run id (see the module docstring); a context manager."""

    def __init__(self, dataset: Dataset, run_id: str, ttl_s: float | None = None):
        self.dataset = dataset
        self.run_id = run_id
        self.ttl_s = LEASE_TTL_S if ttl_s is None else ttl_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.token = uuid.uuid4().hex
        self.generation: int | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _key(self, generation: int) -> str:
        return self.dataset.key("runs", self.run_id, "lease", f"{generation:06d}.json")

    def _latest(self) -> tuple[int, dict[str, Any] | None]:
        """The newest lease generation and its content (0, None when the run was never leased)."""
        names = self.dataset.storage.children(self.dataset.key("runs", self.run_id, "lease"))
        generations = sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())
        if not generations:
            return 0, None
        data = self.dataset.storage.read(self._key(generations[-1]))
        try:
            return generations[-1], json.loads(data or b"")
        except ValueError:
            return generations[-1], None  # a torn lease is no lease

    def holder(self) -> str | None:
        """Who holds a live lease on the run now (None: nobody, or it expired)."""
        _, lease = self._latest()
        return None if lease is None or self._expired(lease) else f"{lease.get('owner')} since {lease.get('since')}"

    def _expired(self, lease: dict[str, Any]) -> bool:
        if lease.get("released"):
            return True
        host, _, pid = str(lease.get("owner", "")).rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            return True
        return time.time() - float(lease.get("heartbeat", 0)) > float(lease.get("ttl_s", self.ttl_s))

    def acquire(self) -> None:
        """Take the lease, or raise InputError naming its live holder."""
        generation, lease = self._latest()
        if lease is not None and not self._expired(lease):
            raise self._taken(lease)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._content = {"owner": self.owner, "token": self.token, "since": since, "ttl_s": self.ttl_s}
        if not self.dataset.storage.create(self._key(generation + 1), self._encode(released=False)):
            _, lease = self._latest()  # another process took it over at the same moment
            raise self._taken(lease or {"owner": "another process"})
        self.generation = generation + 1
        self._beat = threading.Thread(target=self._heartbeat, name=f"lease-{self.run_id}", daemon=True)
        self._beat.start()

    def _taken(self, lease: dict[str, Any]) -> InputError:
        return InputError(
            f"run {self.run_id} is being run by {lease.get('owner')} (since {lease.get('since')}, heartbeat every "
            f"{self.ttl_s / 4:g} s); wait for it to finish, or stop it first. A lease left by a stopped process "
            f"expires {self.ttl_s:g} s after its last heartbeat"
        )

    def _encode(self, *, released: bool) -> bytes:
        return json.dumps({**self._content, "heartbeat": time.time(), "released": released}).encode()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            try:
                self.dataset.storage.write(self._key(self.generation or 0), self._encode(released=False))
            except Exception:  # a missed heartbeat only shortens the lease; the commit checks ownership
                continue

    def held(self) -> bool:
        """Whether this process still holds the newest lease (nobody took the run over)."""
        generation, lease = self._latest()
        return generation == self.generation and lease is not None and lease.get("token") == self.token

    def release(self) -> None:
        if self.generation is None:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if self.held():
            self.dataset.storage.write(self._key(self.generation), self._encode(released=True))
        self.generation = None

    def __enter__(self) -> RunLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

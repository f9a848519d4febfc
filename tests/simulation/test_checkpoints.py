"""Checkpoints are written behind the episodes, in batches (one worker-thread hand-off each): a save does not wait
for the disk, the newest stage of an episode is the one written, and the runner's flush (before any commit) waits
for every write and raises a failed one's error."""

import asyncio
import errno
import os
import threading
from itertools import islice

import pytest

import store.journal as journal_module
from simulation.domains import get_domain
from simulation.episode import Episode
from store.dataset import Dataset
from store.files import TEMP_PREFIX, WriteFailed
from store.journal import CheckpointWriter, RunJournal


@pytest.fixture(scope="module")
def cases():
    domain = get_domain("kyc")
    return list(islice(domain.iter_cases(domain.build_world(1), 1), 40))


@pytest.fixture
def episode(cases):
    def make(index: int, prompt: str) -> Episode:
        return Episode(case=cases[index], prompt=prompt)

    return make


@pytest.fixture
def journal(tmp_path):
    return RunJournal(Dataset(tmp_path, "kyc"), "r1")


def test_saves_are_batched_and_all_written_by_the_flush(journal, episode):
    writer = CheckpointWriter(journal)
    states = {i: episode(i, f"request {i}") for i in range(40)}

    async def play() -> None:
        await asyncio.gather(*(writer.save(i, state) for i, state in states.items()))
        await writer.flush()

    asyncio.run(play())
    assert journal.load(Episode) == states
    assert writer.written == 40 and writer.batches < 40


def test_the_newest_stage_is_written_and_as_it_was_when_saved(journal, episode):
    writer = CheckpointWriter(journal)
    state = episode(3, "the request")

    async def play() -> None:
        await writer.save(3, state)  # handed to the worker thread
        for stage in range(5):  # saved again while it is written: the newest wins
            state.reasons = [f"stage {stage}"]
            await writer.save(3, state)
        state.prompt = "changed after the last save"
        await writer.flush()

    asyncio.run(play())
    written = journal.load(Episode)[3]
    assert written.reasons == ["stage 4"] and written.prompt == "the request"
    assert writer.written < 6


def test_a_failed_write_fails_the_flush_and_the_next_save(journal, episode, monkeypatch, tmp_path):
    writer = CheckpointWriter(journal)

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)

    async def play() -> None:
        await writer.save(1, episode(1, "a"))
        with pytest.raises(WriteFailed, match="no space left on device"):
            await writer.flush()
        with pytest.raises(WriteFailed, match="no space left on device"):
            await writer.save(2, episode(2, "b"))

    asyncio.run(play())
    assert journal.load(Episode) == {}
    assert not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.rglob("*"))


def test_the_disk_is_waited_for_off_the_event_loop(journal, episode, monkeypatch):
    synced_on: set[int] = set()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced_on.add(threading.get_ident())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    writer = CheckpointWriter(journal)

    async def play() -> int:
        await asyncio.gather(*(writer.save(i, episode(i, f"request {i}")) for i in range(5)))
        await writer.close()
        return threading.get_ident()

    loop_thread = asyncio.run(play())
    assert synced_on and loop_thread not in synced_on
    assert len(journal.load(Episode)) == 5


def test_saves_gather_into_batches_and_a_flush_does_not_wait_for_the_gathering(journal, episode, monkeypatch):
    """Saves spread over time (as episodes make them) go to disk together, a batch each gathering window, not one
    file per batch as soon as the last batch is done; a flush writes what is pending at once, however long the
    window (here an hour: without the hurry, the flush would not return within the test's 30 s)."""
    writer = CheckpointWriter(journal)

    async def spread() -> None:
        for i in range(10):
            await writer.save(i, episode(i, f"request {i}"))
            await asyncio.sleep(0.005)  # longer than a batch of one takes to write
        await writer.flush()

    asyncio.run(spread())
    assert writer.written == 10 and writer.batches <= 3  # written as soon as possible: about 10
    monkeypatch.setattr(journal_module, "GATHER_S", 3600)
    late = CheckpointWriter(journal)

    async def hurried() -> None:
        await late.save(39, episode(39, "request 39"))
        await asyncio.wait_for(late.close(), 30)

    asyncio.run(hurried())
    assert late.written == 1 and 39 in journal.load(Episode)

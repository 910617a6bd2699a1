"""Many runs' writes leave together, in order, and each writer hears how its batch went."""

from __future__ import annotations

import asyncio

import pytest

from app.runs.group_writes import GroupWriter


class Recorder:
    """A `send` that takes a while, as a round trip does, and remembers its batches."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_with = fail_with

    async def send(self, batch: list[str]) -> None:
        await asyncio.sleep(0.01)
        self.batches.append(batch)
        if self.fail_with is not None:
            raise self.fail_with


async def test_writes_made_while_a_batch_is_out_leave_together_in_order() -> None:
    recorder = Recorder()
    writer = GroupWriter[str](recorder.send)

    first = asyncio.create_task(writer.write(["a1"]))
    await asyncio.sleep(0)  # the first batch is out
    rest = [asyncio.create_task(writer.write([f"{run}1", f"{run}2"])) for run in "bcd"]
    await asyncio.gather(first, *rest)

    assert recorder.batches == [["a1"], ["b1", "b2", "c1", "c2", "d1", "d2"]]


async def test_a_writer_returns_only_once_its_items_were_sent() -> None:
    recorder = Recorder()
    writer = GroupWriter[str](recorder.send)

    await writer.write(["x"])

    assert recorder.batches == [["x"]]


async def test_a_cancelled_writer_still_has_its_items_sent() -> None:
    recorder = Recorder()
    writer = GroupWriter[str](recorder.send)

    leaving = asyncio.create_task(writer.write(["gone"]))
    await asyncio.sleep(0)
    leaving.cancel()
    await writer.write(["stays"])
    await writer.aclose()

    assert [item for batch in recorder.batches for item in batch] == ["gone", "stays"]


async def test_an_error_reaches_the_writers_of_that_batch_and_the_next_batch_goes_out() -> None:
    recorder = Recorder(fail_with=ConnectionError("down"))
    writer = GroupWriter[str](recorder.send)

    with pytest.raises(ConnectionError):
        await writer.write(["lost"])
    recorder.fail_with = None
    await writer.write(["sent"])

    assert recorder.batches == [["lost"], ["sent"]]


async def test_a_submitted_write_is_sent_in_order_without_its_writer_waiting() -> None:
    recorder = Recorder()
    writer = GroupWriter[str](recorder.send)

    first = writer.submit(["a1"])  # returns at once: nothing has been sent yet
    assert recorder.batches == []
    assert not first.done()
    await asyncio.sleep(0)  # the first batch is out
    second = writer.submit(["a2"])
    third = writer.submit(["b1"])
    assert second is third  # both ride the next batch
    await second

    assert first.done()
    assert recorder.batches == [["a1"], ["a2", "b1"]]


async def test_a_submitted_write_that_fails_carries_the_error() -> None:
    recorder = Recorder(fail_with=ConnectionError("down"))
    writer = GroupWriter[str](recorder.send)

    failed = writer.submit(["lost"])
    with pytest.raises(ConnectionError):
        await failed


async def test_nothing_submitted_is_done_at_once_and_sends_nothing() -> None:
    recorder = Recorder()
    writer = GroupWriter[str](recorder.send)

    nothing = writer.submit([])
    await asyncio.wait_for(writer.write([]), 1)

    assert nothing.done()
    assert recorder.batches == []

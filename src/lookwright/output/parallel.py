"""Render and write generated files in forked worker processes, two-phase so bad input writes nothing.

Phase one: every worker renders its share in memory and reports success or the error.
Phase two, only if all succeeded: each worker writes its files and sends back what it wrote.
Forking shares the compiled model without pickling it; only small results cross the pipes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lookwright.errors import LookwrightError
from lookwright.output.writer import OutputFile, Written, write_files

T = TypeVar("T")
Rendered = list[tuple[int, OutputFile]]  # (index of the output root, file)
_HEADER = struct.Struct("!Q")


@dataclass
class _Worker:
    pid: int
    from_child: int
    to_child: int


def can_fork() -> bool:
    return hasattr(os, "fork") and (os.cpu_count() or 1) > 1


def _send(fd: int, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = _HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _receive(fd: int) -> Any:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        raise LookwrightError("a generator worker process exited unexpectedly")
    payload = _read_exactly(fd, _HEADER.unpack(header)[0])
    if payload is None:
        raise LookwrightError("a generator worker process exited unexpectedly")
    return pickle.loads(payload)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _portable(error: BaseException) -> BaseException:
    try:
        pickle.dumps(error)
        return error
    except Exception:  # noqa: BLE001 - any unpicklable error becomes a plain one with its text
        return LookwrightError(f"{type(error).__name__}: {error}")


def _child(chunk: T, render: Callable[[T], Rendered], roots: Sequence[Path], up: int, down: int) -> None:
    try:
        files = render(chunk)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises it
        _send(up, ("error", _portable(error)))
        return
    _send(up, ("rendered", None))
    if os.read(down, 1) != b"g":
        return
    written = [write_files(root, [f for i, f in files if i == index]) for index, root in enumerate(roots)]
    _send(up, ("written", written))


def _fork(body: Callable[[int, int], None]) -> _Worker:
    """Run `body(up, down)` in a forked process: it writes to this process on `up`, reads from it on `down`."""
    up_read, up_write = os.pipe()
    down_read, down_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked process never returns into the caller's code
        os.close(up_read)
        os.close(down_write)
        code = 0
        try:
            body(up_write, down_read)
        except BaseException:  # noqa: BLE001 - the parent sees the broken pipe and reports it
            code = 70
        os._exit(code)
    os.close(up_write)
    os.close(down_read)
    return _Worker(pid, up_read, down_write)


def _spawn(chunk: T, render: Callable[[T], Rendered], roots: Sequence[Path]) -> _Worker:
    return _fork(lambda up, down: _child(chunk, render, roots, up, down))


def _report(up: int, function: Callable[[], Any]) -> None:
    """Send `function()`'s result, or its error, to the parent."""
    try:
        result = function()
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises it
        _send(up, ("error", _portable(error)))
        return
    _send(up, ("done", result))


def render_and_write(chunks: Sequence[T], render: Callable[[T], Rendered], roots: Sequence[Path],
                     before_write: Callable[[], None] = lambda: None) -> list[list[Written]]:
    """Render every chunk in its own worker; write only if every chunk (and `before_write`) succeeded.

    Returns, per output root, what the workers wrote. Raises the first worker's error, and then
    nothing has been written.
    """
    workers = [_spawn(chunk, render, roots) for chunk in chunks]
    go = False
    try:
        reports = [_receive(worker.from_child) for worker in workers]
        for kind, payload in reports:
            if kind == "error":
                raise payload
        before_write()
        go = True
        for worker in workers:
            os.write(worker.to_child, b"g")
        results = [_receive(worker.from_child)[1] for worker in workers]
    finally:
        for worker in workers:
            if not go:
                with contextlib.suppress(BrokenPipeError):  # a worker that failed has already exited
                    os.write(worker.to_child, b"a")
            os.close(worker.to_child)
            os.close(worker.from_child)
            os.waitpid(worker.pid, 0)
    return [[entry for result in results for entry in result[index]] for index in range(len(roots))]


class Background:
    """A function run in a forked process while this one carries on; `result()` waits for it."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self._inline: Callable[[], Any] | None = None
        self._worker: _Worker | None = None
        if not can_fork():
            self._inline = function
            return
        self._worker = _fork(lambda up, _down: _report(up, function))

    def result(self) -> Any:
        if self._inline is not None:
            return self._inline()
        worker = self._worker
        assert worker is not None
        try:
            kind, payload = _receive(worker.from_child)
        finally:
            self.close()
        if kind == "error":
            raise payload
        return payload

    def close(self) -> None:
        """Reap the process (waiting for it); safe to call more than once."""
        worker, self._worker = self._worker, None
        if worker is not None:
            os.close(worker.to_child)
            os.close(worker.from_child)
            os.waitpid(worker.pid, 0)

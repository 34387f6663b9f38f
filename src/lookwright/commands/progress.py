"""Progress for long commands: rich bars on a terminal, plain lines elsewhere (CI logs, `| tee`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


@dataclass
class _Task:
    description: str
    total: float | None
    visible: bool
    completed: float = 0


@dataclass
class PlainProgress:
    """One line per step (`[3/14] building dim_service (12 s)`), for output that is not a terminal."""

    console: Console
    tasks: list[_Task] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add_task(self, description: str, total: float | None = None, visible: bool = True,
                 **fields: Any) -> TaskID:
        self.tasks.append(_Task(description, total, visible))
        return cast("TaskID", len(self.tasks) - 1)

    def update(self, task_id: TaskID, **changes: Any) -> None:
        task = self.tasks[task_id]
        before = (task.description, task.completed)  # a line when the step changes, not on every tick
        task.visible = bool(changes.get("visible", task.visible))
        task.total = changes.get("total", task.total)
        task.completed = changes.get("completed", task.completed) + changes.get("advance", 0)
        task.description = str(changes.get("description", task.description))
        if task.visible and (task.description != before[0] or "visible" in changes and task.completed != before[1]):
            self._print(task)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def _print(self, task: _Task) -> None:
        total = "" if task.total is None else f"/{task.total:.0f}"
        elapsed = time.perf_counter() - self.started
        self.console.print(f"[{task.completed:.0f}{total}] {task.description} ({elapsed:.0f} s)",
                           markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        return None


def progress(console: Console) -> PlainProgress | Progress:
    """A rich progress bar on a terminal; plain progress lines otherwise."""
    if not console.is_terminal:
        return PlainProgress(console)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


@contextlib.contextmanager
def status(console: Console, text: str) -> Iterator[None]:
    """A spinner on a terminal; otherwise a line saying what runs and, when it is over, how long it took."""
    if console.is_terminal:
        with console.status(text):
            yield
        return
    console.print(f"{text} ...", markup=False, highlight=False, soft_wrap=True)
    started = time.perf_counter()
    yield
    console.print(f"{text}: done in {time.perf_counter() - started:.1f} s", markup=False, highlight=False,
                  soft_wrap=True)

"""The model's build as tasks: one load per export source, one build per table, in build order.

The edges are the build's own dependencies (`warehouse.build.build_order` and the tables each
transform template reads, raw tables included), never re-derived. Each task runs on the schedule of
a datagroup: a table is built as often as the fastest datagroup that needs it fresh — its rollup's
`datagroup`, the `persist_with` of every explore based on it, and the schedule of every table built
from it; a load runs as often as the fastest table reading its raw table. A table none of these
name (dimensions, bridges: only joined) runs on its model's `persist_with` (the fastest of them),
else on the slowest datagroup; a joined view never makes a dimension rebuild every minute. A datagroup's schedule is its
`interval_trigger` ("N minutes|hours|days"), else the finest grain of the rollups that use it
(minute: every minute; hour: hourly; day, week and month: daily), else its `max_cache_age` rounded down to an hour or day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from lookwright.errors import InputError
from lookwright.model.ir import SemanticModel, TableIR
from lookwright.warehouse.build import TransformRenderer, build_order
from lookwright.warehouse.sources import SOURCES

UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
GRAIN_EVERY = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
               "week": timedelta(days=1), "month": timedelta(days=1)}
INTERVAL = re.compile(r"^\s*(\d+)\s*(minute|hour|day)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Schedule:
    """When one datagroup's tasks run: every `every`, as a cron expression."""

    datagroup: str
    every: timedelta

    @property
    def cron(self) -> str:
        minutes = int(self.every.total_seconds() // 60)
        if minutes < 60:
            return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
        hours = minutes // 60
        if hours < 24:
            return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
        return "0 0 * * *" if hours == 24 else f"0 0 */{hours // 24} * *"


@dataclass(frozen=True)
class Task:
    """One scheduled step: load one export source, or build one table."""

    task_id: str
    kind: str  # load | build
    name: str  # the source kind, or the table
    table: str  # the table it writes (a load: its raw table)
    upstream: tuple[str, ...]  # task ids, in task order
    datagroup: str


@dataclass(frozen=True)
class Pipeline:
    """Every task in dependency order (loads first), and the schedule of each datagroup used."""

    tasks: tuple[Task, ...]
    schedules: dict[str, Schedule]  # fastest first

    def task(self, task_id: str) -> Task:
        return next(t for t in self.tasks if t.task_id == task_id)

    def in_schedule(self, datagroup: str) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.datagroup == datagroup)


def load_task_id(kind: str) -> str:
    return "load_" + kind.replace("-", "_")


def build_task_id(table: str) -> str:
    return "build_" + table


def datagroup_every(model: SemanticModel, name: str) -> timedelta:
    """How often a datagroup fires (see the module docstring)."""
    datagroup, origin = model.datagroups[name]
    if datagroup.interval_trigger:
        return _interval(datagroup.interval_trigger, f"{origin}: datagroup {name}: interval_trigger")
    grains = [GRAIN_EVERY[t.rollup.period.grain] for t in model.tables.values()
              if t.rollup is not None and t.rollup.datagroup == name]
    if grains:
        return min(grains)
    if datagroup.max_cache_age:
        age = _interval(datagroup.max_cache_age, f"{origin}: datagroup {name}: max_cache_age")
        unit = UNITS["day"] if age >= UNITS["day"] else UNITS["hour"]
        return max(unit, age // unit * unit)
    raise InputError(f"{origin}: datagroup {name} has no interval_trigger, no rollup using it and no "
                     "max_cache_age: give it `interval_trigger: 1 hour` (or how often it should run)")


def _interval(text: str, where: str) -> timedelta:
    match = INTERVAL.match(text)
    if match is None:
        raise InputError(f"{where} {text!r} is not 'N minutes', 'N hours' or 'N days'")
    return int(match.group(1)) * UNITS[match.group(2).lower()]


def _needs(model: SemanticModel) -> dict[str, set[str]]:
    """table -> the datagroups that need it fresh by themselves (its rollup's, its explores')."""
    needs: dict[str, set[str]] = {name: set() for name in model.tables}
    for table in model.tables.values():
        if table.rollup is not None and table.rollup.datagroup is not None:
            needs[table.name].add(table.rollup.datagroup)
    for explore in model.explores.values():
        if explore.persist_with is None:
            continue
        if explore.view in needs:
            needs[explore.view].add(explore.persist_with)
    return needs


class _RecordingRenderer(TransformRenderer):
    """The build's renderer, noting every raw table a template reads while `dependencies` renders it."""

    reads: tuple[str, ...] = ()

    def raw(self, name: str) -> str:
        self.reads = (*self.reads, name)
        return super().raw(name)


def _reads(renderer: _RecordingRenderer, table: TableIR) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(model tables, raw tables) the table is built from."""
    renderer.reads = ()
    tables = renderer.dependencies(table)
    return tables, tuple(sorted(set(renderer.reads)))


def pipeline(model: SemanticModel) -> Pipeline:
    """The model's tasks, their edges and schedules."""
    if not model.datagroups:
        raise InputError(f"{model.warehouse_origin}: the model declares no datagroups, so nothing says how "
                         "often to build: add `datagroups:` (e.g. one with `interval_trigger: 1 hour`)")
    every = {name: datagroup_every(model, name) for name in model.datagroups}
    renderer = _RecordingRenderer(model, "bigquery")
    order = build_order(renderer)
    reads = {table.name: _reads(renderer, table) for table in order}
    needs = _needs(model)
    defaults = [m.persist_with for m in model.models.values() if m.persist_with in every]
    fallback = (min(defaults, key=lambda name: (every[name], name)) if defaults
                else max(every, key=lambda name: (every[name], name)))
    chosen: dict[str, str] = {}
    for table in reversed(order):  # readers first: a table is as fresh as the fastest of them needs
        wanted = set(needs[table.name])
        wanted |= {chosen[reader] for reader in chosen if table.name in reads[reader][0]}
        chosen[table.name] = min(wanted, key=lambda name: (every[name], name)) if wanted else fallback
    sources = sorted(SOURCES)
    loads = []
    for kind in sources:
        raw = SOURCES[kind].table
        readers = [chosen[t] for t in chosen if raw in reads[t][1]]
        if readers:
            loads.append(Task(load_task_id(kind), "load", kind, raw, (),
                              min(readers, key=lambda name: (every[name], name))))
    loaders = {task.table: [t.task_id for t in loads if t.table == task.table] for task in loads}
    builds = []
    for table in order:
        tables, raws = reads[table.name]
        upstream = [task for raw in raws for task in loaders.get(raw, [])]
        upstream += [build_task_id(name) for name in tables]
        builds.append(Task(build_task_id(table.name), "build", table.name, table.name, tuple(upstream),
                           chosen[table.name]))
    tasks = (*loads, *builds)
    position = {task.task_id: index for index, task in enumerate(tasks)}
    tasks = tuple(Task(t.task_id, t.kind, t.name, t.table, tuple(sorted(set(t.upstream), key=position.__getitem__)),
                       t.datagroup) for t in tasks)
    used = sorted({t.datagroup for t in tasks}, key=lambda name: (every[name], name))
    return Pipeline(tasks, {name: Schedule(name, every[name]) for name in used})

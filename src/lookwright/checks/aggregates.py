"""Check every declared query of the semantic model against the offline aggregate matcher."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lookwright.errors import InputError
from lookwright.lookml.aggregates import Skipped, explain_query
from lookwright.lookml.project import Project
from lookwright.model.ir import SemanticModel

JSON_VERSION = 1


@dataclass(frozen=True)
class QueryResult:
    """Which aggregate table serves one declared query, and whether that meets `must_hit`."""

    name: str
    explore: str
    origin: str  # file:line of the query in the YAML model
    used: str | None
    must_hit: str | None
    ok: bool
    lines: tuple[str, ...]  # the matcher's SQL comments, or the matcher's error
    # the same facts as `lines`, typed (so not compared twice)
    skipped: tuple[Skipped, ...] = field(default=(), compare=False)
    error: str | None = field(default=None, compare=False)  # the matcher rejected the query itself


@dataclass(frozen=True)
class AggregateReport:
    queries: tuple[QueryResult, ...]
    unused_aggregate_tables: tuple[str, ...]  # explore::table no declared query is served by

    @property
    def failures(self) -> tuple[QueryResult, ...]:
        return tuple(query for query in self.queries if not query.ok)


def check_queries(model: SemanticModel, project: Project) -> AggregateReport:
    """Run the matcher for every declared query (in name order), then every dashboard tile."""
    results = tuple(
        _check(name, str(query.origin), query.explore, list(query.fields), dict(query.filters),
               query.timezone, query.must_hit, project)
        for name, query in model.queries.items()
    ) + tuple(
        _check(tile.name, str(tile.origin), tile.explore, list(tile.fields), dict(tile.filters),
               tile.timezone, tile.must_hit, project)
        for tile in model.tiles()
    )
    used = {(result.explore, result.used) for result in results if result.used is not None}
    unused = tuple(
        f"{explore.name}::{table.name}"
        for explore in sorted(project.explores.values(), key=lambda e: e.name)
        for table in explore.aggregate_tables
        if (explore.name, table.name) not in used
    )
    return AggregateReport(results, unused)


def _check(name: str, origin: str, explore: str, fields: list[str], filters: dict[str, str],
           timezone: str | None, must_hit: str | None, project: Project) -> QueryResult:
    try:
        explanation = explain_query(project, explore, fields, filters, timezone)
    except InputError as error:
        return QueryResult(name, explore, origin, None, must_hit, False, (str(error),), error=str(error))
    ok = must_hit is None or explanation.used == must_hit
    return QueryResult(name, explore, origin, explanation.used, must_hit, ok, tuple(explanation.lines),
                       explanation.skipped)


def miss_reason(result: QueryResult) -> str:
    """Why a failing query missed its must-hit table: the matcher's line for that table."""
    if result.error is not None:
        return result.error
    skipped = next((s for s in result.skipped if s.table == result.must_hit), None)
    if skipped is not None:
        return skipped.reason
    return f"explore {result.explore} has no aggregate table {result.must_hit}"


def render_text(report: AggregateReport) -> list[str]:
    """Human-readable report lines."""
    out: list[str] = []
    for result in report.queries:
        served = result.used or "no aggregate table"
        status = "ok" if result.ok else "FAIL"
        wanted = f" (must hit {result.must_hit})" if result.must_hit else ""
        out.append(f"{status} {result.name} [{result.explore}]: {served}{wanted}")
        if not result.ok:
            out.append(f"  {result.origin}: error: query {result.name} must hit {result.must_hit}"
                       f" but did not: {miss_reason(result)}")
        out.extend(f"  {line}" for line in result.lines)
    for table in report.unused_aggregate_tables:
        out.append(f"warning: aggregate table {table} serves no declared query")
    return out


def render_json(report: AggregateReport) -> str:
    """The stable JSON document (version 1)."""
    return json.dumps(report_dict(report), indent=2)


def report_dict(report: AggregateReport) -> dict[str, object]:
    """The JSON document of `validate aggregates --format json` as a dict."""
    return {
        "version": JSON_VERSION,
        "queries": [
            {"name": r.name, "explore": r.explore, "used": r.used, "must_hit": r.must_hit,
             "ok": r.ok, "lines": list(r.lines)}
            for r in report.queries
        ],
        "unused_aggregate_tables": list(report.unused_aggregate_tables),
    }


def failure_message(report: AggregateReport) -> str | None:
    """Why the check fails (a must-hit query missed its table), or None when it passes."""
    failures = report.failures
    if not failures:
        return None
    names = ", ".join(result.name for result in failures)
    many = len(failures) != 1
    return (f"{len(failures)} declared quer{'ies' if many else 'y'}"
            f" missed {'their aggregate tables' if many else 'its aggregate table'}: {names}")

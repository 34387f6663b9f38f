"""History is never lost, on the BigQuery API emulator: a rebuild swaps its staging twins in at one
DML commit point, and one CREATE OR REPLACE TABLE ... AS SELECT each follows it only for the tables
that need a new table (atomic per table: a refused or timed-out one leaves the previous table).

One dataset is built once and the tests run in order on it, each leaving it consistent (the
emulator is slow; one build is ~25 jobs per table). Every request goes through a loopback proxy
that can refuse a query job the way BigQuery does (to fail a commit point or a swap half-way),
stall one, or press Ctrl-C in the middle of the commit point. Every SQL statement
the adapter sent is analysed by ZetaSQL at the end.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.bigquery", reason="google-cloud-bigquery is not installed")
pytest.importorskip("zetasql", reason="zetasql is not installed")

from bq_emulator import Emulator, bq_emulator_fixture  # noqa: F401
from bq_proxy import EmulatorProxy as Proxy
from bq_proxy import on_loopback
from fixtures.build.raw import ROOT, T0, record_loads, span

from lookwright.errors import WarehouseError
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.analyzer import BigQueryAnalyzer, model_tables
from lookwright.warehouse.bigquery import BigQueryWarehouse
from lookwright.warehouse.build import SWAP_TABLE, TransformRenderer, build, recorded_layouts
from lookwright.warehouse.sources import create_raw_tables

PROJECT, DATASET = "lw-history", "history"
DAILY, HOURLY = "fact_performance_metrics_daily", "fact_performance_metrics_hourly"
REQUESTS = "fact_performance_requests"
COST_DAILY = "fact_cost_service_daily"
LATER = T0 + timedelta(days=10)
DENIED = "Access Denied: Table lw-history:history.fact_performance_metrics_daily: Permission" \
         " bigquery.tables.updateData denied"


class Interrupted(Exception):
    """Stands for Ctrl-C in the middle of a rebuild."""


@pytest.fixture(scope="module")
def proxy(bq_emulator: Emulator) -> Iterator[str]:
    Proxy.upstream, Proxy.denied = bq_emulator.endpoint, DENIED
    with on_loopback(Proxy) as endpoint:
        yield endpoint


def _model(folder: Path, edits: dict[str, tuple[str, str]] | None = None) -> SemanticModel:
    """The flagship model, with `file: (old, new)` edits of its YAML."""
    if edits:
        if not (folder / "performance.yml").exists():  # edits accumulate on one copy
            shutil.copytree(ROOT / "semantic", folder, dirs_exist_ok=True)
        for name, (old, new) in edits.items():
            text = (folder / name).read_text()
            assert text.count(old) >= 1, (name, old)
            (folder / name).write_text(text.replace(old, new, 1))
    return load_model(folder if edits else ROOT / "semantic")


@dataclass
class Built:
    warehouse: BigQueryWarehouse
    model: SemanticModel
    folder: Path


@pytest.fixture(scope="module")
def built(proxy: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with BigQueryWarehouse(PROJECT, DATASET, endpoint=proxy, timeout_s=120, command="test") as w:
        w.client.create_dataset(f"{PROJECT}.{DATASET}")
        create_raw_tables(w)
        rows = [span(f"a{i}", "s", T0 + timedelta(minutes=7 * i), 10.0 + i) for i in range(6)]
        rows += [span(f"b{i}", "s", LATER + timedelta(minutes=5 * i), 20.0 + i, service="search")
                 for i in range(4)]
        for row in rows:  # unnamed columns are NULL (JSON ones too: a STRING parameter is no JSON)
            row = {k: v for k, v in row.items() if v is not None and k not in ("span_attributes", "resource_attributes")}
            columns = ", ".join(row)
            w.execute(f"INSERT INTO raw_spans ({columns}) VALUES ({', '.join('?' for _ in row)})",
                      list(row.values()))
        record_loads(w, "raw_spans", rows)  # as the loader does
        w.sent.clear()
        model = _model(ROOT / "semantic")
        build(w, model)
        yield Built(w, model, tmp_path_factory.mktemp("semantic"))


def _snapshot(w: BigQueryWarehouse, model: SemanticModel, missing: str = "") -> dict[str, list[tuple[Any, ...]]]:
    """Every fact, rollup and dimension (but `missing`): none may lose a row (a dimension keeps the members of
    expired rows)."""
    facts = [name for name, t in model.tables.items() if t.kind in ("fact", "rollup", "dimension") and name != missing]
    return {name: sorted(w.query(f"SELECT * FROM {name}"), key=repr) for name in sorted(facts)}


def _twins(w: BigQueryWarehouse) -> list[str]:
    return sorted(t.table_id for t in w.client.list_tables(f"{PROJECT}.{DATASET}") if t.table_id.endswith("__lw_next"))


def test_an_interrupted_full_refresh_leaves_every_table_as_it_was(built: Built) -> None:
    w, model = built.warehouse, built.model
    before = _snapshot(w, model)
    assert before[DAILY] and before[HOURLY]

    def interrupt(table: str, done: int, total: int) -> None:
        if table == HOURLY:
            raise Interrupted(table)

    with pytest.raises(Interrupted):
        build(w, model, full_refresh=True, on_step=interrupt)
    assert _snapshot(w, model) == before
    assert _twins(w) != []  # dropped by the next build (the next test's)


def _queries(w: BigQueryWarehouse, start: int) -> list[str]:
    return [s.sql for s in w.sent[start:] if s.kind == "query"]


def _commit_point(queries: list[str], first: str) -> tuple[int, list[str]]:
    """Where the transaction holding the statement `first` starts, and its statements, BEGIN to COMMIT."""
    begin = max(i for i in range(queries.index(first)) if queries[i] == "BEGIN TRANSACTION")
    end = queries.index("COMMIT TRANSACTION", begin)
    return begin, queries[begin:end + 1]


def _swap_dml(w: BigQueryWarehouse, model: SemanticModel, names: list[str]) -> list[str]:
    """The DML putting each twin's rows in its table's place (every partition, as `require_partition_filter` needs)."""
    renderer = TransformRenderer(w.target(model), "bigquery")
    statements = []
    for name in names:
        table = renderer.model.tables[name]
        every = renderer.all_partitions(table) if table.require_partition_filter else "TRUE"
        columns = ", ".join(c.name for c in table.columns)
        own = f"`{PROJECT}.{DATASET}.{name}`"
        twin = f"`{PROJECT}.{DATASET}.{name}__lw_next`"
        statements += [f"DELETE FROM {own} WHERE {every}",
                       f"INSERT INTO {own} ({columns})\nSELECT {columns} FROM {twin}\nWHERE {every}"]
    return statements


def test_a_full_refresh_swaps_every_table_at_one_commit_point_and_keeps_rollup_history(built: Built) -> None:
    w, model = built.warehouse, built.model
    before = _snapshot(w, model)
    w.execute("DELETE FROM raw_spans WHERE start_time < ?", [LATER - timedelta(days=1)])  # past raw retention
    start = len(w.sent)
    assert build(w, model, full_refresh=True).full_refresh
    assert [s.sql for s in w.sent[start:] if s.kind == "copy"] == []  # every table keeps its layout: no copy job
    queries, order = _queries(w, start), _order(w, model)
    swap = _swap_dml(w, model, order)
    begin, commit = _commit_point(queries, swap[0])
    assert commit[1:1 + len(swap)] == swap  # every table, in build order, in the one transaction
    assert [s for s in commit if SWAP_TABLE in s] == []  # nothing waits for a copy job
    assert [s for s in commit if s.startswith(("CREATE", "DROP", "ALTER"))] == []
    after = queries[begin + len(commit):]
    assert after == [f"DROP TABLE `{PROJECT}.{DATASET}.{name}__lw_next`" for name in order]  # then only the twins go
    assert [s for s in queries if s.startswith("DROP TABLE IF EXISTS")] == []  # nothing replaced
    assert _snapshot(w, model) == before  # the first day outlives its raw spans, and checkout in the dimensions
    assert w.query(f"SELECT COUNT(*) FROM {SWAP_TABLE}") == [(0,)] and _twins(w) == []
    joined = (f"SELECT s.service_name, h.hour, h.request_count FROM {HOURLY} AS h"
              " JOIN dim_service AS s ON s.service_key = h.service_key ORDER BY 1, 2")
    hourly = [("checkout", T0.replace(tzinfo=UTC), 6), ("search", LATER.replace(tzinfo=UTC), 4)]
    assert w.query(joined) == hourly  # the 730-day rollup still joins to the member whose raw rows expired
    assert build(w, model).rebuilt == () and w.query(joined) == hourly  # and after the dimension's MERGE


def test_a_refused_commit_point_leaves_every_table_as_it_was(built: Built) -> None:
    w, model = built.warehouse, built.model
    before = _snapshot(w, model)
    Proxy.refuse_query = "COMMIT TRANSACTION"  # the full refresh's only transaction is its commit point
    start = len(w.sent)
    try:
        with pytest.raises(WarehouseError) as failure:
            build(w, model, full_refresh=True)
    finally:
        Proxy.refuse_query = None
    message = str(failure.value)
    assert message.startswith(f"COMMIT TRANSACTION: 403 {DENIED}\n")
    queries = _queries(w, start)
    assert queries[-2:] == ["COMMIT TRANSACTION", "ROLLBACK TRANSACTION"]  # the session's transaction is ended
    assert queries.count("BEGIN TRANSACTION") == 1 and _swap_dml(w, model, _order(w, model))[-1] in queries
    assert _snapshot(w, model) == before  # every table's rows as they were, though each had its DML sent
    assert w.query(f"SELECT COUNT(*) FROM {SWAP_TABLE}") == [(0,)]
    assert len(_twins(w)) == len(model.tables)  # left to the next build, which drops them first
    assert build(w, model).rebuilt == () and _twins(w) == []
    assert _snapshot(w, model) == before


def test_ctrl_c_in_the_middle_of_the_commit_point_leaves_every_table_as_it_was(built: Built) -> None:
    w, model = built.warehouse, built.model
    before = _snapshot(w, model)
    order = _order(w, model)
    inserted = _swap_dml(w, model, [DAILY])[1]  # DAILY is in the middle of the build order
    assert 0 < order.index(DAILY) < len(order) - 1
    Proxy.interrupt_after = inserted
    start = len(w.sent)
    try:
        with pytest.raises(KeyboardInterrupt):
            build(w, model, full_refresh=True)
    finally:
        Proxy.interrupt_after = None
    queries = _queries(w, start)
    assert queries[-2:] == [inserted, "ROLLBACK TRANSACTION"]  # the DML before it ran in the transaction, rolled back
    assert _swap_dml(w, model, order[:order.index(DAILY)])[0] in queries
    assert _snapshot(w, model) == before
    assert w.query(f"SELECT COUNT(*) FROM {SWAP_TABLE}") == [(0,)] and len(_twins(w)) == len(model.tables)
    assert build(w, model).rebuilt == () and _twins(w) == [] and _snapshot(w, model) == before


def _order(w: BigQueryWarehouse, model: SemanticModel) -> list[str]:
    from lookwright.warehouse.build import build_order

    return [t.name for t in build_order(TransformRenderer(w.target(model), "bigquery"))]


def _replacement(w: BigQueryWarehouse, model: SemanticModel, queries: list[str], name: str) -> str:
    """The statement replacing a table by its twin: the twin's own DDL (the model's layout) made
    CREATE OR REPLACE of the table, AS SELECT every column of the twin (every partition)."""
    table = TransformRenderer(w.target(model), "bigquery").model.tables[name]
    own, twin = f"`{PROJECT}.{DATASET}.{name}`", f"`{PROJECT}.{DATASET}.{name}__lw_next`"
    ddl = next(q for q in queries if q.startswith(f"CREATE TABLE IF NOT EXISTS {twin} ("))
    select = f"AS SELECT {', '.join(c.name for c in table.columns)} FROM {twin}"
    if table.require_partition_filter:
        select += f"\nWHERE {TransformRenderer(w.target(model), 'bigquery').all_partitions(table)}"
    return f"CREATE OR REPLACE TABLE {own}{ddl.strip().removeprefix(f'CREATE TABLE IF NOT EXISTS {twin}')}\n{select}"


def _table(w: BigQueryWarehouse, name: str) -> tuple[object, ...]:
    """What a reader sees of a table besides its rows: it was not replaced while these are equal."""
    t = w.client.get_table(f"{PROJECT}.{DATASET}.{name}")
    return (t.created, t.schema, t.time_partitioning, t.clustering_fields, t.description)


def test_changed_options_and_clustering_applied_in_place_and_a_repartition_replaces_the_table(built: Built) -> None:
    w = built.warehouse
    before = _snapshot(w, built.model)
    edited = _model(built.folder, {"performance.yml": (
        "    partition: {column: date}\n    cluster_by: [service_key]\n    retention_days: 3650",
        "    partition: {column: date, granularity: month}\n    cluster_by: [service_key]\n    retention_days: 3650"),
        "cost.yml": ("    partition: {column: date}\n    cluster_by: [service_key]\n    retention_days: 3650",
                     "    partition: {column: date}\n    cluster_by: [date, service_key]\n    retention_days: 4000")})
    start = len(w.sent)
    assert build(w, edited).rebuilt == (DAILY,)  # the re-partition of the daily performance rollup (no readers)
    assert [s.kind for s in w.sent[start:] if s.kind not in ("query", "update")] == []  # no copy job
    sent = [s.sql for s in w.sent[start:]]
    assert [s for s in sent if s.startswith(("ALTER TABLE", "UPDATE TABLE", "DROP TABLE IF EXISTS"))] == [
        (f"UPDATE TABLE {PROJECT}.{DATASET}.{COST_DAILY} SET clustering_fields = ['date', 'service_key'],"
        " partition_expiration_days = 4000, require_partition_filter = False,"
        " description = 'Cost per service per day (the dashboard grain), from the hourly cost fact.'")]  # never dropped
    journal = f"INSERT INTO `{PROJECT}.{DATASET}.{SWAP_TABLE}` (table_name, replace_table) VALUES (?, ?)"
    queries = _queries(w, start)
    begin, commit = _commit_point(queries, journal)  # the commit point lists it for its replacement, moves no rows
    assert [s for s in _swap_dml(w, edited, [DAILY]) if s in commit] == []
    replacement = _replacement(w, edited, queries, DAILY)
    assert "\nPARTITION BY DATE_TRUNC(date, MONTH)\nCLUSTER BY service_key\nOPTIONS(\n  partition_expiration_days = 3650," \
        in replacement  # the model's new layout, options and clustering in the one statement
    assert queries[begin + len(commit):] == [  # then the one atomic statement, and the twin goes
        replacement, f"DROP TABLE `{PROJECT}.{DATASET}.{DAILY}__lw_next`",
        "BEGIN TRANSACTION", f"DELETE FROM `{PROJECT}.{DATASET}.{SWAP_TABLE}` WHERE TRUE", "COMMIT TRANSACTION"]
    cost = w.client.get_table(f"{PROJECT}.{DATASET}.{COST_DAILY}")
    assert (cost.clustering_fields, cost.time_partitioning.expiration_ms) == (["date", "service_key"], 4000 * 86_400_000)
    layouts = recorded_layouts(w, TransformRenderer(w.target(edited), "bigquery"))
    assert (layouts[COST_DAILY].expiration_days, layouts[COST_DAILY].cluster_by) == (4000, ("date", "service_key"))
    assert layouts[DAILY].partition == "date/month"
    assert _snapshot(w, edited) == before
    built.model = edited


HOURLY_DAY = "    partition: {column: hour}\n    cluster_by: [service_key, endpoint_key]"
HOURLY_MONTH = "    partition: {column: hour, granularity: month}\n    cluster_by: [service_key, endpoint_key]"


def _rebuilt_with_readers(w: BigQueryWarehouse, model: SemanticModel, name: str) -> list[str]:
    from lookwright.warehouse.build import build_order, downstream

    renderer = TransformRenderer(w.target(model), "bigquery")
    order = build_order(renderer)
    found = downstream(renderer, order, {name})
    return [t.name for t in order if t.name in found]


def test_a_replacement_refused_half_way_leaves_the_table_and_is_finished_by_the_next_build(built: Built) -> None:
    """A re-partitioned table with readers: the readers switch at the commit point, the table by
    its CREATE OR REPLACE after it; that refused, the table is the previous one, rows and layout,
    and the journal keeps it for the next build."""
    w = built.warehouse
    before, old = _snapshot(w, built.model), _table(w, HOURLY)
    model = _model(built.folder, {"performance.yml": (HOURLY_DAY, HOURLY_MONTH)})
    rebuilt = _rebuilt_with_readers(w, model, HOURLY)
    assert rebuilt[0] == HOURLY and len(rebuilt) > 1
    replace = f"CREATE OR REPLACE TABLE `{PROJECT}.{DATASET}.{HOURLY}` ("
    Proxy.refuse_query = replace
    start = len(w.sent)
    try:
        with pytest.raises(WarehouseError) as failure:
            build(w, model)
    finally:
        Proxy.refuse_query = None
    message = str(failure.value)
    assert message.startswith(f"{replace} (table {PROJECT}.{DATASET}.{HOURLY}): 403 {DENIED}\n")
    queries = _queries(w, start)
    readers = _swap_dml(w, model, rebuilt[1:])
    begin, commit = _commit_point(queries, readers[0])
    assert commit[1:1 + len(readers)] == readers  # committed: the readers hold their new rows
    replacement = _replacement(w, model, queries, HOURLY)
    assert queries[begin + len(commit):] == [replacement]  # refused: nothing after it
    assert [s.kind for s in w.sent[start:] if s.kind == "copy"] == []
    assert w.query(f"SELECT table_name, replace_table FROM {SWAP_TABLE}") == [(HOURLY, True)]
    assert _twins(w) == sorted(f"{name}__lw_next" for name in rebuilt)  # the readers' dropped by the next build
    assert _table(w, HOURLY) == old and _snapshot(w, model) == before  # the previous table, never missing
    start = len(w.sent)
    assert build(w, model).rebuilt == ()  # the layouts were recorded at the commit point
    queries = _queries(w, start)
    pending = f"SELECT table_name, replace_table FROM `{PROJECT}.{DATASET}.{SWAP_TABLE}`"
    at = queries.index(pending)  # in prepare, before any step
    assert queries[at:at + 3] == [pending, replacement, f"DROP TABLE `{PROJECT}.{DATASET}.{HOURLY}__lw_next`"]
    assert "BEGIN TRANSACTION" not in queries[:at]
    assert _table(w, HOURLY)[0] != old[0]  # a new table
    assert _twins(w) == [] and w.query(f"SELECT COUNT(*) FROM {SWAP_TABLE}") == [(0,)]
    assert recorded_layouts(w, TransformRenderer(w.target(model), "bigquery"))[HOURLY].partition == "hour/month"
    assert _snapshot(w, model) == before
    built.model = model


def test_a_replacement_timing_out_is_cancelled_leaves_the_table_and_the_next_build_finishes_it(
        built: Built, proxy: str) -> None:
    w = built.warehouse
    before, old = _snapshot(w, built.model), _table(w, HOURLY)
    model = _model(built.folder, {"performance.yml": (HOURLY_MONTH, HOURLY_DAY)})  # back to daily partitions
    rebuilt = _rebuilt_with_readers(w, model, HOURLY)
    replace = f"CREATE OR REPLACE TABLE `{PROJECT}.{DATASET}.{HOURLY}` ("
    Proxy.stall_query, Proxy.stalled, Proxy.cancelled = replace, [], []
    try:
        with (BigQueryWarehouse(PROJECT, DATASET, endpoint=proxy, timeout_s=10, command="test") as quick,
              pytest.raises(WarehouseError) as failure):
            build(quick, model)
    finally:
        Proxy.stall_query = None
    assert str(failure.value) == f"{replace}: no result within 10 s; the job was cancelled"
    assert len(Proxy.stalled) == 1 and Proxy.cancelled == Proxy.stalled
    assert _twins(w) == sorted(f"{name}__lw_next" for name in rebuilt)
    assert w.query(f"SELECT table_name, replace_table FROM {SWAP_TABLE}") == [(HOURLY, True)]
    assert _table(w, HOURLY) == old and _snapshot(w, model) == before  # the previous table, never missing
    start = len(w.sent)
    assert build(w, model).rebuilt == ()  # the next build finishes the swap, then builds incrementally
    assert [s.sql for s in w.sent[start:] if s.sql.startswith(replace)] == [
        s.sql for s in quick.sent if s.sql.startswith(replace)]  # the same statement, run again
    assert [s.kind for s in w.sent[start:] if s.kind == "copy"] == [] and _table(w, HOURLY)[0] != old[0]
    assert _twins(w) == [] and w.query(f"SELECT COUNT(*) FROM {SWAP_TABLE}") == [(0,)]
    assert _snapshot(w, model) == before
    built.model = model


def test_every_statement_sent_passes_zetasql(built: Built) -> None:
    analyzer = BigQueryAnalyzer(model_tables(built.model), [f"{PROJECT}.{DATASET}"])
    sent = [s for s in built.warehouse.sent if s.kind == "query"]
    assert len(sent) > 300
    statements = sorted({(s.sql, tuple((name, kind) for name, kind, _ in s.params)) for s in sent})  # once each
    errors = {(sql[:120], error.format()) for sql, parameters in statements
              if (error := analyzer.check(sql, list(parameters))) is not None}
    assert errors == set()

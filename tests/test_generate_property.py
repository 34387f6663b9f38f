"""Property: every random valid model generates LookML that lkml loads and SQL that sqlglot parses."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import lkml
import sqlglot
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookwright.output.generate import GenerateOptions, generate

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
COLUMN_TYPES = st.sampled_from(["STRING", "INT64", "FLOAT64", "BOOL", "DATE", "TIMESTAMP"])
MEASURE_TYPES = st.sampled_from(["sum", "average", "min", "max", "count_distinct", "median", "percentile"])
TEXT = st.text(alphabet="abcdefgh XYZ'\"-,.%&", max_size=20)


@st.composite
def tables(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    out: list[dict[str, Any]] = []
    for position, name in enumerate(names):
        columns = draw(st.lists(st.tuples(NAMES, COLUMN_TYPES), min_size=1, max_size=6, unique_by=lambda c: c[0]))
        columns = [("id", "STRING"), *[c for c in columns if c[0] != "id"]]
        table: dict[str, Any] = {
            "name": name, "kind": "fact", "description": draw(TEXT),
            "columns": [{"name": c, "type": t, "description": draw(TEXT)} for c, t in columns],
            "dimensions": [], "measures": [{"name": "row_count", "type": "count"}],
        }
        for column, kind in columns:
            if column == "id":
                table["dimensions"].append({"name": "id", "primary_key": True, "label": draw(TEXT)})
            elif kind in ("DATE", "TIMESTAMP"):
                table["dimensions"].append({"name": f"{column}_at", "type": "time", "column": column})
            else:
                dim_type = {"BOOL": "yesno", "STRING": "string"}.get(kind, "number")
                table["dimensions"].append({"name": column, "type": dim_type, "description": draw(TEXT)})
                if dim_type == "number":
                    measure = draw(MEASURE_TYPES)
                    spec = {"name": f"{measure}_{column}", "type": measure, "sql": f"${{{column}}}"}
                    if measure == "percentile":
                        spec["percentile"] = draw(st.integers(1, 99))
                    table["measures"].append(spec)
        if position > 0:
            table["columns"].append({"name": "parent_id", "type": "STRING"})
            table["foreign_keys"] = [{"column": "parent_id", "references": f"{names[0]}.id"}]
        time_columns = [c for c, t in columns if t in ("DATE", "TIMESTAMP")]
        if time_columns and draw(st.booleans()):
            table["partition"] = {"column": time_columns[0]}
            table["retention_days"] = draw(st.integers(1, 3650))
            table["cluster_by"] = ["id"]
        out.append(table)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_random_valid_models_generate_loadable_lookml_and_parseable_sql(model_tables: list[dict[str, Any]]) -> None:
    root = model_tables[-1]["name"]
    document = {
        "warehouse": {"project": "proj", "dataset": "ds"},
        "tables": model_tables,
        # the last table joins the first through its foreign key (when they differ)
        "explores": [{"name": root, "joins": [{"view": model_tables[0]["name"]}] if len(model_tables) > 1 else []}],
        "models": [{"name": "random_model", "connection": "bq", "explores": [root]}],
    }
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "model").mkdir()
        (work / "model" / "model.yml").write_text(yaml.safe_dump(document, sort_keys=False))
        generate(GenerateOptions(work / "model", work / "lookml", work / "sql"))
        lookml_files = sorted((work / "lookml").rglob("*.lkml"))
        assert len(lookml_files) == len(model_tables) + 2
        views = sorted(view["name"] for path in lookml_files if path.name.endswith(".view.lkml")
                       for view in lkml.load(path.read_text())["views"])
        assert views == sorted(table["name"] for table in model_tables)
        explores = [lkml.load(path.read_text()) for path in lookml_files if path.name.endswith(".explore.lkml")]
        assert [[e["name"] for e in parsed["explores"]] for parsed in explores] == [[root]]
        model = lkml.load((work / "lookml" / "random_model.model.lkml").read_text())
        assert model["connection"] == "bq"
        for path in sorted((work / "sql").rglob("*.sql")):
            statement = sqlglot.parse_one(path.read_text(), read="bigquery")
            assert statement.key in ("create", "merge", "select", "union"), path

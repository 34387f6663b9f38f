"""The interface every warehouse connection offers to loaders and transforms."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from lookwright.errors import WarehouseError

if TYPE_CHECKING:
    from lookwright.model.ir import SemanticModel
    from lookwright.warehouse.layout import Layout

DEFAULT_TIMEOUT_S = 300.0  # a BigQuery job still running after this is cancelled

Params = Sequence[Any] | dict[str, Any] | None


@dataclass(frozen=True)
class TypedNull:
    """A NULL query parameter of a known BigQuery type (BigQuery cannot infer the type of None)."""

    type: str


def retarget(model: SemanticModel, project: str, dataset: str) -> SemanticModel:
    """The model with every table that lives in the model's own dataset moved to project.dataset."""
    home = f"{model.warehouse.project}.{model.warehouse.dataset}."
    tables = {
        name: replace(table, table_id=f"{project}.{dataset}.{table.table_id[len(home):]}")
        if table.table_id.startswith(home) else table
        for name, table in model.tables.items()
    }
    warehouse = model.warehouse.model_copy(update={"project": project, "dataset": dataset})
    return replace(model, tables=tables, warehouse=warehouse)


class Warehouse(ABC):
    """A SQL warehouse connection; `dialect` is the sqlglot dialect name of its SQL."""

    dialect: str
    transactional_ddl = False  # whether CREATE/DROP/ALTER TABLE commit and roll back with a transaction

    @abstractmethod
    def execute(self, sql: str, params: Params = None) -> None:
        """Run one statement and discard any result."""

    @abstractmethod
    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Run one statement and return every row as a tuple."""

    @abstractmethod
    def query_dicts(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """Run one statement and return every row as a column-name -> value dict."""

    @abstractmethod
    def begin(self) -> None:
        """Start a transaction."""

    @abstractmethod
    def commit(self) -> None:
        """Commit the open transaction."""

    @abstractmethod
    def rollback(self) -> None:
        """Roll the open transaction back."""

    @abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether a table or view of that name exists."""

    @abstractmethod
    def columns(self, name: str) -> list[str]:
        """The column names of a table or view, in order."""

    @abstractmethod
    def row_count(self, name: str) -> int:
        """The rows a table holds now, every partition, as the warehouse knows it most cheaply
        (`name` as `table_exists` takes it): what a build reports after each step."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def copy_table(self, source: str, destination: str) -> None:
        """Put a copy of source's rows in destination's place in one atomic step (a warehouse with copy jobs)."""
        raise WarehouseError(f"copying {source} to {destination}: {type(self).__name__} has no copy jobs")

    def update_layout(self, name: str, layout: Layout) -> None:
        """Give a table the layout's clustering and options in place (a warehouse without them has nothing to do)."""

    def target(self, model: SemanticModel) -> SemanticModel:
        """The model as built here: a warehouse that names its own dataset moves the tables there."""
        return model

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """Commit when the block succeeds; roll back everything it did when it raises."""
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def naive_utc(value: object) -> datetime | None:
    """A timestamp read back from a warehouse as a naive UTC datetime (BigQuery returns aware ones,
    DuckDB naive UTC; a DATE is its midnight)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise WarehouseError(f"expected a timestamp, got {value!r}")

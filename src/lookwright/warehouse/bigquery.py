"""A BigQuery dataset as a warehouse, through google-cloud-bigquery (BigQuery or an emulator)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from decimal import Decimal
from typing import Any

import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from lookwright.errors import WarehouseError
from lookwright.warehouse.base import Params, Warehouse

URL_SCHEME = "bigquery:"
DEFAULT_TIMEOUT_S = 300.0

# Python type -> BigQuery parameter type; bool before int since bool is an int subclass.
_PARAMETER_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "BOOL"),
    (int, "INT64"),
    (float, "FLOAT64"),
    (Decimal, "NUMERIC"),
    (str, "STRING"),
    (bytes, "BYTES"),
    (dt.datetime, "TIMESTAMP"),
    (dt.date, "DATE"),
    (dt.time, "TIME"),
)

_ERRORS = (
    api_exceptions.GoogleAPIError,
    auth_exceptions.GoogleAuthError,
    requests.exceptions.RequestException,
    concurrent.futures.TimeoutError,
)

Parameter = (
    bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter | bigquery.StructQueryParameter
)


def _first_line(sql: str) -> str:
    """The statement's first line that is neither blank nor a `--` comment."""
    for line in sql.strip().splitlines():
        line = line.strip()
        if line and not line.startswith("--"):
            return line
    return ""


def _message(error: BaseException) -> str:
    if isinstance(error, api_exceptions.GoogleAPICallError):
        return f"{error.code} {error.message}" if error.code else str(error.message)
    return str(error) or type(error).__name__


def _parameter(name: str | None, value: Any) -> Parameter:
    """A typed query parameter; a ready-made bigquery parameter (e.g. a typed NULL) passes through."""
    if isinstance(value, (bigquery.ScalarQueryParameter, bigquery.ArrayQueryParameter,
                          bigquery.StructQueryParameter)):
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return bigquery.ScalarQueryParameter(name, "DATETIME", value)
    for python_type, bigquery_type in _PARAMETER_TYPES:
        if isinstance(value, python_type):
            scalar: Any = value
            return bigquery.ScalarQueryParameter(name, bigquery_type, scalar)
    shown = "NULL" if value is None else type(value).__name__
    raise WarehouseError(
        f"cannot infer the BigQuery type of a {shown} parameter {name or ''}".rstrip()
        + ": pass a google.cloud.bigquery.ScalarQueryParameter"
    )


def _parameters(params: Params) -> list[Parameter]:
    if params is None:
        return []
    if isinstance(params, dict):
        return [_parameter(name, value) for name, value in params.items()]
    return [_parameter(None, value) for value in params]


def parse_url(url: str) -> tuple[str, str, str | None]:
    """`bigquery:PROJECT.DATASET[@ENDPOINT]` -> (project, dataset, endpoint or None)."""
    if not url.startswith(URL_SCHEME):
        raise WarehouseError(
            f"unsupported warehouse URL {url!r}: expected bigquery:PROJECT.DATASET[@ENDPOINT]"
        )
    target, _, endpoint = url[len(URL_SCHEME) :].partition("@")
    project, _, dataset = target.rpartition(".")  # a domain-scoped project id holds a dot itself
    if not project or not dataset:
        raise WarehouseError(
            f"warehouse URL {url!r} names no PROJECT.DATASET:"
            " expected bigquery:PROJECT.DATASET[@ENDPOINT]"
        )
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise WarehouseError(
            f"warehouse URL {url!r}: the endpoint after @ must start with http:// or https://"
        )
    return project, dataset, endpoint or None


def make_client(project: str, endpoint: str | None = None) -> bigquery.Client:
    """A client: Application Default Credentials, or anonymous against an emulator endpoint."""
    try:
        if endpoint is None:
            return bigquery.Client(project=project)
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    except _ERRORS as error:
        message = f"cannot open BigQuery project {project}: {_message(error)}"
        raise WarehouseError(message) from error


class BigQueryWarehouse(Warehouse):
    """One BigQuery dataset; unqualified table names in SQL resolve to it.

    Transactions are BigQuery multi-statement transactions in a session: `begin` runs
    BEGIN TRANSACTION in a new session, every statement until `commit`/`rollback` runs in that
    session (so reads see the transaction's own writes), and a failing statement makes BigQuery
    roll the whole transaction back. BigQuery allows only DML and SELECT (and DDL on TEMP
    tables) inside a transaction. The session is reused by later transactions and expires by
    itself 24 hours after its last use.
    """

    dialect = "bigquery"

    def __init__(
        self,
        project: str,
        dataset: str,
        client: bigquery.Client | None = None,
        endpoint: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._owns_client = client is None
        self.client = client if client is not None else make_client(project, endpoint)
        self._retry = bigquery.DEFAULT_RETRY.with_deadline(timeout_s)
        self._session: str | None = None
        self._in_transaction = False
        self._failed_in_transaction = False

    def qualify(self, name: str) -> str:
        """`table`, `dataset.table` or `project.dataset.table` -> `project.dataset.table`."""
        parts = name.strip("`").split(".")
        if len(parts) == 1:
            return f"{self.project}.{self.dataset}.{name.strip('`')}"
        if len(parts) == 2:
            return f"{self.project}.{'.'.join(parts)}"
        return ".".join(parts)

    def _config(self, params: Params, *, create_session: bool = False) -> bigquery.QueryJobConfig:
        config = bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}",
            query_parameters=_parameters(params),
        )
        if create_session:
            config.create_session = True
        elif self._in_transaction and self._session is not None:
            session = bigquery.ConnectionProperty("session_id", self._session)
            config.connection_properties = [session]
        return config

    def _run(self, sql: str, params: Params, *, create_session: bool = False,
             control: bool = False) -> bigquery.QueryJob:
        """Run the statement to completion; never resubmitted, since DML is not idempotent.

        After a statement of a transaction fails, BigQuery has rolled the transaction back and
        would run later statements outside it, so they are refused until `rollback`.
        """
        if self._in_transaction and self._failed_in_transaction and not control:
            raise WarehouseError(f"{_first_line(sql)}: refused, the open transaction failed and"
                                 " BigQuery rolled it back; call rollback()")
        config = self._config(params, create_session=create_session)
        try:
            job = self.client.query(sql, job_config=config, retry=self._retry,
                                    timeout=self.timeout_s, job_retry=None)
            job.result(retry=self._retry, timeout=self.timeout_s)
        except _ERRORS as error:
            if self._in_transaction:
                self._failed_in_transaction = True
            raise WarehouseError(f"{_first_line(sql)}: {_message(error)}") from error
        return job

    def _rows(self, sql: str, params: Params) -> tuple[list[str], list[tuple[Any, ...]]]:
        job = self._run(sql, params)
        try:
            result = job.result(retry=self._retry, timeout=self.timeout_s)
            rows = [tuple(row.values()) for row in result]
        except _ERRORS as error:
            raise WarehouseError(f"{_first_line(sql)}: {_message(error)}") from error
        names = [field.name for field in result.schema]
        return names, rows

    def execute(self, sql: str, params: Params = None) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self._rows(sql, params)[1]

    def query_dicts(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        names, rows = self._rows(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def begin(self) -> None:
        if self._in_transaction:
            raise WarehouseError("BEGIN TRANSACTION: a transaction is already open on this warehouse")
        if self._session is None:
            job = self._run("BEGIN TRANSACTION", None, create_session=True, control=True)
            if job.session_info is None or not job.session_info.session_id:
                raise WarehouseError("BEGIN TRANSACTION: BigQuery returned no session id")
            self._session = job.session_info.session_id
            self._in_transaction = True
        else:
            self._in_transaction = True
            try:
                self._run("BEGIN TRANSACTION", None, control=True)
            except WarehouseError:
                self._in_transaction = False
                raise
        self._failed_in_transaction = False

    def commit(self) -> None:
        if not self._in_transaction:
            raise WarehouseError("COMMIT TRANSACTION: no transaction is open on this warehouse")
        if self._failed_in_transaction:
            self.rollback()
            raise WarehouseError("COMMIT TRANSACTION: a statement of the transaction failed,"
                                 " so BigQuery rolled it back")
        try:
            self._run("COMMIT TRANSACTION", None, control=True)
        finally:
            self._in_transaction = False

    def rollback(self) -> None:
        """Roll back; after a failed statement BigQuery already has, so an error of ROLLBACK is moot."""
        if not self._in_transaction:
            raise WarehouseError("ROLLBACK TRANSACTION: no transaction is open on this warehouse")
        already_rolled_back = self._failed_in_transaction
        try:
            self._run("ROLLBACK TRANSACTION", None, control=True)
        except WarehouseError:
            if not already_rolled_back:
                raise
        finally:
            self._in_transaction = False

    def _table(self, name: str) -> bigquery.Table | None:
        reference = self.qualify(name)
        try:
            return self.client.get_table(reference, retry=self._retry, timeout=self.timeout_s)
        except api_exceptions.NotFound:
            return None
        except _ERRORS as error:
            raise WarehouseError(f"cannot read table {reference}: {_message(error)}") from error

    def table_exists(self, name: str) -> bool:
        return self._table(name) is not None

    def columns(self, name: str) -> list[str]:
        """The top-level column names in order; none for a table that does not exist."""
        table = self._table(name)
        return [] if table is None else [field.name for field in table.schema]

    def close(self) -> None:
        if self._owns_client:
            self.client.close()  # type: ignore[no-untyped-call]


def open_bigquery(url: str) -> BigQueryWarehouse:
    """Open `bigquery:PROJECT.DATASET` (default credentials) or `...@http://HOST:PORT` (an emulator)."""
    project, dataset, endpoint = parse_url(url)
    return BigQueryWarehouse(project, dataset, endpoint=endpoint)

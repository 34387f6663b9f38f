"""A BigQuery dataset as a warehouse, through google-cloud-bigquery (BigQuery or an emulator)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

from lookwright.errors import WarehouseError
from lookwright.warehouse.base import DEFAULT_TIMEOUT_S, Params, TypedNull, Warehouse, retarget

if TYPE_CHECKING:
    from lookwright.model.ir import SemanticModel
    from lookwright.warehouse.layout import Layout

URL_SCHEME = "bigquery:"
API_DEADLINE_S = 30.0  # retrying one API call (never a job that ran) gives up after this
READ_ONLY = re.compile(r"^\s*(?:--[^\n]*\n\s*)*(SELECT|WITH)\b", re.IGNORECASE)
_TARGET = re.compile(r"^\s*(?:--[^\n]*\n\s*)*(?:INSERT\s+INTO|MERGE(?:\s+INTO)?|DELETE\s+FROM|UPDATE|TRUNCATE\s+TABLE"
                     r"|CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+)?TABLE(?:\s+IF\s+NOT\s+EXISTS)?|DROP\s+TABLE"
                     r"(?:\s+IF\s+EXISTS)?|ALTER\s+TABLE)\s+(`[^`]+`|[\w.-]+)", re.IGNORECASE)
_LABEL = re.compile(r"[^a-z0-9_-]+")
_REQUEST = re.compile(r"^(?:GET|POST|PUT|PATCH|DELETE) \S+: ")


class Refused(Exception):
    """BigQuery's answer to a job it refused, as its status and message (a dry run's failure's cause)."""


@dataclass(frozen=True)
class SentStatement:
    """One job the adapter sent: its SQL (or `LOAD table FROM file`), parameters, and kind."""

    sql: str
    params: tuple[tuple[str | None, str, str], ...]  # (name, BigQuery type, value)
    kind: str  # query | dry_run | load

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
    """BigQuery's status and message, without the request the client prefixes ("POST https://...: ")."""
    if isinstance(error, api_exceptions.GoogleAPICallError):
        message = _REQUEST.sub("", str(error.message), count=1)
        return f"{error.code} {message}" if error.code else message
    return str(error) or type(error).__name__


def _parameter(name: str | None, value: Any) -> Parameter:
    """A typed query parameter; a ready-made bigquery parameter (e.g. a typed NULL) passes through."""
    if isinstance(value, (bigquery.ScalarQueryParameter, bigquery.ArrayQueryParameter,
                          bigquery.StructQueryParameter)):
        return value
    if isinstance(value, TypedNull):
        return bigquery.ScalarQueryParameter(name, value.type, None)
    if isinstance(value, dt.datetime) and value.tzinfo is None:  # lookwright's naive datetimes are UTC
        return bigquery.ScalarQueryParameter(name, "TIMESTAMP", value.replace(tzinfo=dt.UTC))
    for python_type, bigquery_type in _PARAMETER_TYPES:
        if isinstance(value, python_type):
            scalar: Any = value
            return bigquery.ScalarQueryParameter(name, bigquery_type, scalar)
    shown = "NULL" if value is None else type(value).__name__
    raise WarehouseError(
        f"cannot infer the BigQuery type of a {shown} parameter {name or ''}".rstrip()
        + ": pass lookwright.warehouse.base.TypedNull(TYPE) or a google.cloud.bigquery.ScalarQueryParameter"
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


def target_table(sql: str) -> str | None:
    """The table a DML or DDL statement writes, as written (without backticks)."""
    match = _TARGET.match(sql)
    return match[1].strip("`") if match else None


def _label(value: str) -> str:
    return _LABEL.sub("_", value.lower())[:63]


def make_client(project: str, endpoint: str | None = None, credentials_file: Path | None = None,
                location: str | None = None) -> bigquery.Client:
    """A client: a service-account key file, Application Default Credentials, or anonymous against an emulator."""
    try:
        if credentials_file is not None:
            from google.oauth2 import service_account

            credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(credentials_file))
            options = ClientOptions(api_endpoint=endpoint) if endpoint else None
            return bigquery.Client(project=project, credentials=credentials, location=location,
                                   client_options=options)
        if endpoint is None:
            return bigquery.Client(project=project, location=location)
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=endpoint),
            location=location,
        )
    except auth_exceptions.DefaultCredentialsError as error:
        raise WarehouseError(f"cannot open BigQuery project {project}: {_message(error)}; pass --credentials"
                             " FILE (a service-account key), or run `gcloud auth application-default login`"
                             ) from error
    except (*_ERRORS, OSError, ValueError) as error:
        message = f"cannot open BigQuery project {project}: {_message(error)}"
        raise WarehouseError(message) from error


def _anonymous(client: bigquery.Client) -> bool:
    """Whether the client sends no credentials (google.cloud.client.Client keeps them in `_credentials`)."""
    return isinstance(getattr(client, "_credentials", None), AnonymousCredentials)


class BigQueryWarehouse(Warehouse):
    """One BigQuery dataset; unqualified table names in SQL resolve to it.

    Transactions are BigQuery multi-statement transactions in a session: `begin` runs
    BEGIN TRANSACTION in a new session, every statement until `commit`/`rollback` runs in that
    session (so reads see the transaction's own writes), and a failing statement makes BigQuery
    roll the whole transaction back. BigQuery allows only DML and SELECT (and DDL on TEMP
    tables) inside a transaction. The session is reused by later transactions and expires by
    itself 24 hours after its last use.

    Every job runs in `location` (default: the dataset's), carries labels naming lookwright, the
    command and the table it writes, and is capped at `maximum_bytes_billed` when given. A job
    still running at the timeout is cancelled. Only read-only queries are re-run after a failed
    job; API calls are retried (the client names each job, so a retried call never runs it twice).
    Every statement sent is recorded in `sent`, in order.

    `emulator`: the endpoint is an emulator, whose dry runs report no bytes worth the name (default:
    whether the client sends no credentials, as make_client's for an endpoint without a key file:
    BigQuery answers no anonymous call). A regional or private endpoint reached with credentials is
    BigQuery, and its dry runs' bytes are reported.
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
        location: str | None = None,
        credentials_file: Path | None = None,
        maximum_bytes_billed: int | None = None,
        command: str = "lookwright",
        emulator: bool | None = None,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.maximum_bytes_billed = maximum_bytes_billed
        self.command = command
        self._location = location
        self._owns_client = client is None
        self.client = client if client is not None else make_client(project, endpoint, credentials_file, location)
        # BigQuery answers no unauthenticated call: a client without credentials (make_client's, for an
        # endpoint without --credentials) talks to an emulator, whose dry runs report 0 bytes for anything
        self.emulator = _anonymous(self.client) if emulator is None else emulator
        self._retry = bigquery.DEFAULT_RETRY.with_deadline(min(timeout_s, API_DEADLINE_S))
        self._session: str | None = None
        self._in_transaction = False
        self._failed_in_transaction = False
        self.sent: list[SentStatement] = []

    def target(self, model: SemanticModel) -> SemanticModel:
        return retarget(model, self.project, self.dataset)

    def qualify(self, name: str) -> str:
        """`table`, `dataset.table` or `project.dataset.table` -> `project.dataset.table`."""
        parts = name.strip("`").split(".")
        if len(parts) == 1:
            return f"{self.project}.{self.dataset}.{name.strip('`')}"
        if len(parts) == 2:
            return f"{self.project}.{'.'.join(parts)}"
        return ".".join(parts)

    @property
    def location(self) -> str:
        """Where jobs run: the given location, else the dataset's (which also proves it exists)."""
        if self._location is None:
            reference = f"{self.project}.{self.dataset}"
            try:
                found = self.client.get_dataset(reference, retry=self._retry, timeout=self.timeout_s)
            except api_exceptions.NotFound as error:
                raise WarehouseError(f"dataset {reference} not found: {_message(error)};"
                                     " create it (bq mk) or name another in the warehouse URL") from error
            except _ERRORS as error:
                raise WarehouseError(f"cannot read dataset {reference}: {_message(error)}") from error
            self._location = str(found.location or "US")
        return self._location

    def _location_for(self, sql: str) -> str:
        try:
            return self.location
        except WarehouseError as error:
            raise WarehouseError(f"{_first_line(sql)}: {error}") from error

    def _labels(self, sql: str) -> dict[str, str]:
        labels = {"tool": "lookwright", "command": _label(self.command)}
        table = target_table(sql)
        if table is not None:
            labels["table"] = _label(table.rpartition(".")[2])
        return labels

    def _config(self, sql: str, params: Params, *, create_session: bool = False,
                dry_run: bool = False) -> bigquery.QueryJobConfig:
        config = bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}",
            query_parameters=_parameters(params),
            labels=self._labels(sql),
            dry_run=dry_run,
        )
        if dry_run:
            config.use_query_cache = False
        if self.maximum_bytes_billed is not None:
            config.maximum_bytes_billed = self.maximum_bytes_billed
        if create_session:
            config.create_session = True
        elif self._in_transaction and self._session is not None:
            session = bigquery.ConnectionProperty("session_id", self._session)
            config.connection_properties = [session]
        return config

    def _record(self, sql: str, config: bigquery.QueryJobConfig | None, kind: str) -> None:
        parameters = tuple((p.name, str(getattr(p, "type_", "")), repr(getattr(p, "value", None)))
                           for p in (config.query_parameters if config is not None else []))
        self.sent.append(SentStatement(sql, parameters, kind))

    def _fail(self, sql: str, error: BaseException) -> WarehouseError:
        table = target_table(sql)
        where = f" (table {self.qualify(table)})" if table else ""
        return WarehouseError(f"{_first_line(sql)}{where}: {_message(error)}")

    def _run(self, sql: str, params: Params, *, create_session: bool = False,
             control: bool = False) -> bigquery.QueryJob:
        """Run the statement to completion; a failed DML or DDL job is never re-run.

        After a statement of a transaction fails, BigQuery has rolled the transaction back and
        would run later statements outside it, so they are refused until `rollback`.
        """
        if self._in_transaction and self._failed_in_transaction and not control:
            raise WarehouseError(f"{_first_line(sql)}: refused, the open transaction failed and"
                                 " BigQuery rolled it back; call rollback()")
        location = self._location_for(sql)
        config = self._config(sql, params, create_session=create_session)
        self._record(sql, config, "query")
        job_retry = DEFAULT_JOB_RETRY if READ_ONLY.match(sql) and not self._in_transaction else None
        job: bigquery.QueryJob | None = None
        # a job that may write is named here, so it can be cancelled even when its insert call timed out
        job_id = None if job_retry is not None else f"lookwright_{uuid.uuid4().hex}"
        try:
            try:
                job = self.client.query(sql, job_config=config, retry=self._retry, timeout=self.timeout_s,
                                        job_retry=job_retry, location=location, job_id=job_id)
            except api_exceptions.Conflict:
                if job_id is None:
                    raise
                # the insert was retried after BigQuery had created the job: it is ours, follow it
                found = self.client.get_job(job_id, location=location, retry=self._retry, timeout=self.timeout_s)
                if not isinstance(found, bigquery.QueryJob):
                    raise
                job = found
            job.result(retry=self._retry, timeout=self.timeout_s)
        except (concurrent.futures.TimeoutError, api_exceptions.RetryError) as error:
            if self._in_transaction:
                self._failed_in_transaction = True
            raise self._given_up(_first_line(sql), job, error, job_id, location) from error
        except _ERRORS as error:
            if self._in_transaction:
                self._failed_in_transaction = True
            raise self._fail(sql, error) from error
        return job

    def _given_up(self, statement: str, job: bigquery.QueryJob | bigquery.CopyJob | bigquery.LoadJob | None,
                  error: BaseException, job_id: str | None = None, location: str | None = None) -> WarehouseError:
        """No result in time (the poll timed out, or the API calls' retries ran out of time): cancel the job.

        A job whose insert call got no answer is cancelled by the id it was given; without one
        there is no job to name, and the failure is the API's own.
        """
        if job is not None:
            job_id, location = job.job_id, job.location
        if job_id is None:
            return WarehouseError(f"{statement}: {_message(error)}")
        self._cancel(job_id, location)
        return WarehouseError(f"{statement}: no result within {self.timeout_s:g} s; the job was cancelled")

    def _cancel(self, job_id: str, location: str | None) -> None:
        """Cancel a job that is still running (a client-side timeout does not stop it)."""
        try:
            self.client.cancel_job(job_id, location=location, retry=self._retry, timeout=self.timeout_s)
        except _ERRORS:
            pass  # it finished, failed or never started meanwhile; the caller reports the timeout either way

    def dry_run(self, sql: str, params: Params = None) -> int | None:
        """Validate the statement without running it (nothing billed); the bytes it would process,
        as the dry run reports them: None when it reports none, or comes from an emulator (`emulator`:
        bqemulator answers totalBytesProcessed "0" for every statement), never a guess."""
        location = self._location_for(sql)
        config = self._config(sql, params, dry_run=True)
        self._record(sql, config, "dry_run")
        try:
            job = self.client.query(sql, job_config=config, retry=self._retry, timeout=self.timeout_s,
                                    job_retry=None, location=location)
        except _ERRORS as error:
            refused = Refused(_message(error).split("\n\n")[0])  # what `validate sql` reports: no job id
            refused.__cause__ = error
            raise self._fail(sql, error) from refused
        reported = job.total_bytes_processed
        return None if self.emulator or reported is None else int(reported)

    def load_json(self, table: str, path: Path, columns: tuple[tuple[str, str], ...]) -> None:
        """A load job: a local newline-delimited JSON file replaces the table (created if needed)."""
        reference = self.qualify(table)
        config = bigquery.LoadJobConfig(
            schema=[bigquery.SchemaField(name, kind) for name, kind in columns],
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
            labels={"tool": "lookwright", "command": _label(self.command), "table": _label(table)},
        )
        statement = f"LOAD {reference} FROM {path.name}"
        self.sent.append(SentStatement(statement, (), "load"))
        location = self._location_for(statement)
        job: bigquery.LoadJob | None = None
        try:
            with path.open("rb") as handle:
                job = self.client.load_table_from_file(handle, reference, job_config=config, location=location,
                                                       timeout=self.timeout_s)
            job.result(retry=self._retry, timeout=self.timeout_s)
        except (concurrent.futures.TimeoutError, api_exceptions.RetryError) as error:
            # a load job writes all its rows or none: cancelled, it writes none
            raise self._given_up(f"load job into {reference} from {path}", job, error) from error
        except (*_ERRORS, OSError) as error:
            raise WarehouseError(f"load job into {reference} from {path}: {_message(error)}") from error

    def copy_table(self, source: str, destination: str) -> None:
        """A copy job (free of charge): source's rows replace destination's in one atomic step.

        A copy cannot change the destination's partitioning, clustering or columns ("Cannot
        replace a table with a different partitioning spec"): a rebuild that needs a new table
        replaces it by one CREATE OR REPLACE TABLE ... AS SELECT instead (build._swap_in).
        """
        source_id, destination_id = self.qualify(source), self.qualify(destination)
        statement = f"COPY {source_id} TO {destination_id}"
        config = bigquery.CopyJobConfig(
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
            labels={"tool": "lookwright", "command": _label(self.command),
                    "table": _label(destination_id.rpartition(".")[2])},
        )
        self.sent.append(SentStatement(statement, (), "copy"))
        location = self._location_for(statement)
        job: bigquery.CopyJob | None = None
        try:
            job = self.client.copy_table(source_id, destination_id, job_config=config, location=location,
                                         retry=self._retry, timeout=self.timeout_s)
            job.result(retry=self._retry, timeout=self.timeout_s)
        except (concurrent.futures.TimeoutError, api_exceptions.RetryError) as error:
            raise self._given_up(statement, job, error) from error
        except _ERRORS as error:
            raise WarehouseError(f"{statement}: {_message(error)}") from error

    def update_layout(self, name: str, layout: Layout) -> None:
        """One tables.update (metadata only, no job): clustering, partition expiration, partition filter, description.

        New data is clustered by the new columns at once; BigQuery reclusters older data by itself.
        The partitioning itself is kept: changing it takes a new table.
        """
        reference = self.qualify(name)
        statement = (f"UPDATE TABLE {reference} SET clustering_fields = {list(layout.cluster_by)},"
                     f" partition_expiration_days = {layout.expiration_days},"
                     f" require_partition_filter = {layout.require_partition_filter},"
                     f" description = {layout.description!r}")
        self.sent.append(SentStatement(statement, (), "update"))
        try:
            table = self.client.get_table(reference, retry=self._retry, timeout=self.timeout_s)
            fields = ["clustering_fields", "description"]
            table.clustering_fields = list(layout.cluster_by) or None
            table.description = layout.description
            partitioning = table.time_partitioning
            if partitioning is not None:
                days = layout.expiration_days
                partitioning.expiration_ms = None if days is None else days * 86_400_000
                table.time_partitioning = partitioning
                table.require_partition_filter = layout.require_partition_filter
                fields += ["time_partitioning", "require_partition_filter"]
            self.client.update_table(table, fields, retry=self._retry, timeout=self.timeout_s)
        except _ERRORS as error:
            raise WarehouseError(f"{statement}: {_message(error)}") from error

    def _rows(self, sql: str, params: Params) -> tuple[list[str], list[tuple[Any, ...]]]:
        job = self._run(sql, params)
        try:
            result = job.result(retry=self._retry, timeout=self.timeout_s)
            rows = [tuple(row.values()) for row in result]
        except _ERRORS as error:
            raise self._fail(sql, error) from error
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
        except WarehouseError:
            # A COMMIT that failed committed nothing; one that never reached BigQuery left the
            # transaction open in the session, which later transactions reuse: end it.
            self._failed_in_transaction = True
            self.rollback()
            raise
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

    def row_count(self, name: str) -> int:
        """The table's numRows, from its metadata (one tables.get: no job, no bytes billed).

        BigQuery's numRows counts every committed row (DML and load jobs alike) but those still
        in the streaming buffer, which lookwright never writes to, and none of a partition that
        expired: what the table holds. A `SELECT COUNT(*)` would have to filter the partition
        column of a `require_partition_filter` table and so read that column in every partition
        (~40 GB per count of the request fact at 5 billion spans). A table whose metadata has no
        numRows (not a table) is an error, never a guess.
        """
        reference = self.qualify(name)
        table = self._table(name)
        if table is None:
            raise WarehouseError(f"counting the rows of {reference}: no such table")
        if table.num_rows is None:
            raise WarehouseError(f"counting the rows of {reference}: BigQuery reports no numRows for it"
                                 f" (a {table.table_type or 'table without a type'})")
        return int(table.num_rows)

    def columns(self, name: str) -> list[str]:
        """The top-level column names in order; none for a table that does not exist."""
        table = self._table(name)
        return [] if table is None else [field.name for field in table.schema]

    def close(self) -> None:
        if self._owns_client:
            self.client.close()  # type: ignore[no-untyped-call]


def open_bigquery(url: str, *, location: str | None = None, credentials_file: Path | None = None,
                  maximum_bytes_billed: int | None = None, command: str = "lookwright",
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> BigQueryWarehouse:
    """Open `bigquery:PROJECT.DATASET` (default credentials) or `...@http://HOST:PORT` (an emulator)."""
    project, dataset, endpoint = parse_url(url)
    return BigQueryWarehouse(project, dataset, endpoint=endpoint, location=location,
                             credentials_file=credentials_file, maximum_bytes_billed=maximum_bytes_billed,
                             command=command, timeout_s=timeout_s)

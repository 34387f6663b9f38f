"""A thin wrapper over looker_sdk: retries, re-asserted dev mode, scrubbed errors naming step and endpoint."""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.parse
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import looker_sdk
import requests
from looker_sdk import error as sdk_error
from looker_sdk.rtl import auth_token, transport
from looker_sdk.rtl.requests_transport import NullAuth, RequestsTransport
from looker_sdk.sdk.api40 import methods as methods40
from looker_sdk.sdk.api40 import models as models40

from lookwright.errors import LookerError

T = TypeVar("T")
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for transient failures, bounded in attempts and total time."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 8.0
    total_seconds: float = 90.0
    timeout: float | None = None  # per-request seconds; None keeps the SDK setting

    def delay(self, attempt: int) -> float:
        capped: float = min(self.max_delay, self.base_delay * 2**attempt)
        return capped * (0.5 + random.random() / 2)


@dataclass
class CallRecord:
    """What the transport saw for the most recent request (used to name the failing endpoint)."""

    endpoint: str = ""
    status: int | None = None
    tokens: set[str] = field(default_factory=set)


class RetryingTransport(RequestsTransport):
    """requests transport that retries transient failures and re-asserts the workspace on a new token."""

    def __init__(self, settings: transport.PTransportSettings, policy: RetryPolicy) -> None:
        super().__init__(settings, requests.Session())
        self.policy = policy
        self.record = CallRecord()
        self.workspace: str | None = None
        self.auth_token: str | None = None
        self.reset_token: Callable[[], None] = lambda: None
        self.relogins = 0

    def request(
        self,
        method: transport.HttpMethod,
        path: str,
        query_params: MutableMapping[str, str] | None = None,
        body: bytes | None = None,
        authenticator: transport.TAuthenticator = None,
        transport_options: transport.TransportOptions | None = None,
    ) -> transport.Response:
        options = transport_options or {}
        endpoint = f"{method.name} {urllib.parse.urlsplit(path).path}"
        retried_401 = False
        deadline = time.monotonic() + self.policy.total_seconds
        attempt = 0
        while True:
            headers = dict(options.get("headers") or {})
            if authenticator is not None:
                headers.update(self._authorize(authenticator, options))
            self.record.endpoint = endpoint
            status, response = self._send(method.name, path, query_params, body, headers, options)
            self.record.status = status
            if status == 401 and authenticator is not None and not retried_401:
                retried_401 = True
                self.reset_token()
                continue
            transient = status is None or status in TRANSIENT_STATUSES
            wait = self.policy.delay(attempt)
            if not transient or attempt + 1 >= self.policy.attempts or time.monotonic() + wait > deadline:
                return response
            LOGGER.info("transient failure on %s (%s); retrying in %.2fs", endpoint, status or "no response", wait)
            time.sleep(wait)
            attempt += 1

    def _authorize(
        self, authenticator: Callable[[transport.TransportOptions], dict[str, str]], options: transport.TransportOptions
    ) -> dict[str, str]:
        headers = authenticator(options)
        token = headers.get("Authorization", "").split(" ", 1)[-1]
        self.record.tokens.add(token)
        if token != self.auth_token:
            if self.auth_token is not None:
                self.relogins += 1
            self.auth_token = token
            if self.workspace == "dev":
                self._reassert_workspace(headers)
        return headers

    def _reassert_workspace(self, headers: dict[str, str]) -> None:
        """A new token is a new API session, which always starts in production."""
        url = urllib.parse.urljoin(self.settings.base_url, "/api/4.0/session")
        payload = json.dumps({"workspace_id": self.workspace}).encode()
        all_headers = {**headers, "Content-Type": "application/json"}
        for attempt in range(self.policy.attempts):
            status, _ = self._send("PATCH", url, None, payload, all_headers, {})
            if status == 200:
                return
            time.sleep(self.policy.delay(attempt))
        raise LookerError(f"re-entering the {self.workspace} workspace after re-login failed: PATCH /api/4.0/session")

    def _send(
        self,
        method: str,
        path: str,
        query_params: MutableMapping[str, str] | None,
        body: bytes | None,
        headers: dict[str, str],
        options: transport.TransportOptions,
    ) -> tuple[int | None, transport.Response]:
        timeout = options.get("timeout") or self.policy.timeout or self.settings.timeout
        try:
            resp = self.session.request(
                method, path, auth=NullAuth(), params=query_params, data=body, headers=headers, timeout=timeout
            )
        except OSError as exc:
            message = f"{type(exc).__name__}: no response from Looker ({exc.__class__.__doc__ or 'network error'})"
            return None, transport.Response(False, message.encode(), transport.ResponseMode.STRING)
        result = transport.Response(resp.ok, resp.content, transport.response_mode(resp.headers.get("content-type")))
        encoding = requests.utils.get_encoding_from_headers(resp.headers)
        if encoding:
            result.encoding = encoding
        return resp.status_code, result


class LookerClient:
    """A logged-in looker_sdk client whose every call goes through `call(step, ...)`."""

    def __init__(self, sdk: methods40.Looker40SDK, transport_: RetryingTransport, secrets: list[str]) -> None:
        self.sdk = sdk
        self.transport = transport_
        self._secrets = [s for s in secrets if s]

    @classmethod
    def from_ini(
        cls, ini: Path | None, section: str | None = None, policy: RetryPolicy | None = None
    ) -> LookerClient:
        """Configure from a looker.ini (env vars LOOKERSDK_* override it, as in looker_sdk)."""
        if ini is not None and not ini.exists():
            raise LookerError(f"Looker ini file {ini} does not exist")
        try:
            sdk = looker_sdk.init40(str(ini) if ini else "looker.ini", section)
        except sdk_error.SDKError as exc:
            raise LookerError(f"configuring the Looker SDK failed: {exc.message}") from None
        settings = sdk.auth.settings
        retrying = RetryingTransport(settings, policy or RetryPolicy())
        sdk.transport = retrying
        sdk.auth.transport = retrying

        def reset() -> None:
            sdk.auth.token = auth_token.AuthToken()

        retrying.reset_token = reset
        config = settings.read_config()
        return cls(sdk, retrying, [str(config.get("client_secret") or "")])

    @property
    def base_url(self) -> str:
        return str(self.transport.settings.base_url)

    def check_project(self, project: str) -> None:
        """Log in and read the project: a wrong URL, credentials or project id fails here, before any change."""
        self.call(f"log in to Looker at {self.base_url}", self.sdk.session)
        self.call(f"read project {project} at {self.base_url}", lambda: self.sdk.project(project, fields="id"))

    def scrub(self, text: str) -> str:
        """Replace every secret and token this client has seen with ***."""
        for secret in sorted({*self._secrets, *self.transport.record.tokens}, key=len, reverse=True):
            if len(secret) >= 6:
                text = text.replace(secret, "***")
        return text

    def call(self, step: str, fn: Callable[[], T]) -> T:
        """Run one SDK call; any SDK failure becomes a LookerError naming step, endpoint and message."""
        try:
            return fn()
        except sdk_error.SDKError as exc:
            record = self.transport.record
            status = f"HTTP {record.status}" if record.status else f"no response from {self.base_url}"
            failure = LookerError(f"{step} failed: {record.endpoint} ({status}): {self.scrub(_looker_message(exc))}")
        # raised outside the handler: the SDK error (unscrubbed body) is not even the hidden __context__
        raise failure

    def add_secret(self, secret: str) -> None:
        """Scrub this value from every message from now on (e.g. a deploy secret)."""
        if secret:
            self._secrets.append(secret)

    def deploy_webhook(self, step: str, project: str, branch: str, secret: str | None) -> None:
        """POST Looker's deploy webhook for a branch; the secret travels only in its header."""
        quoted = "/".join(urllib.parse.quote(part, safe="") for part in (project, "deploy", "branch", branch))
        path = f"/webhooks/projects/{quoted}"
        url = urllib.parse.urljoin(self.transport.settings.base_url, path)
        headers = {"X-Looker-Deploy-Secret": secret} if secret else {}
        if secret:
            self.add_secret(secret)
        policy = self.transport.policy
        deadline = time.monotonic() + policy.total_seconds
        status: int | None = None
        response = transport.Response(False, b"", transport.ResponseMode.STRING)
        for attempt in range(max(1, policy.attempts)):
            self.transport.record.endpoint = f"POST {path}"
            status, response = self.transport._send("POST", url, None, b"", headers, {})
            self.transport.record.status = status
            if status is not None and 200 <= status < 300:
                return
            wait = policy.delay(attempt)
            transient = status is None or status in TRANSIENT_STATUSES
            if not transient or attempt + 1 >= policy.attempts or time.monotonic() + wait > deadline:
                break
            LOGGER.info("transient failure on POST %s (%s); retrying in %.2fs", path, status or "no response", wait)
            time.sleep(wait)
        body = response.value.decode(errors="replace")
        described = f"HTTP {status}" if status else "no response"
        raise LookerError(f"{step} failed: POST {path} ({described}): {self.scrub(_text_message(body))}")

    def workspace(self) -> str:
        session = self.call("read the API session", self.sdk.session)
        return str(session.workspace_id)

    def set_workspace(self, workspace: str) -> None:
        """Enter a workspace and keep re-entering it after every re-login."""
        body = models40.WriteApiSession(workspace_id=workspace)
        self.call(f"switch to the {workspace} workspace", lambda: self.sdk.update_session(body))
        self.transport.workspace = workspace

    @contextmanager
    def in_workspace(self, workspace: str) -> Iterator[None]:
        """Run a block in a workspace and always go back to the one we were in."""
        original = self.workspace()
        self.set_workspace(workspace)
        try:
            yield
        finally:
            self.set_workspace(original)

    def logout(self) -> None:
        try:
            self.sdk.auth.logout()
        except sdk_error.SDKError:
            LOGGER.info("logout failed; the session will expire on its own")


def _looker_message(exc: sdk_error.SDKError) -> str:
    return _text_message(str(exc.message))


def _text_message(text: str) -> str:
    """Looker's `message` from a JSON error body, or the body itself."""
    message = text.strip()
    try:
        body = json.loads(message)
    except ValueError:
        return message
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return message

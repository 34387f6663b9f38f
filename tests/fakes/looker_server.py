"""A stateful fake Looker API 4.0 server backed by real git repositories and a DuckDB warehouse."""

from __future__ import annotations

import datetime
import decimal
import json
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb

from .lookml_index import FilterNotUnderstood, LookmlIndex, compile_query, load_index
from .oas import LookerSpec, SpecViolation, looker_spec

DOCS = "https://cloud.google.com/looker/docs/r/err/4.0"
GIT_ENV = {"GIT_AUTHOR_NAME": "Looker", "GIT_AUTHOR_EMAIL": "looker@example.com",
           "GIT_COMMITTER_NAME": "Looker", "GIT_COMMITTER_EMAIL": "looker@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "PATH": "/usr/bin:/bin:/usr/local/bin"}
PRODUCTION_BRANCH = "main"
WEBHOOK = re.compile(r"/webhooks/projects/([^/]+)/deploy/branch/([^/]+)")
DEV_BRANCH = "dev-api-user"


def git(cwd: Path, *args: str) -> str:
    """Run git and return stripped stdout; raise GitFailed with stderr on error."""
    done = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GitFailed(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


class GitFailed(Exception):
    """A git command inside the fake failed."""


class ApiError(Exception):
    """Answer the current request with an Error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Fault:
    path: str
    method: str | None
    remaining: int
    status: int | None = None
    delay: float = 0.0
    message: str | None = None  # the error body's message; "{authorization}" is the request's header


@dataclass(frozen=True)
class SqlTabAnswer:
    """A recorded SQL-tab answer: the comment lines Looker put above the SQL of one query."""

    model: str
    explore: str
    fields: tuple[str, ...]
    filters: tuple[tuple[str, str], ...]
    timezone: str | None
    comments: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...], str | None]:
        return self.model, self.explore, tuple(sorted(self.fields)), tuple(sorted(self.filters)), self.timezone


def sql_tab_key(body: dict[str, Any]) -> tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...], str | None]:
    filters = body.get("filters") or {}
    return (str(body["model"]), str(body["view"]), tuple(sorted(body.get("fields") or [])),
            tuple(sorted((str(k), str(v)) for k, v in filters.items())), body.get("query_timezone"))


def load_sql_tab(path: Path) -> list[SqlTabAnswer]:
    """Recorded answers: a JSON list of {model, view, fields, filters, query_timezone, comments}."""
    return [SqlTabAnswer(item["model"], item["view"], tuple(item["fields"]),
                         tuple(sorted((item.get("filters") or {}).items())), item.get("query_timezone"),
                         tuple(item["comments"]))
            for item in json.loads(path.read_text())]


@dataclass(frozen=True)
class Dashboard:
    id: str
    title: str
    model: str
    explore: str
    fields: tuple[str, ...]


@dataclass
class Session:
    workspace: str = "production"
    expires_at: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    token: str | None
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class FakeLooker:
    """The fake: create with a working directory, seed LookML, start(), point looker_sdk at base_url."""

    root: Path
    project: str = "lw_project"
    client_id: str = "fake-client-id"
    client_secret: str = "fake-client-secret-s3cr3t"
    token_ttl: int = 3600
    warehouse: Path | None = None
    dashboards: list[Dashboard] = field(default_factory=list)
    spec: LookerSpec = field(default_factory=looker_spec)
    violations: list[str] = field(default_factory=list)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    injected_lookml_errors: list[dict[str, Any]] = field(default_factory=list)
    deploy_failure: str | None = None
    production_commit: str = ""
    deploy_secret: str | None = None  # the project's webhook deploy secret (None: webhook needs none)
    now: datetime.datetime | None = None  # Looker's clock for relative date filters (None: the real time)
    # what Looker's SQL tab says about aggregate tables, per query (recorded; unrecorded queries get none)
    sql_tab: dict[tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...], str | None], SqlTabAnswer] = \
        field(default_factory=dict)
    injected_content_errors: list[dict[str, Any]] = field(default_factory=list)  # dev workspace only
    received: list[tuple[str, str]] = field(default_factory=list)  # every request, as it arrives

    def __post_init__(self) -> None:
        self.remote = self.root / "remote.git"
        self.prod_dir = self.root / "workspaces" / "production"
        self.dev_dir = self.root / "workspaces" / "dev"
        self.sessions: dict[str, Session] = {}
        self.lock = threading.RLock()
        self.remote.mkdir(parents=True)
        git(self.remote, "init", "--bare", "-q", "-b", PRODUCTION_BRANCH)
        self.server: ThreadingHTTPServer | None = None
        self.released = threading.Event()  # set at stop(): hanging requests give up

    # ---- setup -----------------------------------------------------------------------------
    def seed(self, files: dict[str, str], message: str = "initial LookML") -> str:
        """Commit files to the remote's production branch and make that commit production."""
        work = self.root / "seed"
        if not work.exists():
            git(self.root, "clone", "-q", str(self.remote), str(work))
            git(work, "checkout", "-q", "-B", PRODUCTION_BRANCH)
        for rel, text in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", message)
        git(work, "push", "-q", "origin", f"HEAD:{PRODUCTION_BRANCH}")
        self.production_commit = git(work, "rev-parse", "HEAD")
        for target in (self.prod_dir, self.dev_dir):
            if not target.exists():
                git(self.root, "clone", "-q", str(self.remote), str(target))
        git(self.prod_dir, "fetch", "-q", "origin")
        git(self.prod_dir, "checkout", "-q", "--detach", self.production_commit)
        if git(self.dev_dir, "rev-parse", "--abbrev-ref", "HEAD") != DEV_BRANCH:
            git(self.dev_dir, "checkout", "-q", "-b", DEV_BRANCH)
        return self.production_commit

    def configure_model(self, name: str, connection: str) -> None:
        self.models[name] = {"name": name, "project_name": self.project, "allowed_db_connection_names": [connection],
                             "unlimited_db_connections": False}

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        self.released.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # ---- fault injection ---------------------------------------------------------------------
    def fail_next(self, path: str, status: int, count: int = 1, method: str | None = None) -> None:
        """The next `count` calls whose path contains `path` answer `status` (429, 500, 503, ...)."""
        self.faults.append(Fault(path, method, count, status=status))

    def slow_next(self, path: str, seconds: float, count: int = 1, method: str | None = None) -> None:
        """The next `count` calls whose path contains `path` wait `seconds` before answering."""
        self.faults.append(Fault(path, method, count, delay=seconds))

    def fail_next_echoing(self, path: str, status: int, message: str, method: str | None = None) -> None:
        """The next matching call answers `status` with `message`, where {authorization} becomes the
        request's Authorization header (a careless server echoing the bearer token)."""
        self.faults.append(Fault(path, method, 1, status=status, message=message))

    def record_sql_tab(self, *answers: SqlTabAnswer) -> None:
        for answer in answers:
            self.sql_tab[answer.key] = answer

    def inject_content_error(self, title: str, message: str, model: str, explore: str) -> None:
        """A content-validation error Looker reports in the dev workspace only (a dashboard we do not know)."""
        self.injected_content_errors.append({
            "id": f"dashboard-injected-{len(self.injected_content_errors)}",
            "errors": [{"message": message, "field_name": None, "model_name": model, "explore_name": explore,
                        "removable": True}],
            "dashboard": {"id": "injected", "title": title, "url": "/dashboards/injected"}})

    def expire_tokens(self) -> None:
        """Invalidate every issued access token: the next call answers 401."""
        with self.lock:
            self.sessions.clear()

    def fail_deploy(self, message: str) -> None:
        self.deploy_failure = message

    def inject_lookml_error(self, message: str, file: str, line: int, severity: str = "error") -> None:
        self.injected_lookml_errors.append({"code": "injected", "severity": severity, "kind": "lookml",
                                            "message": message, "sanitized_message": message,
                                            "file_path": f"{self.project}/{file}", "line_number": line})

    # ---- state for assertions ----------------------------------------------------------------
    def remote_branches(self) -> dict[str, str]:
        out = git(self.remote, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
        return dict(line.split(" ") for line in out.splitlines())

    def dev_branch(self) -> str:
        return git(self.dev_dir, "rev-parse", "--abbrev-ref", "HEAD")

    def dev_local_branches(self) -> list[str]:
        return sorted(git(self.dev_dir, "for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines())

    def workspaces(self) -> list[str]:
        return [s.workspace for s in self.sessions.values()]

    # ---- request plumbing --------------------------------------------------------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.path in path and fault.method in (None, method):
                    fault.remaining -= 1
                    return fault
        return None

    def session_for(self, request: Request) -> Session:
        session = self.sessions.get(request.token or "")
        if session is None or session.expires_at < time.time():
            raise ApiError(401, "Requires authentication.")
        return session

    def handle(self, request: Request) -> tuple[int, Any]:
        for (method, pattern), handler in ROUTES.items():
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                request.match = match
                with self.lock:
                    if handler.__name__ not in ("login",):
                        self.session_for(request)
                    return handler(self, request)
        raise ApiError(404, "Not found")

    def workspace_dir(self, request: Request) -> Path:
        return self.dev_dir if self.sessions[request.token or ""].workspace == "dev" else self.prod_dir

    def require_dev(self, request: Request) -> None:
        if self.sessions[request.token or ""].workspace != "dev":
            raise ApiError(400, "Git branch operations require the dev workspace; the session is in production mode.")

    def project_id(self, request: Request) -> str:
        assert request.match is not None
        project = urllib.parse.unquote(request.match.group(1))
        if project != self.project:
            raise ApiError(404, f"Project {project} not found")
        return project

    def index(self, request: Request) -> LookmlIndex:
        return load_index(self.workspace_dir(request), self.project)

    def branch_info(self, name: str) -> dict[str, Any]:
        repo = self.dev_dir
        local = _ref(repo, f"refs/heads/{name}")
        remote = _ref(repo, f"refs/remotes/origin/{name}")
        info: dict[str, Any] = {"name": name, "is_local": local is not None, "is_remote": remote is not None,
                                "is_production": name == PRODUCTION_BRANCH, "personal": name == DEV_BRANCH,
                                "readonly": name == PRODUCTION_BRANCH, "ref": local or remote, "remote_ref": remote,
                                "remote": "origin" if remote else None, "remote_name": name if remote else None,
                                "ahead_count": 0, "behind_count": 0, "error": None, "message": None}
        if local and remote:
            counts = git(repo, "rev-list", "--left-right", "--count", f"{local}...{remote}").split()
            info["ahead_count"], info["behind_count"] = int(counts[0]), int(counts[1])
        return info


def _ref(repo: Path, ref: str) -> str | None:
    try:
        return git(repo, "rev-parse", "--verify", "-q", ref)
    except GitFailed:
        return None


def _error_body(status: int, message: str, path: str) -> dict[str, Any]:
    return {"message": message, "documentation_url": f"{DOCS}/{status}{path}"}


# ---- endpoint handlers -------------------------------------------------------------------------
Handler = Callable[[FakeLooker, Request], tuple[int, Any]]
ROUTES: dict[tuple[str, re.Pattern[str]], Handler] = {}


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        regex = "/api/4.0" + re.sub(r"\{[^}]+\}", "([^/]+)", path)
        ROUTES[(method, re.compile(regex))] = fn
        return fn
    return register


@route("POST", "/login")
def login(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    form = urllib.parse.parse_qs(request.body.decode())
    form.update(request.query)
    if form.get("client_id") != [fake.client_id] or form.get("client_secret") != [fake.client_secret]:
        raise ApiError(404, "Not found")
    token = secrets.token_hex(16)
    fake.sessions[token] = Session(expires_at=time.time() + fake.token_ttl)
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": fake.token_ttl, "refresh_token": None}


@route("DELETE", "/logout")
def logout(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.sessions.pop(request.token or "", None)
    return 204, None


@route("GET", "/versions")
def versions(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    version = {"version": "4.0", "full_version": "4.0.26.12", "status": "current",
               "swagger_url": f"{fake.base_url}/api/4.0/swagger.json"}
    return 200, {"looker_release_version": "26.12.3", "current_version": version, "supported_versions": [version],
                 "api_server_url": fake.base_url, "web_server_url": fake.base_url}


def _session_body(session: Session) -> dict[str, Any]:
    return {"workspace_id": session.workspace, "sudo_user_id": None, "can": {}}


@route("GET", "/session")
def get_session(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    return 200, _session_body(fake.session_for(request))


@route("PATCH", "/session")
def patch_session(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    workspace = request.json().get("workspace_id")
    if workspace not in ("dev", "production"):
        raise ApiError(422, f"Invalid workspace_id {workspace!r}")
    session = fake.session_for(request)
    session.workspace = workspace
    return 200, _session_body(session)


@route("GET", "/projects/{project_id}")
def get_project(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    return 200, {"id": fake.project_id(request), "name": fake.project, "uses_git": True,
                 "git_remote_url": str(fake.remote), "git_production_branch_name": PRODUCTION_BRANCH,
                 "pull_request_mode": "off", "validation_required": False, "allow_warnings": True,
                 "is_example": False, "can": {}}


@route("GET", "/projects/{project_id}/current_workspace")
def current_workspace(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    workspace = fake.sessions[request.token or ""].workspace
    repo = fake.workspace_dir(request)
    branch = fake.branch_info(fake.dev_branch()) if workspace == "dev" else {
        "name": PRODUCTION_BRANCH, "is_production": True, "readonly": True, "ref": fake.production_commit}
    return 200, {"project_id": fake.project, "workspace_id": workspace, "git_status": "ready",
                 "git_head": git(repo, "rev-parse", "HEAD"), "git_branch": branch, "lookml_type": "lookml",
                 "dependency_status": "lock_optional"}


@route("GET", "/projects/{project_id}/git_branches")
def git_branches(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    git(fake.dev_dir, "fetch", "-q", "--prune", "origin")
    names = set(fake.dev_local_branches()) | set(fake.remote_branches())
    return 200, [fake.branch_info(name) for name in sorted(names)]


@route("GET", "/projects/{project_id}/git_branch")
def git_branch(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    if fake.sessions[request.token or ""].workspace == "production":
        return 200, {"name": PRODUCTION_BRANCH, "is_production": True, "readonly": True,
                     "ref": fake.production_commit, "is_local": True, "is_remote": True}
    return 200, fake.branch_info(fake.dev_branch())


@route("GET", "/projects/{project_id}/git_branch/{branch_name}")
def find_git_branch(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    assert request.match is not None
    name = urllib.parse.unquote(request.match.group(2))
    git(fake.dev_dir, "fetch", "-q", "--prune", "origin")
    info = fake.branch_info(name)
    if not info["is_local"] and not info["is_remote"]:
        raise ApiError(404, f"Branch {name} not found")
    return 200, info


def _resolve(repo: Path, ref: str) -> str:
    sha = _ref(repo, f"{ref}^{{commit}}")
    if sha is None:
        raise ApiError(404, f"Ref {ref} not found")
    return sha


@route("POST", "/projects/{project_id}/git_branch")
def create_git_branch(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    fake.require_dev(request)
    body = request.json()
    name, ref = body["name"], body.get("ref")
    git(fake.dev_dir, "fetch", "-q", "--prune", "origin")
    if _ref(fake.dev_dir, f"refs/heads/{name}") or _ref(fake.dev_dir, f"refs/remotes/origin/{name}"):
        raise ApiError(409, f"Branch {name} already exists")
    start = _resolve(fake.dev_dir, ref) if ref else "HEAD"
    git(fake.dev_dir, "checkout", "-q", "-b", name, start)
    return 200, fake.branch_info(name)


@route("PUT", "/projects/{project_id}/git_branch")
def update_git_branch(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    fake.require_dev(request)
    body = request.json()
    name, ref = body["name"], body.get("ref")
    repo = fake.dev_dir
    git(repo, "fetch", "-q", "--prune", "origin")
    if _ref(repo, f"refs/heads/{name}"):
        git(repo, "checkout", "-q", name)
    elif _ref(repo, f"refs/remotes/origin/{name}"):
        git(repo, "checkout", "-q", "-b", name, "--track", f"origin/{name}")
    else:
        raise ApiError(404, f"Branch {name} not found")
    if ref:
        if name == PRODUCTION_BRANCH:
            raise ApiError(422, "The production branch is read-only")
        git(repo, "reset", "-q", "--hard", _resolve(repo, ref))
        git(repo, "push", "-q", "--force", "origin", f"{name}:{name}")
    return 200, fake.branch_info(name)


@route("DELETE", "/projects/{project_id}/git_branch/{branch_name}")
def delete_git_branch(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    fake.require_dev(request)
    assert request.match is not None
    name = urllib.parse.unquote(request.match.group(2))
    if name == fake.dev_branch() or name == PRODUCTION_BRANCH:
        raise ApiError(400, f"Cannot delete branch {name}: it is checked out or the production branch")
    found = False
    if _ref(fake.dev_dir, f"refs/heads/{name}"):
        git(fake.dev_dir, "branch", "-q", "-D", name)
        found = True
    if name in fake.remote_branches():
        git(fake.dev_dir, "push", "-q", "origin", "--delete", name)
        found = True
    if not found:
        raise ApiError(404, f"Branch {name} not found")
    return 204, None


@route("POST", "/projects/{project_id}/reset_to_remote")
def reset_to_remote(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    fake.require_dev(request)
    branch = fake.dev_branch()
    git(fake.dev_dir, "fetch", "-q", "--prune", "origin")
    if _ref(fake.dev_dir, f"refs/remotes/origin/{branch}") is None:
        raise ApiError(422, f"Branch {branch} has no remote")
    git(fake.dev_dir, "reset", "-q", "--hard", f"origin/{branch}")
    return 204, None


def _validation(fake: FakeLooker, request: Request) -> dict[str, Any]:
    """The fake's own reading of the checkout (syntax, views, references) plus recorded errors."""
    index = fake.index(request)
    errors = list(index.errors) + list(fake.injected_lookml_errors)
    for model, rel in sorted(index.model_files.items()):
        if model not in fake.models:
            message = f"Model '{model}' has not been configured."
            errors.append({"code": "model_configuration", "severity": "error", "kind": "model_configuration",
                           "message": message, "sanitized_message": message,
                           "file_path": f"{fake.project}/{rel}", "line_number": 1, "model_id": model})
    digest = git(fake.workspace_dir(request), "rev-parse", "HEAD")
    return {"errors": errors, "project_digest": digest, "models_not_validated": [], "computation_time": 0.01}


@route("POST", "/projects/{project_id}/validate")
def validate_project(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    return 200, _validation(fake, request)


@route("GET", "/projects/{project_id}/validate")
def project_validation_results(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    return 200, {**_validation(fake, request), "stale": False}


@route("POST", "/projects/{project_id}/deploy_ref_to_production")
def deploy_ref_to_production(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    fake.project_id(request)
    branch, ref = request.param("branch"), request.param("ref")
    if bool(branch) == bool(ref):
        raise ApiError(400, "Specify exactly one of branch or ref")
    if fake.deploy_failure:
        raise ApiError(400, fake.deploy_failure)
    git(fake.prod_dir, "fetch", "-q", "--prune", "origin")
    sha = _resolve(fake.prod_dir, f"origin/{branch}" if branch else str(ref))
    git(fake.prod_dir, "checkout", "-q", "--detach", sha)
    fake.production_commit = sha
    return 204, None


def _nav_explores(fake: FakeLooker, index: LookmlIndex, model: str) -> list[dict[str, Any]]:
    return [{"name": name, "label": name, "hidden": False} for (m, name) in sorted(index.explores) if m == model]


def _model_body(fake: FakeLooker, request: Request, name: str) -> dict[str, Any]:
    if name not in fake.models:
        raise ApiError(404, f"Model '{name}' has not been configured.")
    return {**fake.models[name], "explores": _nav_explores(fake, fake.index(request), name), "label": name,
            "has_content": False, "can": {}}


@route("GET", "/lookml_models")
def all_lookml_models(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    return 200, [_model_body(fake, request, name) for name in sorted(fake.models)]


@route("POST", "/lookml_models")
def create_lookml_model(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    body = request.json()
    if body.get("name") in fake.models:
        raise ApiError(409, f"Model {body['name']} already exists")
    if body.get("project_name") != fake.project:
        raise ApiError(422, f"Unknown project {body.get('project_name')}")
    fake.models[body["name"]] = {"name": body["name"], "project_name": fake.project,
                                 "allowed_db_connection_names": body.get("allowed_db_connection_names", []),
                                 "unlimited_db_connections": bool(body.get("unlimited_db_connections"))}
    return 200, _model_body(fake, request, body["name"])


@route("GET", "/lookml_models/{lookml_model_name}")
def lookml_model(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    assert request.match is not None
    return 200, _model_body(fake, request, urllib.parse.unquote(request.match.group(1)))


@route("DELETE", "/lookml_models/{lookml_model_name}")
def delete_lookml_model(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    assert request.match is not None
    name = urllib.parse.unquote(request.match.group(1))
    if fake.models.pop(name, None) is None:
        raise ApiError(404, f"Model '{name}' has not been configured.")
    return 204, None


@route("GET", "/lookml_models/{lookml_model_name}/explores/{explore_name}")
def lookml_model_explore(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    assert request.match is not None
    model, name = (urllib.parse.unquote(g) for g in request.match.groups())
    _model_body(fake, request, model)
    index = fake.index(request)
    explore = index.explores.get((model, name))
    if explore is None:
        raise ApiError(404, f"Explore {name} not found in model {model}")
    fields = index.explore_fields(explore)

    def describe(f: Any) -> dict[str, Any]:
        return {"name": f.full_name, "type": f.type, "view": f.view, "sql": f.sql, "measure": f.kind == "measure",
                "category": f.kind, "primary_key": f.primary_key, "dimension_group": f.group and f"{f.view}.{f.group}",
                "hidden": False, "label": f.full_name, "is_timeframe": f.timeframe is not None}

    return 200, {"id": f"{model}::{name}", "name": name, "model_name": model, "view_name": explore.view,
                 "project_name": fake.project, "connection_name": fake.models[model]["allowed_db_connection_names"][0]
                 if fake.models[model]["allowed_db_connection_names"] else None,
                 "sql_table_name": index.tables.get(explore.view),
                 "joins": [{"name": alias, "from": view, "sql_on": on} for alias, view, on in explore.joins],
                 "fields": {"dimensions": [describe(f) for f in fields.values() if f.kind == "dimension"],
                            "measures": [describe(f) for f in fields.values() if f.kind == "measure"],
                            "filters": [], "parameters": []}}


@route("GET", "/content_validation")
def content_validation(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    index = fake.index(request)
    broken = []
    for dash in fake.dashboards:
        explore = index.explores.get((dash.model, dash.explore))
        visible = index.explore_fields(explore) if explore else {}
        errors = [{"message": f"Could not find a field named '{name}'", "field_name": name,
                   "model_name": dash.model, "explore_name": dash.explore, "removable": True}
                  for name in dash.fields if name not in visible]
        if errors:
            broken.append({"id": f"dashboard-{dash.id}", "errors": errors,
                           "dashboard": {"id": dash.id, "title": dash.title, "url": f"/dashboards/{dash.id}"}})
    if fake.sessions[request.token or ""].workspace == "dev":
        broken.extend(fake.injected_content_errors)
    return 200, {"content_with_errors": broken, "computation_time": 0.01, "total_looks_validated": 0,
                 "total_dashboard_elements_validated": len(fake.dashboards), "total_dashboard_filters_validated": 0,
                 "total_scheduled_plans_validated": 0, "total_alerts_validated": 0, "total_explores_validated": 0}


def _jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


@route("POST", "/queries/run/{result_format}")
def run_inline_query(fake: FakeLooker, request: Request) -> tuple[int, Any]:
    assert request.match is not None
    fmt = request.match.group(1)
    body = request.json()
    model, explore, fields = body["model"], body["view"], body.get("fields") or []
    if model not in fake.models:
        raise ApiError(404, f"Model '{model}' has not been configured.")
    if not fields:
        raise ApiError(400, "Must query at least one dimension or measure")
    index = fake.index(request)
    try:
        sql = compile_query(index, model, explore, fields, body.get("filters") or {}, _limit(body.get("limit")),
                            fake.now, body.get("query_timezone") or "UTC")
    except KeyError as exc:
        raise ApiError(400, f"View Not Found or unknown field: {exc}") from exc
    except FilterNotUnderstood as exc:
        raise ApiError(400, f"Invalid filter: {exc}") from exc
    if fmt == "sql":
        return 200, RawText("\n".join([*_sql_tab_comments(fake, body), sql]), "text/plain")
    if fmt != "json":
        raise ApiError(400, f"result_format {fmt} is not supported by the fake")
    if fake.warehouse is None:
        raise ApiError(400, "No warehouse connection configured in the fake")
    with duckdb.connect(str(fake.warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        rows = [{n: _jsonable(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    return 200, RawText(json.dumps(rows), "application/json")


def _limit(value: str | None) -> int:
    limit = int(value or 500)
    return 1_000_000_000 if limit < 0 else limit


def _sql_tab_comments(fake: FakeLooker, body: dict[str, Any]) -> list[str]:
    """Aggregate-awareness comments as recorded for this query (none when nothing was recorded)."""
    answer = fake.sql_tab.get(sql_tab_key(body))
    return list(answer.comments) if answer else []


@dataclass(frozen=True)
class RawText:
    text: str
    content_type: str


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLooker
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _dispatch(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = "/api/4.0/logout" if url.path == "/api/logout" else url.path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/webhooks/"):
            self._webhook(path)
            return
        auth = self.headers.get("Authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else None
        request = Request(self.command, path, urllib.parse.parse_qs(url.query), body, token)
        fake = self.fake
        fake.received.append((self.command, path))
        injected = False
        try:
            op = fake.spec.find(self.command, path)
            fake.spec.validate_request(op, request.query, body, self.headers.get("Content-Type") or "")
            fault = fake.take_fault(self.command, path)
            if fault is not None:
                fake.released.wait(fault.delay)
                if fault.status is not None:
                    injected = True
                    message = (fault.message or f"Injected {fault.status}").replace("{authorization}", auth)
                    raise ApiError(fault.status, message)
            status, payload = fake.handle(request)
        except ApiError as exc:
            status, payload = exc.status, _error_body(exc.status, exc.message, url.path)
        except (SpecViolation, Exception) as exc:  # noqa: BLE001 - a crash in the fake must fail the test too
            fake.violations.append(f"{type(exc).__name__}: {exc}")
            self._send(500, json.dumps(_error_body(500, f"SPEC VIOLATION: {exc}", url.path)).encode(), "application/json")
            return
        data, ctype = self._encode(payload)
        try:
            fake.spec.validate_response(op, status, data, injected=injected)
        except SpecViolation as exc:
            fake.violations.append(str(exc))
            status, data = 500, json.dumps(_error_body(500, f"SPEC VIOLATION: {exc}", url.path)).encode()
        fake.log.append((self.command, path, status))
        self._send(status, data, ctype)

    def _webhook(self, path: str) -> None:
        """Looker's deploy webhook: a web endpoint, not part of the API (so not in the spec)."""
        fake = self.fake
        match = WEBHOOK.fullmatch(path)
        status, text = 200, "Deploy successful"
        fake.received.append((self.command, path))
        fault = fake.take_fault(self.command, path)
        if fault is not None:
            fake.released.wait(fault.delay)
        given = self.headers.get("X-Looker-Deploy-Secret")
        if fault is not None and fault.status is not None:
            status, text = fault.status, fault.message or f"Injected {fault.status}"
        elif match is None or self.command != "POST":
            status, text = 404, "Not found"
        elif urllib.parse.unquote(match.group(1)) != fake.project:
            status, text = 404, "Project not found"
        elif fake.deploy_secret is not None and given != fake.deploy_secret:
            status, text = 403, f"Deploy secret {given!r} does not match"  # echoes it, as a careless server might
        elif fake.deploy_failure:
            status, text = 400, fake.deploy_failure
        else:
            with fake.lock:
                try:
                    git(fake.prod_dir, "fetch", "-q", "--prune", "origin")
                    branch = urllib.parse.unquote(match.group(2))
                    fake.production_commit = _resolve(fake.prod_dir, f"origin/{branch}")
                    git(fake.prod_dir, "checkout", "-q", "--detach", fake.production_commit)
                except (GitFailed, ApiError) as exc:
                    status, text = 404, str(exc)
        fake.log.append((self.command, path, status))
        self._send(status, text.encode(), "text/plain")

    @staticmethod
    def _encode(payload: Any) -> tuple[bytes, str]:
        if payload is None:
            return b"", "application/json"
        if isinstance(payload, RawText):
            return payload.text.encode(), payload.content_type
        return json.dumps(payload).encode(), "application/json"

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch



"""Deploy generated LookML: local gate, git push, Looker dev-mode validation, then production."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lkml
import yaml
from looker_sdk.sdk.api40 import models as models40

from lookwright.errors import CheckFailed, InputError, LookerError
from lookwright.looker.client import LookerClient
from lookwright.model.ir import Origin, QueryIR
from lookwright.output.writer import MANIFEST, manifest_paths

if TYPE_CHECKING:
    from lookwright.model.ir import SemanticModel

TMP_PREFIX = "tmp_lookwright_"
SEVERITY_RANK = {"success": 0, "info": 10, "warning": 20, "error": 30, "fatal": 40}
USE_EXISTING = re.compile(r"^-- use existing (\S+?)::(\S+)")
DID_NOT_USE = re.compile(r"^-- Did not use (\S+?)::([^;\s]+);")


@dataclass(frozen=True)
class DeployOptions:
    project: str
    branch: str
    lookml_dir: Path
    repo: str
    production: bool = False
    dry_run: bool = False
    severity: str = "warning"
    queries: tuple[QueryIR, ...] = ()  # overrides the semantic model's declared queries
    model_dir: Path | None = None  # the semantic model: its declared queries gate the deploy
    deploy_webhook: bool = False  # deploy through Looker's deploy webhook instead of the API
    deploy_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DeployResult:
    """What a deploy did (or, with --dry-run, would do)."""

    steps: tuple[str, ...]
    changed_files: tuple[str, ...]
    diff: str
    commit: str | None
    deployed: bool


class DeployFailed(CheckFailed):
    """Looker or the local gate found problems; nothing reached production."""

    def __init__(self, step: str, problems: list[str]) -> None:
        self.step = step
        self.problems = problems
        super().__init__(f"{step}: {len(problems)} problem{'s' if len(problems) != 1 else ''}\n" + "\n".join(problems))


def load_queries(path: Path) -> tuple[QueryIR, ...]:
    """Read a JSON or YAML list of {name, model, explore, fields, filters, timezone, warehouse_sql}."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read queries file {path}: {exc}") from None
    if not isinstance(raw, list):
        raise InputError(f"{path}: expected a list of queries")
    return tuple(_query(path, n, item) for n, item in enumerate(raw, 1))


def _query(path: Path, number: int, item: Any) -> QueryIR:
    if not isinstance(item, dict) or not {"model", "explore", "fields"} <= item.keys():
        raise InputError(f"{path}: query {number} needs model, explore and fields")
    return QueryIR(
        name=str(item.get("name", f"query {number}")),
        model=str(item["model"]),
        explore=str(item["explore"]),
        fields=tuple(str(f) for f in item["fields"]),
        filters={str(k): str(v) for k, v in (item.get("filters") or {}).items()},
        timezone=item.get("timezone"),
        warehouse_sql=item.get("warehouse_sql"),
        origin=Origin(str(path), 0),  # the file; yaml.safe_load keeps no lines
    )


def looker_query(query: QueryIR, limit: str | None = None) -> models40.WriteQuery:
    """The query as Looker's API runs it (on its model: `declared_queries` refuses queries without one)."""
    if query.model is None:
        raise InputError(f"{query.origin}: query {query.name}: no model of the semantic model includes explore {query.explore}")
    return models40.WriteQuery(model=query.model, view=query.explore, fields=list(query.fields),
                               filters=dict(query.filters), query_timezone=query.timezone, limit=limit)


def declared_queries(model: SemanticModel) -> tuple[QueryIR, ...]:
    """The semantic model's declared queries, each on the Looker model whose explores include its explore."""
    for name, query in model.queries.items():
        if query.model is None:
            raise InputError(f"{query.origin}: query {name}: no model of the semantic model includes explore {query.explore}")
    return tuple(model.queries.values())


# ---- step 1: local gate ------------------------------------------------------------------------


def local_gate(lookml_dir: Path, model_dir: Path | None = None) -> tuple[QueryIR, ...]:
    """`lookwright validate`: LookML, then the declared queries' aggregate tables; return those queries.

    Any error stops the deploy before anything leaves the machine.
    """
    from lookwright.lookml.validator import validate_lookml

    if not lookml_dir.is_dir():
        raise InputError(f"LookML directory {lookml_dir} does not exist")
    errors = [f.format() for f in validate_lookml(lookml_dir) if f.severity == "error"]
    if errors:
        raise DeployFailed("local LookML validation", errors)
    if model_dir is None:
        return ()
    return _aggregate_gate(lookml_dir, model_dir)


def _aggregate_gate(lookml_dir: Path, model_dir: Path) -> tuple[QueryIR, ...]:
    from lookwright.checks.aggregates import check_queries, miss_reason
    from lookwright.lookml.project import load_project
    from lookwright.model.compile import load_model

    if not model_dir.is_dir():
        raise InputError(f"model directory {model_dir} does not exist")
    model = load_model(model_dir)
    report = check_queries(model, load_project(lookml_dir))
    misses = [f"{r.origin}: query {r.name} must hit {r.must_hit} but did not: {miss_reason(r)}"
              for r in report.failures]
    if misses:
        raise DeployFailed("local aggregate validation", misses)
    return declared_queries(model)


def generated_files(lookml_dir: Path) -> list[str]:
    """Files lookwright generated (the manifest's list, or every *.lkml file without one), plus the
    hand-written files a model includes (the YAML model's `include:`): what the deploy pushes."""
    if (lookml_dir / MANIFEST).exists():
        from lookwright.lookml.project import load_project

        included = {path for model in load_project(lookml_dir).models.values() for path in model.files
                    if not path.startswith("//")}
        return sorted(set(manifest_paths(lookml_dir)) | included)
    return sorted(p.relative_to(lookml_dir).as_posix() for p in lookml_dir.rglob("*.lkml"))


# ---- step 2: git -------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LookerError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def prepare_commit(options: DeployOptions, clone: Path) -> tuple[list[str], str]:
    """Clone the repo, check out the branch, copy generated files in; return changed files and diff."""
    _git(clone.parent, "clone", "-q", options.repo, str(clone))
    if _git(clone, "ls-remote", "--heads", "origin", options.branch):
        _git(clone, "checkout", "-q", "-B", options.branch, f"origin/{options.branch}")
    else:
        _git(clone, "checkout", "-q", "-b", options.branch)
    previous = generated_files(clone) if (clone / MANIFEST).exists() else []
    current = generated_files(options.lookml_dir)
    for stale in sorted(set(previous) - set(current)):
        (clone / stale).unlink(missing_ok=True)
    for name in current + ([MANIFEST] if (options.lookml_dir / MANIFEST).exists() else []):
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(options.lookml_dir / name, clone / name)
    paths = sorted(set(previous) | set(current) | {MANIFEST})
    existing = [p for p in paths if (clone / p).exists() or p in previous]
    _git(clone, "add", "-A", "--", *existing)
    changed = _git(clone, "diff", "--cached", "--name-only").splitlines()
    return changed, _git(clone, "diff", "--cached")


def commit_and_push(options: DeployOptions, clone: Path, changed: list[str]) -> str:
    if changed:
        message = f"lookwright: regenerate LookML from {options.lookml_dir.name}/ ({len(changed)} files changed)"
        _git(clone, "-c", "user.name=lookwright", "-c", "user.email=lookwright@localhost",
             "commit", "-q", "-m", message)
    _git(clone, "push", "-q", "origin", f"{options.branch}:{options.branch}")
    return _git(clone, "rev-parse", "HEAD")


# ---- step 3: Looker --------------------------------------------------------------------------


def temporary_branch_name(commit: str) -> str:
    return f"{TMP_PREFIX}{commit[:12]}"


@contextmanager
def temporary_branch(client: LookerClient, project: str, commit: str) -> Iterator[str]:
    """In the dev workspace, check out a throw-away branch at `commit` (the pushed head of B).

    Validation runs there, so Looker never resets or force-pushes B itself. The original branch
    and workspace are restored and the temporary branch deleted, also when a step failed.
    """
    original_workspace = client.workspace()
    client.set_workspace("dev")
    name = temporary_branch_name(commit)
    original: str | None = None
    failed = True
    try:
        original = client.call("record the original branch", lambda: client.sdk.git_branch(project)).name
        _delete_branch(client, project, name)  # a leftover of an interrupted run
        client.call("create the temporary branch",
                    lambda: client.sdk.create_git_branch(project, models40.WriteGitBranch(name=name, ref=commit)))
        yield name
        failed = False
    finally:
        _restore(client, project, original, name, original_workspace, quiet=failed)


def _branch_names(client: LookerClient, project: str) -> set[str]:
    branches = client.call("list branches", lambda: client.sdk.all_git_branches(project))
    return {str(b.name) for b in branches}


def _delete_branch(client: LookerClient, project: str, name: str) -> None:
    if name in _branch_names(client, project):
        client.call(f"delete the temporary branch {name}", lambda: client.sdk.delete_git_branch(project, name))


def _restore(client: LookerClient, project: str, original: str | None, temporary: str, workspace: str,
             *, quiet: bool) -> None:
    """Every cleanup step runs; the first cleanup failure is raised unless an earlier error is on its way."""
    steps: list[Callable[[], None]] = []
    if original is not None and original != temporary:
        def checkout() -> None:
            current = client.call("read the current branch", lambda: client.sdk.git_branch(project)).name
            if current != original:
                client.call("restore the original branch",
                            lambda: client.sdk.update_git_branch(project, models40.WriteGitBranch(name=original)))
        steps.append(checkout)
        steps.append(lambda: _delete_branch(client, project, temporary))
    steps.append(lambda: client.set_workspace(workspace))
    failures: list[LookerError] = []
    for step in steps:
        try:
            step()
        except LookerError as exc:
            failures.append(exc)
    if failures and not quiet:
        raise failures[0]


def model_connections(lookml_dir: Path, files: list[str]) -> dict[str, str]:
    """model name -> connection for every generated model file."""
    out = {}
    for name in files:
        if name.endswith(".model.lkml"):
            parsed = lkml.load((lookml_dir / name).read_text())
            out[Path(name).name.removesuffix(".model.lkml")] = str(parsed.get("connection", ""))
    return out


def configure_models(client: LookerClient, project: str, connections: dict[str, str]) -> list[str]:
    """create_lookml_model for model files Looker does not know yet; return the names created."""
    known = {m.name for m in client.call("list LookML models", lambda: client.sdk.all_lookml_models(fields="name"))}
    created = []
    for name, connection in sorted(connections.items()):
        if name in known:
            continue
        body = models40.WriteLookmlModel(name=name, project_name=project, allowed_db_connection_names=[connection])
        client.call(f"configure model {name}", lambda body=body: client.sdk.create_lookml_model(body))  # type: ignore[misc]
        created.append(name)
    return created


def check_lookml(client: LookerClient, project: str, severity: str) -> None:
    validation = client.call("validate the LookML project", lambda: client.sdk.validate_project(project))
    threshold = SEVERITY_RANK[severity]
    problems = [
        f"{e.file_path}:{e.line_number}: {e.severity}: {e.message}"
        for e in validation.errors or []
        if SEVERITY_RANK.get(str(e.severity), 40) >= threshold
    ]
    if problems:
        raise DeployFailed("Looker LookML validation", problems)


def _content_errors(client: LookerClient, project: str) -> set[str]:
    result = client.call("validate content",
                         lambda: client.sdk.content_validation(project_names=models40.DelimSequence([project])))
    errors = set()
    for item in result.content_with_errors or []:
        title = item.dashboard.title if item.dashboard else item.look.title if item.look else item.id
        for err in item.errors or []:
            errors.add(f"{title}: {err.message} ({err.model_name}/{err.explore_name})")
    return errors


def check_content(client: LookerClient, project: str) -> None:
    """Fail on content errors the branch introduces; errors production already has are not ours."""
    in_dev = _content_errors(client, project)
    if not in_dev:
        return
    with client.in_workspace("production"):
        in_production = _content_errors(client, project)
    new = sorted(in_dev - in_production)
    if new:
        raise DeployFailed("content validation (new errors)", new)


def aggregate_choices(lines: list[str]) -> tuple[str | None, frozenset[str]]:
    """(used table, tables explicitly not used) from the comment lines of Looker's generated SQL."""
    used = next((m.group(2) for line in lines if (m := USE_EXISTING.match(line))), None)
    skipped = frozenset(m.group(2) for line in lines if (m := DID_NOT_USE.match(line)))
    return used, skipped


def check_queries(client: LookerClient, lookml_dir: Path, queries: tuple[QueryIR, ...]) -> None:
    """Looker's aggregate-table choice for each query must equal the local matcher's."""
    from lookwright.lookml.aggregates import explain_query
    from lookwright.lookml.project import load_project

    project = load_project(lookml_dir)
    problems = []
    for query in queries:
        body = looker_query(query)
        sql = client.call(f"generate SQL for {query.name}", lambda body=body: client.sdk.run_inline_query("sql", body))  # type: ignore[misc]
        looker = aggregate_choices(str(sql).splitlines())
        local = explain_query(project, query.explore, list(query.fields), dict(query.filters), query.timezone)
        expected = (local.used, frozenset(skipped.table for skipped in local.skipped))
        if looker != expected:
            problems.append(f"{query.name}: Looker used {looker[0] or 'no aggregate table'}, "
                            f"lookwright expected {expected[0] or 'no aggregate table'}")
    if problems:
        raise DeployFailed("aggregate awareness", problems)


# ---- the whole flow ----------------------------------------------------------------------------


def plan(options: DeployOptions, queries: tuple[QueryIR, ...] = ()) -> tuple[str, ...]:
    gate = f"validate LookML in {options.lookml_dir} locally"
    if options.model_dir is not None:
        gate += f", and the aggregate tables of the declared queries of {options.model_dir}"
    steps = [
        gate,
        f"commit generated files to {options.repo} branch {options.branch} and push",
        (f"log in to Looker, enter the dev workspace, check out a temporary branch ({TMP_PREFIX}<sha>) "
         f"at the pushed head of {options.branch}"),
        "configure new models (create_lookml_model)",
        f"validate the LookML project {options.project} (fail at {options.severity} or worse)",
        "validate content; fail on errors production does not already have",
    ]
    if queries:
        steps.append(f"compare aggregate-table choices for {len(queries)} queries")
    if options.production:
        how = "the deploy webhook" if options.deploy_webhook else "deploy_ref_to_production"
        steps.append(f"deploy branch {options.branch} to production ({how})")
    steps.append("restore the original branch and workspace, delete the temporary branch")
    return tuple(steps)


def deploy(options: DeployOptions, connect: Callable[[], LookerClient],
           progress: Callable[[str], None] = lambda _: None) -> DeployResult:
    """Run the deploy; on any failure production is untouched and Looker state is restored."""
    if options.severity not in SEVERITY_RANK:
        raise InputError(f"unknown severity {options.severity}; use one of {', '.join(SEVERITY_RANK)}")
    if options.production and options.deploy_webhook and not options.deploy_secret and not options.dry_run:
        raise InputError("the deploy webhook needs the project's deploy secret (LOOKER_DEPLOY_SECRET)")
    progress("local validation (LookML and aggregate tables)")
    declared = local_gate(options.lookml_dir, options.model_dir)
    queries = options.queries or declared
    if options.dry_run:
        with tempfile.TemporaryDirectory(prefix="lookwright-deploy-") as tmp:
            changed, diff = prepare_commit(options, Path(tmp) / "repo")
        return DeployResult(plan(options, queries), tuple(changed), diff, None, False)
    # configuration, login and the project are checked before anything is pushed
    client = connect()
    if options.deploy_secret:
        client.add_secret(options.deploy_secret)
    try:
        progress(f"logging in to Looker at {client.base_url}")
        client.check_project(options.project)
        with tempfile.TemporaryDirectory(prefix="lookwright-deploy-") as tmp:
            clone = Path(tmp) / "repo"
            changed, diff = prepare_commit(options, clone)
            progress(f"pushing {len(changed)} changed files to {options.branch}")
            commit = commit_and_push(options, clone, changed)
        deployed = _looker_steps(client, options, commit, queries, progress)
    finally:
        client.logout()
    return DeployResult(plan(options, queries), tuple(changed), diff, commit, deployed)


def _looker_steps(client: LookerClient, options: DeployOptions, commit: str, queries: tuple[QueryIR, ...],
                  progress: Callable[[str], None]) -> bool:
    connections = model_connections(options.lookml_dir, generated_files(options.lookml_dir))
    created: list[str] = []
    succeeded = False
    try:
        with temporary_branch(client, options.project, commit):
            progress("configuring models")
            created = configure_models(client, options.project, connections)
            progress("validating LookML in Looker")
            check_lookml(client, options.project, options.severity)
            progress("validating content")
            check_content(client, options.project)
            if queries:
                progress("checking aggregate awareness")
                check_queries(client, options.lookml_dir, queries)
        if options.production:
            progress("deploying to production")
            ensure_branch_unmoved(options, commit)
            deploy_to_production(client, options)
        succeeded = True
    finally:
        if not succeeded:
            _unconfigure(client, created)
    return options.production


def ensure_branch_unmoved(options: DeployOptions, validated: str) -> None:
    """Refuse to deploy branch B if it moved since its commit was validated (someone else pushed)."""
    line = _git(Path.cwd(), "ls-remote", options.repo, f"refs/heads/{options.branch}")
    head = line.split()[0] if line else "(deleted)"
    if head != validated:
        problem = (f"branch {options.branch} moved since it was validated (validated {validated[:12]},"
                   f" now {head[:12]}); nothing was deployed: run the deploy again")
        raise DeployFailed("deploy to production", [problem])


def deploy_to_production(client: LookerClient, options: DeployOptions) -> None:
    """Deploy branch B: through the deploy webhook (with the deploy secret) or deploy_ref_to_production."""
    if options.deploy_webhook:
        client.deploy_webhook("deploy to production", options.project, options.branch, options.deploy_secret)
        return
    client.call("deploy to production",
                lambda: client.sdk.deploy_ref_to_production(options.project, branch=options.branch))


def _unconfigure(client: LookerClient, created: list[str]) -> None:
    """Remove model configurations this run created, so a failed deploy leaves no trace."""
    for name in created:
        client.call(f"remove the configuration of model {name}", lambda name=name: client.sdk.delete_lookml_model(name))  # type: ignore[misc]

"""deploy against the fake Looker: every failure leaves production, branches and workspace as they were."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest_looker import CLIENT_SECRET, FIXTURES, Generated, read_tree
from fakes.looker_server import DEV_BRANCH, FakeLooker, SqlTabAnswer

from lookwright.cli import main
from lookwright.errors import LookerError
from lookwright.looker.client import LookerClient, RetryPolicy
from lookwright.looker.deploy import (
    TMP_PREFIX,
    DeployFailed,
    DeployOptions,
    aggregate_choices,
    declared_queries,
    deploy,
    load_queries,
)
from lookwright.looker.verify import verify
from lookwright.model.ir import QueryIR

pytest_plugins = ["conftest_looker"]

DEPLOY_SECRET = "whsec-0123456789-deploy"
SCRATCH_MONTHLY = "-- use existing orders::monthly in looker_scratch.LR$LW17_orders$monthly"
# Per-request timeout well above the fake's slowest honest answer on a loaded machine (its git fetch and
# checkout): a timed-out POST that did succeed is retried, and creating the temporary branch again is a 409.
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, total_seconds=30, timeout=5.0)
IMPATIENT = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, total_seconds=30, timeout=2.0)


@pytest.fixture
def lookml(tmp_path: Path) -> Path:
    target = tmp_path / "generated_lookml"
    shutil.copytree(FIXTURES / "generated_lookml", target)
    return target


@pytest.fixture
def connect(looker_ini: Path) -> Callable[[], LookerClient]:
    clients: list[LookerClient] = []

    def make() -> LookerClient:
        clients.append(LookerClient.from_ini(looker_ini, policy=FAST))
        return clients[-1]

    make.clients = clients  # type: ignore[attr-defined]
    return make


def options(fake: FakeLooker, lookml: Path, **overrides: object) -> DeployOptions:
    values: dict[str, object] = {"project": fake.project, "branch": "lookwright/regen", "lookml_dir": lookml,
                                 "repo": str(fake.remote), "production": True}
    values.update(overrides)
    return DeployOptions(**values)  # type: ignore[arg-type]


Snapshot = tuple[str, str, str, list[str], dict[str, str]]


def snapshot(fake: FakeLooker) -> Snapshot:
    """Production (commit, checkout), the remote's production branch, the dev branch, configured models."""
    return (fake.production_commit, fake.remote_branches()["main"], fake.dev_branch(), sorted(fake.models),
            read_tree(fake.prod_dir))


def assert_untouched(fake: FakeLooker, before: Snapshot) -> None:
    assert snapshot(fake) == before
    assert fake.dev_branch() == DEV_BRANCH
    assert set(fake.workspaces()) <= {"production"}  # logged out or back in production
    assert_no_temporary_branches(fake)


def assert_no_temporary_branches(fake: FakeLooker) -> None:
    assert fake.dev_local_branches() == [DEV_BRANCH, "main"]
    assert [b for b in fake.remote_branches() if b.startswith(TMP_PREFIX)] == []


def remote_file(fake: FakeLooker, ref: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{ref}:{path}"], cwd=fake.remote, capture_output=True, text=True,
                          check=True).stdout


def test_happy_path_deploys_to_production_and_verify_passes(fake_looker: FakeLooker, lookml: Path, connect,
                                                            warehouse: Path) -> None:
    result = deploy(options(fake_looker, lookml), connect)
    assert result.changed_files == (".lookwright-manifest.json", "views/orders.view.lkml")
    assert result.deployed is True
    assert fake_looker.production_commit == result.commit == fake_looker.remote_branches()["lookwright/regen"]
    assert "dimension: status" in (fake_looker.prod_dir / "views/orders.view.lkml").read_text()
    assert remote_file(fake_looker, "lookwright/regen", "README.md") == "# LookML project\nHand-written README.\n"
    assert remote_file(fake_looker, "lookwright/regen", "manual/notes.view.lkml") == \
        (FIXTURES / "production/manual/notes.view.lkml").read_text()
    assert fake_looker.dev_branch() == DEV_BRANCH
    assert sorted(fake_looker.remote_branches()) == ["lookwright/regen", "main"]
    message = subprocess.run(["git", "log", "-1", "--format=%s", "lookwright/regen"], cwd=fake_looker.remote,
                             capture_output=True, text=True, check=True).stdout.strip()
    assert message == "lookwright: regenerate LookML from generated_lookml/ (2 files changed)"
    client = connect()
    assert verify(client, lookml, queries=load_queries(FIXTURES / "queries.json"),
                  warehouse=f"duckdb:{warehouse}") == 2
    client.logout()


def test_new_model_file_is_configured_with_its_connection(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    (lookml / "extra.model.lkml").write_text('connection: "analytics"\ninclude: "/views/*.view.lkml"\n'
                                             "explore: customers {}\n")
    (lookml / ".lookwright-manifest.json").unlink()
    deploy(options(fake_looker, lookml), connect)
    assert fake_looker.models["extra"]["allowed_db_connection_names"] == ["analytics"]


def test_dry_run_prints_the_diff_and_changes_nothing(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    before, branches = snapshot(fake_looker), fake_looker.remote_branches()
    result = deploy(options(fake_looker, lookml, dry_run=True), connect)
    assert result.commit is None and result.deployed is False
    assert "+  dimension: status {" in result.diff
    assert result.changed_files == (".lookwright-manifest.json", "views/orders.view.lkml")
    assert fake_looker.remote_branches() == branches
    assert fake_looker.log == []  # not a single API call
    assert_untouched(fake_looker, before)


def test_local_validation_errors_stop_before_anything_leaves_the_machine(fake_looker: FakeLooker, lookml: Path,
                                                                        connect) -> None:
    orders = lookml / "views/orders.view.lkml"
    orders.write_text(orders.read_text().replace("${TABLE}.amount", "${unknown_field}"))
    branches = fake_looker.remote_branches()
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert failure.value.step == "local LookML validation"
    assert "views/orders.view.lkml" in str(failure.value)
    assert fake_looker.remote_branches() == branches
    assert fake_looker.log == []


def test_looker_validation_errors_refuse_the_deploy(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    before = snapshot(fake_looker)
    fake_looker.inject_lookml_error("Connection warehouse could not be registered.", "shop.model.lkml", 1)
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert (failure.value.step, failure.value.problems) == ("Looker LookML validation", [
        "lw_project/shop.model.lkml:1: error: Connection warehouse could not be registered."])
    assert_untouched(fake_looker, before)


def test_warnings_pass_when_the_threshold_is_error(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    fake_looker.inject_lookml_error("Something deprecated.", "shop.model.lkml", 1, severity="warning")
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml, production=False), connect)
    assert (failure.value.step, failure.value.problems) == (
        "Looker LookML validation", ["lw_project/shop.model.lkml:1: warning: Something deprecated."])
    result = deploy(options(fake_looker, lookml, severity="error"), connect)
    assert fake_looker.production_commit == result.commit


def test_new_content_errors_fail_but_preexisting_ones_do_not(fake_looker: FakeLooker, lookml: Path,
                                                            connect) -> None:
    # dashboard 2 ("Legacy", orders.discount) is already broken in production: not our fault
    result = deploy(options(fake_looker, lookml), connect)
    assert fake_looker.production_commit == result.commit
    before = snapshot(fake_looker)
    orders = lookml / "views/orders.view.lkml"
    orders.write_text(orders.read_text().replace("dimension: status", "dimension: order_status"))
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert (failure.value.step, failure.value.problems) == ("content validation (new errors)", [
        "Orders by status: Could not find a field named 'orders.status' (shop/orders)"])
    assert_untouched(fake_looker, before)


def test_a_failing_deploy_leaves_production_and_workspace_as_before(fake_looker: FakeLooker, lookml: Path,
                                                                   connect) -> None:
    before = snapshot(fake_looker)
    fake_looker.fail_deploy("Deploy webhook rejected: merge conflict")
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert str(failure.value) == (
        "deploy to production failed: POST /api/4.0/projects/lw_project/deploy_ref_to_production (HTTP 400): "
        "Deploy webhook rejected: merge conflict")
    assert_untouched(fake_looker, before)


def test_failed_deploy_removes_the_model_configuration_it_created(fake_looker: FakeLooker, lookml: Path,
                                                                 connect) -> None:
    (lookml / "extra.model.lkml").write_text('connection: "analytics"\ninclude: "/views/*.view.lkml"\n'
                                             "explore: customers {}\n")
    (lookml / ".lookwright-manifest.json").unlink()
    fake_looker.fail_deploy("nope")
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert str(failure.value) == ("deploy to production failed: POST /api/4.0/projects/lw_project/"
                                  "deploy_ref_to_production (HTTP 400): nope")
    assert sorted(fake_looker.models) == ["shop"]


def test_token_expiry_mid_flow_relogs_in_and_reasserts_dev_mode(fake_looker: FakeLooker, lookml: Path,
                                                                connect) -> None:
    # the tokens die as the temporary branch is created; validation must still run on it in dev mode
    original = fake_looker.take_fault
    expired: list[str] = []

    def expire_on_branch_creation(method: str, path: str):  # type: ignore[no-untyped-def]
        if method == "POST" and path.endswith("/git_branch") and not expired:
            expired.append(path)
            fake_looker.expire_tokens()
        return original(method, path)

    fake_looker.take_fault = expire_on_branch_creation  # type: ignore[method-assign]
    result = deploy(options(fake_looker, lookml), connect)
    assert connect.clients[0].transport.relogins == 1
    assert fake_looker.production_commit == result.commit
    assert ("POST", "/api/4.0/projects/lw_project/git_branch", 401) in fake_looker.log
    assert ("POST", "/api/4.0/projects/lw_project/git_branch", 200) in fake_looker.log
    assert fake_looker.dev_branch() == DEV_BRANCH
    assert fake_looker.dev_local_branches() == [DEV_BRANCH, "main"]


def test_sdk_side_token_expiry_also_reasserts_dev_mode(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    fake_looker.token_ttl = 10  # the SDK renews 10 s early: every call logs in again
    result = deploy(options(fake_looker, lookml), connect)
    logins = [s for m, p, s in fake_looker.log if p == "/api/4.0/login"]
    # every SDK call needed a new token (the two of the login check before pushing included):
    # 20 logins, all but the first a re-login
    assert (connect.clients[0].transport.relogins, logins) == (19, [200] * 20)
    assert fake_looker.production_commit == result.commit


@pytest.mark.parametrize("status", [429, 500, 503])
def test_bursts_of_transient_errors_are_retried(fake_looker: FakeLooker, lookml: Path, connect, status: int) -> None:
    fake_looker.fail_next("/validate", status, count=2)
    fake_looker.fail_next("/git_branch", status, count=2, method="PUT")
    fake_looker.fail_next("/deploy_ref_to_production", status, count=3)
    result = deploy(options(fake_looker, lookml), connect)
    assert fake_looker.production_commit == result.commit
    assert [s for m, p, s in fake_looker.log if p.endswith("deploy_ref_to_production")] == [status] * 3 + [204]


def test_endless_5xx_gives_up_and_restores_state(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    before = snapshot(fake_looker)
    fake_looker.fail_next("/validate", 503, count=100)
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert str(failure.value) == ("validate the LookML project failed: POST /api/4.0/projects/lw_project/validate "
                                  "(HTTP 503): Injected 503")
    assert_untouched(fake_looker, before)


def test_a_hanging_endpoint_is_abandoned_after_the_timeout_and_retried(fake_looker: FakeLooker, lookml: Path,
                                                                        looker_ini: Path) -> None:
    # content_validation hangs for 20 s (until the fake stops); IMPATIENT's per-request timeout is 2 s
    fake_looker.slow_next("/content_validation", 20.0, count=1)
    started = time.monotonic()
    result = deploy(options(fake_looker, lookml), lambda: LookerClient.from_ini(looker_ini, policy=IMPATIENT))
    elapsed = time.monotonic() - started
    assert fake_looker.production_commit == result.commit
    asked = [p for m, p in fake_looker.received if p == "/api/4.0/content_validation"]
    answered = [s for m, p, s in fake_looker.log if p == "/api/4.0/content_validation"]
    assert (len(asked), answered) == (3, [200, 200])  # hung, retried (dev), then production's answer
    assert elapsed < 10, f"the hanging request was not abandoned: the deploy took {elapsed:.1f} s"


def assert_scrubbed(secret: str, failure: BaseException, *texts: str) -> None:
    """Neither the exception (message, args, traceback with its context) nor any other text has the secret."""
    formatted = "".join(traceback.format_exception(failure)) + repr(failure.args)
    context = failure.__context__
    while context is not None:
        formatted += "".join(traceback.format_exception(context))
        context = context.__context__
    for text in (formatted, *texts):
        assert secret not in text


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG (lookwright, looker_sdk, requests' urllib3)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def test_the_client_secret_in_an_error_body_is_scrubbed(fake_looker: FakeLooker, lookml: Path, connect,
                                                        debug_logs: pytest.LogCaptureFixture) -> None:
    fake_looker.fail_deploy(f"boom for {CLIENT_SECRET}")
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert str(failure.value) == ("deploy to production failed: POST /api/4.0/projects/lw_project/"
                                  "deploy_ref_to_production (HTTP 400): boom for ***")
    assert_scrubbed(CLIENT_SECRET, failure.value, debug_logs.text)


def test_a_bearer_token_echoed_in_an_error_body_is_scrubbed(fake_looker: FakeLooker, lookml: Path, connect,
                                                            debug_logs: pytest.LogCaptureFixture) -> None:
    fake_looker.fail_next_echoing("/validate", 400, "Rejected request with {authorization}")
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert str(failure.value) == ("validate the LookML project failed: POST /api/4.0/projects/lw_project/validate "
                                  "(HTTP 400): Rejected request with Bearer ***")
    tokens = connect.clients[0].transport.record.tokens
    assert len(tokens) == 1 and len(next(iter(tokens))) == 32  # the fake's token_hex(16)
    assert_scrubbed(next(iter(tokens)), failure.value, debug_logs.text)


def test_the_webhook_secret_echoed_in_an_error_body_is_scrubbed(fake_looker: FakeLooker, lookml: Path, connect,
                                                                debug_logs: pytest.LogCaptureFixture) -> None:
    fake_looker.deploy_secret = "the-right-secret-value"
    before = snapshot(fake_looker)
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml, deploy_webhook=True, deploy_secret=DEPLOY_SECRET), connect)
    assert str(failure.value) == ("deploy to production failed: POST /webhooks/projects/lw_project/deploy/branch/"
                                  "lookwright%2Fregen (HTTP 403): Deploy secret '***' does not match")
    assert_scrubbed(DEPLOY_SECRET, failure.value, debug_logs.text)
    assert_untouched(fake_looker, before)


def test_wrong_credentials_fail_fast_naming_login(fake_looker: FakeLooker, lookml: Path, looker_ini: Path) -> None:
    looker_ini.write_text(looker_ini.read_text().replace(CLIENT_SECRET, "wrong-secret-value"))
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml), lambda: LookerClient.from_ini(looker_ini, policy=FAST))
    assert "wrong-secret-value" not in str(failure.value)
    assert "POST /api/4.0/login (HTTP 404)" in str(failure.value)


def test_aggregate_comments_are_parsed_from_looker_sql() -> None:
    sql = ("-- use existing orders::monthly in scratch.LR$ABC_monthly\n"
           "-- Did not use orders::daily; a better fit was available.\nSELECT 1")
    assert aggregate_choices(sql.splitlines()) == ("monthly", frozenset({"daily"}))
    assert aggregate_choices(["SELECT 1"]) == (None, frozenset())


AGGREGATE_MODEL = """connection: "warehouse"
include: "/views/*.view.lkml"

datagroup: daily {
  sql_trigger: SELECT CURRENT_DATE ;;
}

explore: orders {
  join: customers {
    sql_on: ${orders.customer_id} = ${customers.id} ;;
    relationship: many_to_one
  }

  aggregate_table: monthly {
    query: {
      dimensions: [orders.created_month]
      measures: [orders.total_amount]
      timezone: "UTC"
    }
    materialization: {
      datagroup_trigger: daily
    }
  }
}
"""


def answer(query: QueryIR, *comments: str) -> SqlTabAnswer:
    """What Looker's SQL tab shows above the SQL of `query` (recorded in Looker's own words)."""
    return SqlTabAnswer(query.model, query.explore, query.fields, tuple(query.filters.items()), query.timezone,
                        comments)


def test_declared_queries_agree_with_lookers_aggregate_choice(fake_looker: FakeLooker, lookml: Path,
                                                             connect) -> None:
    (lookml / "shop.model.lkml").write_text(AGGREGATE_MODEL)
    queries = (QueryIR("monthly revenue", "shop", "orders", ("orders.created_month", "orders.total_amount"),
                          {}, "UTC"),)
    fake_looker.record_sql_tab(answer(queries[0], SCRATCH_MONTHLY))
    result = deploy(options(fake_looker, lookml, queries=queries, severity="error"), connect)
    assert fake_looker.production_commit == result.commit
    sql = [p for m, p, s in fake_looker.log if p.endswith("/queries/run/sql")]
    assert sql == ["/api/4.0/queries/run/sql"]


def test_cli_dry_run_prints_plan_and_diff(fake_looker: FakeLooker, generated: Generated, looker_ini: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["deploy", "--looker-ini", str(looker_ini), "--project", "lw_project", "--branch", "b",
              "--lookml-dir", str(generated.lookml_dir), "--model", str(generated.model_dir),
              "--repo", str(fake_looker.remote), "--dry-run", "--production"])
    assert exit_.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("Planned steps (dry run, nothing changed):\n  1. validate LookML in ")
    assert f"and the aggregate tables of the declared queries of {generated.model_dir}\n" in out
    assert "  7. compare aggregate-table choices for 3 queries\n" in out
    assert "  8. deploy branch b to production (deploy_ref_to_production)\n" in out
    assert "  9. restore the original branch and workspace, delete the temporary branch\n" in out
    assert "+  dimension: status {" in out
    assert CLIENT_SECRET not in out + err
    assert fake_looker.log == [] and "b" not in fake_looker.remote_branches()


# ---- the local gate includes the aggregate check of the semantic model's declared queries -------


def test_a_must_hit_miss_stops_the_deploy_before_anything_leaves_the_machine(
        fake_looker: FakeLooker, generated: Generated, connect) -> None:
    # the aggregate table no longer has total_amount: monthly_revenue no longer hits it (a measure that
    # cannot roll up, such as a sum over ${TABLE}, is LW403 in the YAML already, before any deploy)
    generated.edit("measures: [orders.total_amount, orders.count]", "measures: [orders.count]")
    branches = fake_looker.remote_branches()
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, generated.lookml_dir, model_dir=generated.model_dir), connect)
    assert failure.value.step == "local aggregate validation"
    line = generated.line_of("- name: monthly_revenue")
    assert failure.value.problems == [
        (f"{generated.model_dir}/shop.yml:{line}: query monthly_revenue must hit monthly but did not: "
        "it does not include the following fields in the query: orders.total_amount")]
    assert fake_looker.remote_branches() == branches  # nothing pushed
    assert fake_looker.log == []  # not a single API call
    assert connect.clients == []  # not even a login


def test_declared_queries_come_from_the_semantic_model() -> None:
    from lookwright.model.compile import load_model

    assert declared_queries(load_model(FIXTURES / "semantic")) == (
        QueryIR("german_revenue", "shop", "orders",
                   ("customers.country", "orders.total_amount", "orders.average_amount"),
                   {"customers.country": "DE"}, "UTC"),
        QueryIR("monthly_revenue", "shop", "orders", ("orders.created_month", "orders.total_amount"), {}, "UTC",
                must_hit="monthly"),
        QueryIR("revenue_by_status", "shop", "orders", ("orders.status", "orders.total_amount", "orders.count"),
                   {}, "UTC"),
    )


def test_generated_lookml_deploys_and_every_declared_query_is_checked_in_looker(
        fake_looker: FakeLooker, generated: Generated, connect) -> None:
    result = deploy(options(fake_looker, generated.lookml_dir, model_dir=generated.model_dir), connect)
    assert result.changed_files == (".lookwright-manifest.json", "explores/orders.explore.lkml", "shop.model.lkml",
                                    "views/customers.view.lkml", "views/orders.view.lkml")
    assert fake_looker.production_commit == result.commit
    assert "compare aggregate-table choices for 3 queries" in result.steps
    assert [p for m, p, s in fake_looker.log if p.endswith("/queries/run/sql")] == ["/api/4.0/queries/run/sql"] * 3
    assert_no_temporary_branches(fake_looker)


def test_a_queries_file_overrides_the_declared_queries(fake_looker: FakeLooker, generated: Generated,
                                                       connect) -> None:
    queries = (QueryIR("only", "shop", "orders", ("orders.count",)),)
    fake_looker.record_sql_tab(answer(queries[0], SCRATCH_MONTHLY))
    deploy(options(fake_looker, generated.lookml_dir, model_dir=generated.model_dir, queries=queries,
                   production=False), connect)
    assert [p for m, p, s in fake_looker.log if p.endswith("/queries/run/sql")] == ["/api/4.0/queries/run/sql"]


# ---- validation runs on a temporary branch; B is never reset or force-pushed by Looker ----------


def test_validation_runs_on_a_temporary_branch_that_is_deleted_afterwards(fake_looker: FakeLooker, lookml: Path,
                                                                         connect) -> None:
    seen: list[str] = []
    original = fake_looker.take_fault

    def record_branch(method: str, path: str):  # type: ignore[no-untyped-def]
        if path.endswith("/validate"):
            seen.append(fake_looker.dev_branch())
        return original(method, path)

    fake_looker.take_fault = record_branch  # type: ignore[method-assign]
    result = deploy(options(fake_looker, lookml), connect)
    assert result.commit is not None
    assert seen == [f"tmp_lookwright_{result.commit[:12]}"]
    assert fake_looker.remote_branches()["lookwright/regen"] == result.commit
    assert not [entry for entry in fake_looker.log if entry[0] == "PUT" and "ref" in entry[1]]
    assert fake_looker.dev_branch() == DEV_BRANCH
    assert_no_temporary_branches(fake_looker)


def test_the_temporary_branch_is_deleted_when_a_step_fails(fake_looker: FakeLooker, lookml: Path,
                                                          connect) -> None:
    before = snapshot(fake_looker)
    fake_looker.inject_lookml_error("Unknown view", "shop.model.lkml", 3)
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert failure.value.step == "Looker LookML validation"
    assert ("DELETE", (f"/api/4.0/projects/lw_project/git_branch/{TMP_PREFIX}"
            f"{fake_looker.remote_branches()['lookwright/regen'][:12]}"), 204) in fake_looker.log
    assert_untouched(fake_looker, before)


def test_a_cleanup_failure_does_not_hide_the_first_error(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    fake_looker.inject_lookml_error("Unknown view", "shop.model.lkml", 3)
    fake_looker.fail_next("/git_branch/tmp_lookwright_", 400, count=1, method="DELETE")
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert failure.value.step == "Looker LookML validation"
    assert fake_looker.dev_branch() == DEV_BRANCH  # the other cleanup steps still ran
    assert set(fake_looker.workspaces()) <= {"production"}
    assert [b for b in fake_looker.dev_local_branches() if b.startswith(TMP_PREFIX)] != []


def test_a_leftover_temporary_branch_of_an_interrupted_run_is_replaced(fake_looker: FakeLooker, lookml: Path,
                                                                      connect) -> None:
    fake_looker.fail_next("/content_validation", 400, count=1)
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert str(failure.value) == "validate content failed: GET /api/4.0/content_validation (HTTP 400): Injected 400"
    # the same commit again (nothing changed): its temporary branch name is the same
    sha = fake_looker.remote_branches()["lookwright/regen"]
    subprocess.run(["git", "branch", f"{TMP_PREFIX}{sha[:12]}", sha], cwd=fake_looker.dev_dir, check=True)
    result = deploy(options(fake_looker, lookml), connect)
    assert result.commit == sha and fake_looker.production_commit == sha
    assert_no_temporary_branches(fake_looker)


# ---- the deploy webhook and its secret --------------------------------------------------------

def test_deploy_through_the_webhook_with_the_deploy_secret(fake_looker: FakeLooker, lookml: Path,
                                                           connect) -> None:
    fake_looker.deploy_secret = DEPLOY_SECRET
    opts = options(fake_looker, lookml, deploy_webhook=True, deploy_secret=DEPLOY_SECRET)
    assert DEPLOY_SECRET not in repr(opts)
    result = deploy(opts, connect)
    assert fake_looker.production_commit == result.commit
    assert ("POST", "/webhooks/projects/lw_project/deploy/branch/lookwright%2Fregen", 200) in fake_looker.log
    assert not [p for m, p, s in fake_looker.log if "deploy_ref_to_production" in p]


def test_a_failing_webhook_never_reveals_the_deploy_secret(fake_looker: FakeLooker, generated: Generated,
                                                           looker_ini: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    fake_looker.deploy_secret = "the-right-secret-value"
    monkeypatch.setenv("LOOKER_DEPLOY_SECRET", DEPLOY_SECRET)  # wrong; the fake echoes it in its error
    before = snapshot(fake_looker)
    caplog.set_level("DEBUG", logger="lookwright")
    caplog.set_level("DEBUG", logger="urllib3")
    with pytest.raises(SystemExit) as exit_:
        main(["deploy", "--looker-ini", str(looker_ini), "--project", "lw_project", "--branch", "lookwright/regen",
              "--lookml-dir", str(generated.lookml_dir), "--model", str(generated.model_dir),
              "--repo", str(fake_looker.remote), "--production",
              "--deploy-webhook"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 4
    assert ("error: deploy to production failed: POST /webhooks/projects/lw_project/deploy/branch/"
            "lookwright%2Fregen (HTTP 403): Deploy secret '***' does not match") in err
    assert DEPLOY_SECRET not in out + err + caplog.text
    assert CLIENT_SECRET not in out + err + caplog.text
    assert_untouched(fake_looker, before)


def test_the_webhook_needs_a_secret(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    from lookwright.errors import InputError

    with pytest.raises(InputError, match="LOOKER_DEPLOY_SECRET"):
        deploy(options(fake_looker, lookml, deploy_webhook=True), connect)
    assert fake_looker.log == []


def test_a_branch_moved_after_validation_is_not_deployed(fake_looker: FakeLooker, lookml: Path, connect,
                                                         tmp_path: Path) -> None:
    before = snapshot(fake_looker)
    intruder = tmp_path / "intruder"

    def push_behind_our_back(step: str) -> None:
        if step != "deploying to production":
            return
        subprocess.run(["git", "clone", "-q", "-b", "lookwright/regen", str(fake_looker.remote), str(intruder)], check=True)
        (intruder / "views" / "late.view.lkml").write_text("view: late {}\n")
        for command in (["add", "-A"], ["-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "late"],
                        ["push", "-q", "origin", "lookwright/regen"]):
            subprocess.run(["git", *command], cwd=intruder, check=True)

    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml), connect, push_behind_our_back)
    assert "branch lookwright/regen moved since it was validated" in str(failure.value.problems[0])
    assert_untouched(fake_looker, before)


# ---- Looker disagrees with lookwright: the deploy stops at that step, nothing reaches production ----

MONTHLY_REVENUE = QueryIR("monthly_revenue", "shop", "orders", ("orders.created_month", "orders.total_amount"),
                             {}, "UTC")


def test_looker_not_using_the_aggregate_table_lookwright_chose_fails_the_deploy(
        fake_looker: FakeLooker, generated: Generated, connect) -> None:
    fake_looker.record_sql_tab(answer(MONTHLY_REVENUE, "-- Did not use orders::monthly; the optimizer cannot "
                                                       "determine why the aggregate table wasn't used."))
    before = snapshot(fake_looker)
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, generated.lookml_dir, model_dir=generated.model_dir), connect)
    assert (failure.value.step, failure.value.problems) == (
        "aggregate awareness", ["monthly_revenue: Looker used no aggregate table, lookwright expected monthly"])
    assert_untouched(fake_looker, before)


def test_looker_using_an_aggregate_table_lookwright_ruled_out_fails_the_deploy(
        fake_looker: FakeLooker, generated: Generated, connect) -> None:
    by_status = QueryIR("revenue_by_status", "shop", "orders",
                           ("orders.status", "orders.total_amount", "orders.count"), {}, "UTC")
    fake_looker.record_sql_tab(answer(by_status, SCRATCH_MONTHLY))
    before = snapshot(fake_looker)
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, generated.lookml_dir, model_dir=generated.model_dir), connect)
    assert (failure.value.step, failure.value.problems) == (
        "aggregate awareness", ["revenue_by_status: Looker used monthly, lookwright expected no aggregate table"])
    assert_untouched(fake_looker, before)


def test_a_query_in_another_time_zone_skips_the_aggregate_table_on_both_sides(
        fake_looker: FakeLooker, generated: Generated, connect) -> None:
    # Looker names the table it did not use; lookwright must name it too (its time zone reason)
    new_york = QueryIR("new york", "shop", "orders", MONTHLY_REVENUE.fields, {}, "America/New_York")
    fake_looker.record_sql_tab(answer(new_york, "-- Did not use orders::monthly; the query timezone "
                                                "America/New_York does not match the aggregate table timezone UTC"))
    result = deploy(options(fake_looker, generated.lookml_dir, model_dir=generated.model_dir, queries=(new_york,)),
                    connect)
    assert fake_looker.production_commit == result.commit
    fake_looker.record_sql_tab(answer(new_york))  # a Looker that did not even consider the table
    before = snapshot(fake_looker)
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, generated.lookml_dir, model_dir=generated.model_dir, queries=(new_york,)),
               connect)
    assert (failure.value.step, failure.value.problems) == (
        "aggregate awareness", ["new york: Looker used no aggregate table, lookwright expected no aggregate table"])
    assert_untouched(fake_looker, before)


def test_a_content_error_only_looker_knows_about_fails_the_deploy(fake_looker: FakeLooker, lookml: Path,
                                                                  connect) -> None:
    fake_looker.inject_content_error("Finance overview", "Unknown field orders.margin", "shop", "orders")
    before = snapshot(fake_looker)
    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml), connect)
    assert (failure.value.step, failure.value.problems) == (
        "content validation (new errors)", ["Finance overview: Unknown field orders.margin (shop/orders)"])
    assert_untouched(fake_looker, before)


def test_scrub_replaces_every_secret_longest_first_and_leaves_short_values(looker_ini: Path) -> None:
    client = LookerClient.from_ini(looker_ini, policy=FAST)
    client.add_secret("zzzzzz")
    client.add_secret("xzzzzzzz")  # contains the shorter one, which sorts after it: longest must go first
    client.add_secret("12345")  # shorter than 6 characters: too likely to be an ordinary word or number
    client.add_secret("")
    client.transport.record.tokens.add("tok-0123456789")
    text = f"id {CLIENT_SECRET} xzzzzzzz zzzzzz 12345 Bearer tok-0123456789."
    assert client.scrub(text) == "id *** *** *** 12345 Bearer ***."


@pytest.mark.parametrize(("body", "message"), [
    ('{"message": "Deploy rejected", "documentation_url": "https://example.com/x"}', "Deploy rejected"),
    ('{"error": "no message key"}', '{"error": "no message key"}'),
    ("plain text, not JSON", "plain text, not JSON"),
])
def test_a_failing_webhook_reports_lookers_message(fake_looker: FakeLooker, lookml: Path, connect, body: str,
                                                   message: str) -> None:
    fake_looker.deploy_secret = DEPLOY_SECRET
    fake_looker.fail_next_echoing("/webhooks/", 400, body)
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, lookml, deploy_webhook=True, deploy_secret=DEPLOY_SECRET), connect)
    assert str(failure.value) == ("deploy to production failed: POST /webhooks/projects/lw_project/deploy/branch/"
                                  f"lookwright%2Fregen (HTTP 400): {message}")


def test_a_failing_sql_tab_names_the_query(fake_looker: FakeLooker, generated: Generated, connect) -> None:
    fake_looker.fail_next("/queries/run/sql", 400)
    before = snapshot(fake_looker)
    with pytest.raises(LookerError) as failure:
        deploy(options(fake_looker, generated.lookml_dir, model_dir=generated.model_dir), connect)
    assert str(failure.value) == ("generate SQL for german_revenue failed: POST /api/4.0/queries/run/sql (HTTP 400): "
                                  "Injected 400")
    assert_untouched(fake_looker, before)


def test_a_branch_deleted_after_validation_is_not_deployed(fake_looker: FakeLooker, lookml: Path, connect) -> None:
    before = snapshot(fake_looker)

    def delete_behind_our_back(step: str) -> None:
        if step == "deploying to production":
            subprocess.run(["git", "branch", "-q", "-D", "lookwright/regen"], cwd=fake_looker.remote, check=True)

    with pytest.raises(DeployFailed) as failure:
        deploy(options(fake_looker, lookml), connect, delete_behind_our_back)
    assert failure.value.step == "deploy to production"
    assert failure.value.problems[0].endswith(" now (deleted)); nothing was deployed: run the deploy again")
    assert_untouched(fake_looker, before)

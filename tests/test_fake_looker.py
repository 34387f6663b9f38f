"""The fake Looker itself: spec enforcement, workspaces per session, git semantics, fault injection."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests
from fakes.looker_server import DEV_BRANCH, FakeLooker, SqlTabAnswer
from fakes.oas import SpecViolation, looker_spec

pytest_plugins = ["conftest_looker"]


def login(fake: FakeLooker) -> dict[str, str]:
    resp = requests.post(f"{fake.base_url}/api/4.0/login",
                         data={"client_id": fake.client_id, "client_secret": fake.client_secret}, timeout=5)
    assert resp.status_code == 200
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def api(fake: FakeLooker, method: str, path: str, headers: dict[str, str], **kwargs: object) -> requests.Response:
    return requests.request(method, f"{fake.base_url}/api/4.0{path}", headers=headers, timeout=5, **kwargs)


def test_a_request_body_outside_the_spec_is_a_loud_violation(fake_looker: FakeLooker) -> None:
    headers = login(fake_looker)
    resp = api(fake_looker, "PATCH", "/session", headers, json={"workspace": "dev"})
    assert resp.status_code == 500
    assert fake_looker.violations == [
        ("SpecViolation: request PATCH /session (update_session): []: Additional properties are not allowed "
         "('workspace' was unexpected)")]
    fake_looker.violations.clear()


def test_undeclared_query_parameters_and_unknown_paths_are_violations() -> None:
    spec = looker_spec()
    with pytest.raises(SpecViolation, match="undeclared query parameter 'bogus'"):
        spec.validate_request(spec.find("GET", "/api/4.0/session"), {"bogus": ["1"]}, b"", "")
    with pytest.raises(SpecViolation, match="no such operation"):
        spec.find("POST", "/api/4.0/projects/p/files")


def test_a_response_with_an_unknown_property_is_a_violation() -> None:
    spec = looker_spec()
    op = spec.find("GET", "/api/4.0/projects/p/git_branch")
    with pytest.raises(SpecViolation, match="'branch' was unexpected"):
        spec.validate_response(op, 200, json.dumps({"branch": "main"}).encode(), injected=False)
    with pytest.raises(SpecViolation, match="status not declared"):
        spec.validate_response(op, 503, b'{"message": "x", "documentation_url": "y"}', injected=False)


def test_every_login_starts_a_new_session_in_production(fake_looker: FakeLooker) -> None:
    first = login(fake_looker)
    assert api(fake_looker, "PATCH", "/session", first, json={"workspace_id": "dev"}).json()["workspace_id"] == "dev"
    second = login(fake_looker)
    assert api(fake_looker, "GET", "/session", second).json()["workspace_id"] == "production"
    assert api(fake_looker, "GET", "/session", first).json()["workspace_id"] == "dev"


def test_branch_writes_need_the_dev_workspace(fake_looker: FakeLooker) -> None:
    headers = login(fake_looker)
    resp = api(fake_looker, "PUT", "/projects/lw_project/git_branch", headers, json={"name": "main"})
    assert resp.status_code == 400
    assert "production mode" in resp.json()["message"]


def test_update_git_branch_with_ref_hard_resets_and_force_pushes(fake_looker: FakeLooker) -> None:
    headers = login(fake_looker)
    api(fake_looker, "PATCH", "/session", headers, json={"workspace_id": "dev"})
    first = fake_looker.production_commit
    second = fake_looker.seed({"views/extra.view.lkml": "view: extra {}\n"})
    assert api(fake_looker, "POST", "/projects/lw_project/git_branch", headers,
               json={"name": "tmp", "ref": second}).json()["ref"] == second
    resp = api(fake_looker, "PUT", "/projects/lw_project/git_branch", headers, json={"name": "tmp", "ref": first})
    assert resp.json()["ref"] == first
    assert fake_looker.remote_branches()["tmp"] == first
    assert api(fake_looker, "DELETE", "/projects/lw_project/git_branch/tmp", headers).status_code == 400
    api(fake_looker, "PUT", "/projects/lw_project/git_branch", headers, json={"name": DEV_BRANCH})
    assert api(fake_looker, "DELETE", "/projects/lw_project/git_branch/tmp", headers).status_code == 204
    assert "tmp" not in fake_looker.remote_branches()


def test_validate_reports_syntax_errors_with_file_and_line(fake_looker: FakeLooker) -> None:
    fake_looker.seed({"views/broken.view.lkml": "view: broken {\n  dimension: x {\n    sql: 1 ;;\n"})
    headers = login(fake_looker)
    errors = api(fake_looker, "POST", "/projects/lw_project/validate", headers).json()["errors"]
    assert [(e["file_path"], e["severity"], e["kind"]) for e in errors] == [
        ("lw_project/views/broken.view.lkml", "fatal", "syntax")]


def test_unconfigured_models_are_validation_errors(fake_looker: FakeLooker) -> None:
    fake_looker.models.clear()
    headers = login(fake_looker)
    errors = api(fake_looker, "POST", "/projects/lw_project/validate", headers).json()["errors"]
    assert [e["message"] for e in errors] == ["Model 'shop' has not been configured."]


def test_faults_hit_only_the_next_n_matching_calls(fake_looker: FakeLooker) -> None:
    headers = login(fake_looker)
    fake_looker.fail_next("/session", 429, count=2)
    statuses = [api(fake_looker, "GET", "/session", headers).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    fake_looker.expire_tokens()
    assert api(fake_looker, "GET", "/session", headers).status_code == 401


def test_json_queries_compute_rows_from_the_warehouse(fake_looker: FakeLooker) -> None:
    headers = login(fake_looker)
    resp = api(fake_looker, "POST", "/queries/run/json", headers,
               json={"model": "shop", "view": "orders", "fields": ["orders.created_month", "orders.total_amount"]})
    assert resp.json() == [{"orders.created_month": "2024-01", "orders.total_amount": 30.5},
                           {"orders.created_month": "2024-02", "orders.total_amount": 9.5}]


def test_production_deploy_moves_only_production(fake_looker: FakeLooker, tmp_path: Path) -> None:
    headers = login(fake_looker)
    before = fake_looker.production_commit
    fake_looker.fail_deploy("no")
    resp = api(fake_looker, "POST", "/projects/lw_project/deploy_ref_to_production", headers,
               params={"branch": "main"})
    assert resp.status_code == 400 and fake_looker.production_commit == before


def test_the_deploy_webhook_checks_the_secret_and_moves_production(fake_looker: FakeLooker) -> None:
    fake_looker.deploy_secret = "s3cret-value"
    second = fake_looker.seed({"views/extra.view.lkml": "view: extra {}\n"}, message="second")
    first = subprocess.run(["git", "rev-parse", f"{second}~1"], cwd=fake_looker.remote, capture_output=True,
                           text=True, check=True).stdout.strip()
    fake_looker.production_commit = first
    url = f"{fake_looker.base_url}/webhooks/projects/lw_project/deploy/branch/main"
    wrong = requests.post(url, headers={"X-Looker-Deploy-Secret": "nope"}, timeout=5)
    assert (wrong.status_code, fake_looker.production_commit) == (403, first)
    assert requests.get(url, headers={"X-Looker-Deploy-Secret": "s3cret-value"}, timeout=5).status_code == 404
    right = requests.post(url, headers={"X-Looker-Deploy-Secret": "s3cret-value"}, timeout=5)
    assert (right.status_code, fake_looker.production_commit) == (200, second)


def test_explores_in_files_the_model_includes_belong_to_the_model(fake_looker: FakeLooker) -> None:
    fake_looker.seed({"shop.model.lkml": 'connection: "warehouse"\ninclude: "/views/*.view.lkml"\n'
                                         'include: "/explores/*.explore.lkml"\n',
                      "explores/orders.explore.lkml": "explore: orders {}\n",
                      "explores/unused.lkml": "explore: unused {}\n"})
    headers = login(fake_looker)
    explores = api(fake_looker, "GET", "/lookml_models/shop", headers).json()["explores"]
    assert [e["name"] for e in explores] == ["orders"]


# ---- the fake answers from its own data (recorded answers, its own reading), never from lookwright ----


def test_the_sql_tab_shows_the_recorded_comments_and_none_for_an_unrecorded_query(fake_looker: FakeLooker) -> None:
    headers = login(fake_looker)
    fake_looker.record_sql_tab(SqlTabAnswer("shop", "orders", ("orders.count",), (), "UTC",
                                            ("-- Did not use orders::monthly; recorded reason",)))
    query = {"model": "shop", "view": "orders", "fields": ["orders.count"], "query_timezone": "UTC"}
    recorded = api(fake_looker, "POST", "/queries/run/sql", headers, json=query).text
    assert recorded.splitlines()[:2] == ["-- Did not use orders::monthly; recorded reason", "SELECT COUNT(*) AS \"orders.count\""]
    unrecorded = api(fake_looker, "POST", "/queries/run/sql", headers, json={**query, "query_timezone": "Europe/Paris"})
    assert unrecorded.text.splitlines()[0] == 'SELECT COUNT(*) AS "orders.count"'


def test_relative_day_filters_are_read_by_the_fake_itself(fake_looker: FakeLooker) -> None:
    import datetime

    fake_looker.now = datetime.datetime(2024, 2, 8, 12, tzinfo=datetime.UTC)
    headers = login(fake_looker)
    query = {"model": "shop", "view": "orders", "fields": ["orders.count"], "query_timezone": "UTC"}
    rows = [api(fake_looker, "POST", "/queries/run/json", headers,
                json={**query, "filters": {"orders.created_date": value}}).json()
            for value in ("8 days", "7 days", "38 days ago for 7 days")]
    assert rows == [[{"orders.count": 1}], [{"orders.count": 0}], [{"orders.count": 2}]]
    refused = api(fake_looker, "POST", "/queries/run/json", headers,
                  json={**query, "filters": {"orders.created_date": "this week"}})
    assert (refused.status_code, refused.json()["message"]) == (
        400, "Invalid filter: 'this week' is not a date filter the fake reads")


def test_validation_reports_the_fakes_own_reference_errors(fake_looker: FakeLooker) -> None:
    fake_looker.seed({"views/orders.view.lkml": "view: orders {\n  sql_table_name: orders ;;\n"
                                                "  measure: total {\n    type: sum\n    sql: ${nope} ;;\n  }\n}\n"})
    headers = login(fake_looker)
    errors = api(fake_looker, "POST", "/projects/lw_project/validate", headers).json()["errors"]
    assert [(e["file_path"], e["line_number"], e["message"]) for e in errors] == [
        ("lw_project/views/orders.view.lkml", 5, ("Unknown or inaccessible field orders.nope. Check for typos or "
         "append a timeframe to the name if the field is type time."))]


def test_an_echoing_fault_puts_the_authorization_header_in_the_error_body(fake_looker: FakeLooker) -> None:
    headers = login(fake_looker)
    fake_looker.fail_next_echoing("/session", 400, "Rejected {authorization}")
    resp = api(fake_looker, "GET", "/session", headers)
    assert (resp.status_code, resp.json()["message"]) == (400, f"Rejected {headers['Authorization']}")

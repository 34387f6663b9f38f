"""The deploy + verify flow against a real Looker instance (LOOKERSDK_* env vars); skipped otherwise."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lookwright.looker.client import LookerClient
from lookwright.looker.deploy import DeployOptions, deploy
from lookwright.looker.verify import verify

FIXTURES = Path(__file__).parent / "fixtures" / "deploy"
REQUIRED = ("LOOKERSDK_BASE_URL", "LOOKERSDK_CLIENT_ID", "LOOKERSDK_CLIENT_SECRET",
            "LOOKWRIGHT_LIVE_PROJECT", "LOOKWRIGHT_LIVE_REPO")

pytestmark = pytest.mark.skipif(
    not os.environ.get("LOOKERSDK_BASE_URL"),
    reason="live Looker tests need LOOKERSDK_BASE_URL (+ client id/secret, LOOKWRIGHT_LIVE_PROJECT, "
           "LOOKWRIGHT_LIVE_REPO: the project's git remote with push access)",
)


def test_live_deploy_to_a_branch_then_verify(tmp_path: Path) -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.fail(f"LOOKERSDK_BASE_URL is set but {', '.join(missing)} are not")
    lookml = tmp_path / "generated_lookml"
    shutil.copytree(FIXTURES / "generated_lookml", lookml)
    options = DeployOptions(project=os.environ["LOOKWRIGHT_LIVE_PROJECT"], branch="lookwright-live-test",
                            lookml_dir=lookml, repo=os.environ["LOOKWRIGHT_LIVE_REPO"],
                            production=os.environ.get("LOOKWRIGHT_LIVE_PRODUCTION") == "1")
    result = deploy(options, lambda: LookerClient.from_ini(None))
    assert result.commit
    if result.deployed:
        client = LookerClient.from_ini(None)
        try:
            verify(client, lookml)
        finally:
            client.logout()

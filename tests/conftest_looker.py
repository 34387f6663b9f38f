"""Shared fixtures for the Looker tests: a running fake Looker, a looker.ini for it, a warehouse."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from fakes.looker_server import Dashboard, FakeLooker, load_sql_tab
from looker_sdk import error as sdk_error

from lookwright.output.generate import GenerateOptions, generate

FIXTURES = Path(__file__).parent / "fixtures" / "deploy"
CLIENT_SECRET = "fake-client-secret-s3cr3t"


@dataclass(frozen=True)
class Generated:
    """A copy of the semantic fixture and the LookML `lookwright generate` made from it."""

    model_dir: Path
    lookml_dir: Path

    def regenerate(self) -> None:
        generate(GenerateOptions(self.model_dir, self.lookml_dir, self.lookml_dir.parent / "sql"))

    def edit(self, old: str, new: str) -> None:
        """Change the YAML model (the text must occur) and regenerate."""
        path = self.model_dir / "shop.yml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new))
        self.regenerate()

    def line_of(self, needle: str) -> int:
        lines = (self.model_dir / "shop.yml").read_text().splitlines()
        return next(n for n, line in enumerate(lines, 1) if needle in line)


def read_tree(root: Path) -> dict[str, str]:
    """Every file under root (outside .git) as relative path -> text."""
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


@pytest.fixture(autouse=True)
def _no_error_doc_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """looker_sdk fetches error docs from the internet on every API error; tests stay offline."""
    monkeypatch.setattr(sdk_error.ErrorDocHelper, "parse_and_lookup", lambda self, error_url, url="": ("", ""))


@pytest.fixture
def generated(tmp_path: Path) -> Generated:
    target = Generated(tmp_path / "semantic", tmp_path / "generated_lookml")
    shutil.copytree(FIXTURES / "semantic", target.model_dir)
    target.regenerate()
    return target


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customers (id INTEGER, country VARCHAR)")
        con.execute("INSERT INTO customers VALUES (1, 'DE'), (2, 'FR'), (3, 'DE')")
        con.execute("CREATE TABLE orders (id INTEGER, customer_id INTEGER, status VARCHAR, "
                    "created_at TIMESTAMP, amount DECIMAL(10, 2))")
        con.execute("""INSERT INTO orders VALUES
            (1, 1, 'complete', '2024-01-03 10:00:00', 10.50),
            (2, 2, 'complete', '2024-01-04 11:00:00', 20.00),
            (3, 3, 'returned', '2024-02-01 09:30:00', 7.25),
            (4, 1, 'complete', '2024-02-11 18:00:00', 2.25)""")
        con.execute("CREATE TABLE notes (body VARCHAR)")
    return path


@pytest.fixture
def fake_looker(tmp_path: Path, warehouse: Path) -> Iterator[FakeLooker]:
    fake = FakeLooker(tmp_path / "looker", client_secret=CLIENT_SECRET, warehouse=warehouse,
                      dashboards=[Dashboard("1", "Orders by status", "shop", "orders", ("orders.status", "orders.count")),
                                  Dashboard("2", "Legacy", "shop", "orders", ("orders.discount",))])
    fake.seed(read_tree(FIXTURES / "production"))
    fake.configure_model("shop", "warehouse")
    fake.record_sql_tab(*load_sql_tab(FIXTURES / "looker_sql_tab.json"))  # what Looker's SQL tab said
    fake.start()
    yield fake
    fake.stop()
    assert fake.violations == [], "requests/responses violated the Looker 4.0 spec"


@pytest.fixture
def looker_ini(tmp_path: Path, fake_looker: FakeLooker, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "VERIFY_SSL", "TIMEOUT"):
        monkeypatch.delenv(f"LOOKERSDK_{name}", raising=False)
    ini = tmp_path / "looker.ini"
    ini.write_text(f"[Looker]\nbase_url={fake_looker.base_url}\nclient_id={fake_looker.client_id}\n"
                   f"client_secret={CLIENT_SECRET}\nverify_ssl=false\ntimeout=30\n")
    return ini

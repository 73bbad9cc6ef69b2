"""Real parts for the monitor's tests: a PostgreSQL server started here (initdb + pg_ctl on
127.0.0.1, a free port, a temporary folder; stopped at the end of the session), SQLite files, and
the monitor itself served by uvicorn in a subprocess through ``assay monitor serve``."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("fastapi")

from _monitor_parts import Postgres, Server, _pg_tool, free_port, start_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """initdb + pg_ctl in a temporary folder, on 127.0.0.1 and a free port (as the ``postgres``
    user when the tests run as root: PostgreSQL refuses to run as root)."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (set ASSAY_TEST_PG_BIN)")
    pytest.importorskip("psycopg")
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    port = free_port()
    subprocess.run(
        [
            *prefix,
            initdb,
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    # fsync off: the tests kill the monitor, never PostgreSQL, so its own flushes only cost time.
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    )
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield Postgres(port)
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.new_url()


@pytest.fixture
def store(db_url: str) -> Iterator[Any]:
    from assay.monitor._store import Store

    s = Store(db_url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One monitor on a SQLite file for a module's API tests (small limits, to test them)."""
    folder = tmp_path_factory.mktemp("monitor")
    server = start_server(
        folder,
        f"sqlite:///{folder / 'monitor.db'}",
        env={"ASSAY_MONITOR_STORE_INPUTS": "raw"},
    )
    yield server
    server.stop()

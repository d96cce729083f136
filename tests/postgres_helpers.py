"""A throwaway PostgreSQL server for the review tests (tests/test_review.py, tests/test_review_http.py):
started with initdb/pg_ctl on 127.0.0.1 (as 'nobody' when we are root). The tests fail, not skip, when
PostgreSQL is not installed: CI installs it (.ci/run)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from itertools import count
from pathlib import Path

import pytest

from conftest import free_port


def _pg_bin() -> Path:
    try:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if (Path(bindir) / "initdb").exists():
            return Path(bindir)
    except (OSError, subprocess.CalledProcessError):
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    pytest.fail("PostgreSQL is not installed (no initdb): install it (Debian: apt-get install postgresql); "
                ".ci/run does", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on 127.0.0.1; yields its SQLAlchemy URL without a database name."""
    bindir = _pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="review-pg-"))
    os.chmod(folder, 0o777)
    prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    data, port = folder / "data", free_port()
    subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True)
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off"
    subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
                             "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


_counter = count()


def fresh_database(kind: str, folder: Path, request) -> str:
    """The URL of a new, empty review database: an SQLite file in `folder`, or a database on the
    session's PostgreSQL server."""
    if kind == "sqlite":
        return f"sqlite:///{folder / f'reviews-{next(_counter)}.db'}"
    import sqlalchemy as sa

    server = request.getfixturevalue("postgres_server")
    name = f"review_{next(_counter)}"
    engine = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"{server}/{name}"

"""Backups and the restore drill, on a PostgreSQL database of the drill's own (never the suite's).

The drill database is migrated and filled by real `manage.py` processes (Ivan's persona, a second
persona from a card, an admin), backed up by `manage.py backup`, destroyed and brought back by
`manage.py restore`; every table's row count and a checksum of the key tables must match. Bad
input (a damaged file, a wrong key, no pg_dump) must name the fix and change nothing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import CommandError, call_command

from ops.backups import MAGIC, BackupError, Database, backup_create, backup_files, backup_restore

ROOT = Path(settings.BASE_DIR)
KEY_TABLES = (
    "accounts_user",
    "personality_persona",
    "personality_trait",
    "personality_fact",
    "personality_styleexample",
    "personality_personaversion",
    "django_migrations",
)
needs_postgres = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"), reason="the drill needs PostgreSQL"
)
# The drill's setup (migrate, load) runs once per module and is not counted against a test's time.
drill_timeout = pytest.mark.timeout(90, func_only=True)


def _drill_database() -> Database:
    base = Database.from_settings()
    return Database(
        engine="postgresql",
        name=f"{base.name}_restore_drill"[:63],
        host=base.host or "127.0.0.1",
        port=base.port or "5432",
        user=base.user,
        password=base.password,
    )


def _url(db: Database) -> str:
    credentials = quote(db.user, safe="") + (":" + quote(db.password, safe="") if db.password else "")
    return f"postgres://{credentials}@{db.host}:{db.port}/{db.name}"


def _admin_connect(db: Database) -> psycopg.Connection:
    return psycopg.connect(
        host=db.host, port=db.port, user=db.user, password=db.password or None, dbname="postgres", autocommit=True
    )


def _manage(db: Database, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _url(db), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _state(db: Database) -> dict[str, object]:
    """Row count of every table, and a checksum of each key table's rows."""
    with psycopg.connect(
        host=db.host, port=db.port, user=db.user, password=db.password or None, dbname=db.name
    ) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        state: dict[str, object] = {}
        for table in tables:
            state[f"count:{table}"] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        for table in KEY_TABLES:
            if table not in tables:
                state[f"md5:{table}"] = "missing"
                continue
            state[f"md5:{table}"] = conn.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t"
            ).fetchone()[0]
    return state


_FILL = """
from django.core.management import call_command
call_command("load_persona", "personality/data/ivan.yaml", verbosity=0)
call_command("import_persona_card", "tests/fixtures/cards/marta.card_v2.json", verbosity=0)
call_command("ensure_superuser", verbosity=0)
"""


@pytest.fixture(scope="module")
def drill(test_database) -> Iterator[Database]:
    """A database of its own: the migrated test schema copied over, then filled by a real process."""
    db = _drill_database()
    with _admin_connect(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db.name}"')
    try:
        source = Database.from_settings()  # the test database now (pytest-django renamed it)
        dump = subprocess.Popen(["pg_dump", "--no-owner"], env=source.pg_env(), stdout=subprocess.PIPE)
        load = subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1"], env=db.pg_env(), stdin=dump.stdout, capture_output=True
        )
        assert dump.wait() == 0 and load.returncode == 0, load.stderr
        filled = _manage(
            db,
            "shell",
            "-c",
            _FILL,
            env={"DJANGO_SUPERUSER_EMAIL": "drill@example.com", "DJANGO_SUPERUSER_PASSWORD": "drill-password-42"},
        )
        assert filled.returncode == 0, filled.stderr
        yield db
    finally:
        with _admin_connect(db) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@needs_postgres
@pytest.mark.timeout(180, func_only=True)  # two real manage.py processes: ≈ 80 s on a loaded 2-core host
def test_restore_drill_brings_back_every_row(drill: Database, tmp_path: Path, key: str):
    before = _state(drill)
    assert before["count:accounts_user"] == 1
    assert before["count:personality_persona"] == 2
    assert before["count:personality_fact"] > 10

    made = _manage(drill, "backup", f"--dir={tmp_path}", env={"BACKUP_ENCRYPTION_KEY": key})
    assert made.returncode == 0, made.stderr
    [backup] = backup_files(tmp_path)
    assert backup.name.endswith(".pgdump.enc")
    assert "encrypted" in made.stdout
    assert backup.read_bytes().startswith(MAGIC)

    with psycopg.connect(host=drill.host, port=drill.port, user=drill.user, dbname=drill.name) as conn:
        conn.execute("DROP TABLE personality_fact CASCADE")
        conn.execute("DELETE FROM personality_styleexample")
        conn.execute("UPDATE accounts_user SET email = 'someone-else@example.com'")
    assert _state(drill) != before

    restored = _manage(drill, "restore", str(backup), "--yes", env={"BACKUP_ENCRYPTION_KEY": key})
    assert restored.returncode == 0, restored.stderr
    assert _state(drill) == before


@needs_postgres
@drill_timeout
def test_a_damaged_backup_is_refused_and_nothing_changes(drill: Database, tmp_path: Path):
    backup = backup_create(database=drill, directory=tmp_path, keep=5, fernet=None).path
    before = _state(drill)
    data = backup.read_bytes()
    backup.write_bytes(data[: len(data) // 2])  # cut in half, as a failed upload would

    with pytest.raises(BackupError, match="the backup is damaged, restore an older one"):
        backup_restore(path=backup, database=drill, fernet=None)

    assert _state(drill) == before


@needs_postgres
@drill_timeout
def test_a_wrong_key_is_named_and_nothing_changes(drill: Database, tmp_path: Path, key: str):
    backup = backup_create(database=drill, directory=tmp_path, keep=5, fernet=Fernet(key)).path
    before = _state(drill)

    with pytest.raises(BackupError, match="wrong key: BACKUP_ENCRYPTION_KEY does not decrypt this backup"):
        backup_restore(path=backup, database=drill, fernet=Fernet(Fernet.generate_key()))

    assert _state(drill) == before


@needs_postgres
@drill_timeout
def test_an_encrypted_backup_without_a_key_says_which_variable(drill: Database, tmp_path: Path, key: str):
    backup = backup_create(database=drill, directory=tmp_path, keep=5, fernet=Fernet(key)).path
    with pytest.raises(BackupError, match="set BACKUP_ENCRYPTION_KEY to the key it was made with"):
        backup_restore(path=backup, database=drill, fernet=None)


@needs_postgres
@drill_timeout
def test_a_tampered_encrypted_backup_is_refused(drill: Database, tmp_path: Path, key: str):
    backup = backup_create(database=drill, directory=tmp_path, keep=5, fernet=Fernet(key)).path
    data = backup.read_bytes()
    backup.write_bytes(data[:-1])
    before = _state(drill)
    with pytest.raises(BackupError, match="truncated"):
        backup_restore(path=backup, database=drill, fernet=Fernet(key))
    assert _state(drill) == before


@needs_postgres
@drill_timeout
def test_missing_pg_dump_names_the_package_and_writes_nothing(drill: Database, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "backups"
    with pytest.raises(BackupError, match=r"pg_dump was not found on PATH: .*apt-get install postgresql-client"):
        backup_create(database=drill, directory=out, keep=5, fernet=None)
    assert not out.exists()


@needs_postgres
@drill_timeout
def test_missing_pg_restore_changes_nothing(drill: Database, tmp_path: Path, monkeypatch):
    backup = backup_create(database=drill, directory=tmp_path, keep=5, fernet=None).path
    before = _state(drill)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BackupError, match="pg_restore was not found on PATH"):
        backup_restore(path=backup, database=drill, fernet=None)
    monkeypatch.undo()
    assert _state(drill) == before


@needs_postgres
@drill_timeout
def test_a_sqlite_backup_is_refused_for_postgresql(drill: Database, tmp_path: Path):
    source = tmp_path / "db.sqlite3"
    sqlite3.connect(source).execute("CREATE TABLE t (x)").connection.commit()
    backup = backup_create(
        database=Database(engine="sqlite", name=str(source)), directory=tmp_path / "b", keep=5, fernet=None
    ).path
    with pytest.raises(BackupError, match="is a SQLite backup but DATABASE_URL points at PostgreSQL"):
        backup_restore(path=backup, database=drill, fernet=None)


# --- SQLite, the embedded default -----------------------------------------------------------


def _sqlite_rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT id, note FROM notes ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    path = tmp_path / "live.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)")
    conn.executemany("INSERT INTO notes (note) VALUES (?)", [(f"note {i}",) for i in range(200)])
    conn.commit()
    conn.close()
    return Database(engine="sqlite", name=str(path))


def test_sqlite_backup_and_restore_round_trip_encrypted(sqlite_db: Database, tmp_path: Path, key: str):
    live = Path(sqlite_db.name)
    before = _sqlite_rows(live)
    result = backup_create(database=sqlite_db, directory=tmp_path / "b", keep=3, fernet=Fernet(key))
    assert result.path.name.endswith(".sqlite3.enc")
    assert result.encrypted
    conn = sqlite3.connect(live)
    conn.execute("DELETE FROM notes WHERE id > 10")
    conn.commit()
    conn.close()

    backup_restore(path=result.path, database=sqlite_db, fernet=Fernet(key))

    assert _sqlite_rows(live) == before


def test_a_damaged_sqlite_backup_leaves_the_database_alone(sqlite_db: Database, tmp_path: Path):
    live = Path(sqlite_db.name)
    backup = backup_create(database=sqlite_db, directory=tmp_path / "b", keep=3, fernet=None).path
    data = bytearray(backup.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page overwritten
    backup.write_bytes(bytes(data))
    before = _sqlite_rows(live)
    with pytest.raises(BackupError, match="the SQLite backup is damaged"):
        backup_restore(path=backup, database=sqlite_db, fernet=None)
    assert _sqlite_rows(live) == before


def test_retention_keeps_the_newest(sqlite_db: Database, tmp_path: Path):
    out = tmp_path / "b"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = [
        backup_create(database=sqlite_db, directory=out, keep=2, fernet=None, now=start + timedelta(hours=h)).path
        for h in range(4)
    ]
    assert backup_files(out) == made[-2:]


def test_a_file_that_is_no_backup_names_what_it_is(sqlite_db: Database, tmp_path: Path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(BackupError, match="is not a DigitalMe backup"):
        backup_restore(path=junk, database=sqlite_db, fernet=None)


def test_a_malformed_key_says_how_to_make_one(settings):
    settings.BACKUP_ENCRYPTION_KEY = "not-a-key"
    with pytest.raises(CommandError, match=r"not a valid Fernet key .*Fernet\.generate_key"):
        call_command("backup", "--dir=/nonexistent-never-written")


def test_restore_of_a_missing_file_changes_nothing(tmp_path: Path):
    with pytest.raises(CommandError, match=r"no such file.*Nothing was changed"):
        call_command("restore", str(tmp_path / "nope.pgdump"), "--yes")

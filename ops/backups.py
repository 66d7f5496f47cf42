"""Database backups and restores: pg_dump's custom format for PostgreSQL, SQLite's online `.backup`
for the embedded default, optional encryption, retention; used by `manage.py backup` / `restore`.

A restore never makes things worse: the file is decrypted and checked completely (pg_restore
--list reads the whole archive's table of contents; SQLite's integrity_check reads every page)
before the database is touched, and PostgreSQL restores in one transaction, so a failure halfway
leaves the database as it was.

Encrypted files are `MAGIC` + a sequence of (4-byte length, Fernet token) frames; each token's
plaintext is a 1-byte "last" flag, an 8-byte frame index and up to `CHUNK` bytes. Fernet (from
`cryptography`) authenticates every frame; the index and the last flag make reordering and
truncation detectable, and chunking keeps memory flat for big dumps.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import connections

from digitalme.errors import DomainError

MAGIC = b"DMBACKUP-FERNET1\n"
PG_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"
CHUNK = 4 * 1024 * 1024
NAME = re.compile(r"^digitalme-(\d{8}T\d{6}\d{6}Z)\.(pgdump|sqlite3)(\.enc)?$")
PG_CLIENT_FIX = "install the PostgreSQL client tools matching the server (Debian: apt-get install postgresql-client)"
KEY_HELP = (
    'generate one with `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"` '
    "and keep it outside the backup's storage"
)


class BackupError(DomainError):
    code = "backup_failed"


@dataclass(frozen=True)
class Database:
    """Where a backup comes from or goes to: Django's `DATABASES` entry, reduced to what the tools need."""

    engine: str  # "postgresql" or "sqlite"
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def from_settings(cls, alias: str = "default") -> Database:
        db: dict[str, Any] = connections[alias].settings_dict
        engine = "sqlite" if db["ENGINE"].endswith("sqlite3") else "postgresql"
        if engine == "postgresql" and not db["ENGINE"].endswith("postgresql"):
            raise BackupError(f"backups support PostgreSQL and SQLite, not {db['ENGINE']}")
        return cls(
            engine=engine,
            name=str(db["NAME"]),
            host=str(db.get("HOST") or ""),
            port=str(db.get("PORT") or ""),
            user=str(db.get("USER") or ""),
            password=str(db.get("PASSWORD") or ""),
        )

    @property
    def kind(self) -> str:
        return "pgdump" if self.engine == "postgresql" else "sqlite3"

    def pg_env(self) -> dict[str, str]:
        """The libpq environment: the password never appears on a command line or in `ps`."""
        env = {**os.environ, "PGDATABASE": self.name, "PGCONNECT_TIMEOUT": "10"}
        for key, value in (("PGHOST", self.host), ("PGPORT", self.port), ("PGUSER", self.user)):
            if value:
                env[key] = value
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    encrypted: bool
    removed: list[Path]


# --- keys and encryption ------------------------------------------------------------------------


def backup_key(value: str | None = None) -> Fernet | None:
    """The Fernet for BACKUP_ENCRYPTION_KEY (None when unset); a malformed key is a clear error."""
    key = settings.BACKUP_ENCRYPTION_KEY if value is None else value
    if not key:
        return None
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as exc:
        raise BackupError(f"BACKUP_ENCRYPTION_KEY is not a valid Fernet key ({exc}): {KEY_HELP}") from exc


def _encrypt(source: IO[bytes], target: IO[bytes], fernet: Fernet) -> None:
    target.write(MAGIC)
    index = 0
    chunk = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if chunk else b""
        last = not following
        token = fernet.encrypt(struct.pack(">?Q", last, index) + chunk)
        target.write(struct.pack(">I", len(token)) + token)
        if last:
            return
        chunk, index = following, index + 1


def _frames(source: IO[bytes]) -> Iterator[bytes]:
    while header := source.read(4):
        if len(header) < 4:
            raise BackupError("the encrypted backup is truncated (a frame header is cut off)")
        (length,) = struct.unpack(">I", header)
        token = source.read(length)
        if len(token) < length:
            raise BackupError("the encrypted backup is truncated (a frame is cut off)")
        yield token


def _decrypt(source: IO[bytes], target: IO[bytes], fernet: Fernet | None) -> None:
    if fernet is None:
        raise BackupError(
            "this backup is encrypted: set BACKUP_ENCRYPTION_KEY to the key it was made with, then run restore again"
        )
    index, last = -1, False
    for index, token in enumerate(_frames(source)):
        if last:
            raise BackupError("the encrypted backup has data after its last frame: it was tampered with")
        try:
            plain = fernet.decrypt(token)
        except InvalidToken as exc:
            if index == 0:
                raise BackupError(
                    "wrong key: BACKUP_ENCRYPTION_KEY does not decrypt this backup; "
                    "set it to the key that was in use when the backup was made"
                ) from exc
            raise BackupError(f"the encrypted backup is damaged (frame {index} fails authentication)") from exc
        last, frame_index = struct.unpack(">?Q", plain[:9])
        if frame_index != index:
            raise BackupError("the encrypted backup's frames are out of order: it was tampered with")
        target.write(plain[9:])
    if not last:
        raise BackupError("the encrypted backup is truncated (its last frame is missing)")


# --- tools ----------------------------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found on PATH: {PG_CLIENT_FIX}")
    return path


def _run(command: list[str], *, env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else f'exit code {result.returncode}'}")
    return result


# --- backup -------------------------------------------------------------------------------------


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def backup_files(directory: Path) -> list[Path]:
    """DigitalMe backups in a directory, oldest first (the name carries the UTC time)."""
    if not directory.is_dir():
        return []
    found = [(match.group(1), path) for path in directory.iterdir() if (match := NAME.match(path.name))]
    return [path for _, path in sorted(found)]


def backup_create(
    *,
    database: Database,
    directory: Path,
    keep: int,
    fernet: Fernet | None,
    now: datetime | None = None,
) -> BackupResult:
    """Dump the database into `directory` (encrypted when `fernet` is given), then keep the newest `keep`."""
    if keep < 1:
        raise BackupError("keep must be at least 1 (the backup just made)")
    if database.engine == "postgresql":
        pg_dump = _pg_tool("pg_dump")
    directory.mkdir(parents=True, exist_ok=True)
    name = f"digitalme-{_timestamp(now or datetime.now(UTC))}.{database.kind}" + (".enc" if fernet else "")
    final = directory / name
    with tempfile.TemporaryDirectory(dir=directory, prefix=".backup-") as work:
        plain = Path(work) / "plain"
        if database.engine == "postgresql":
            _run(
                [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={plain}"],
                env=database.pg_env(),
                what="pg_dump",
            )
        else:
            _sqlite_copy(Path(database.name), plain)
        if fernet is not None:
            sealed = Path(work) / "sealed"
            with plain.open("rb") as source, sealed.open("wb") as target:
                _encrypt(source, target, fernet)
            plain.unlink()
            plain = sealed
        plain.chmod(0o600)
        plain.replace(final)  # atomic: retention and restore never see half a backup
    removed = []
    for old in backup_files(directory)[:-keep]:
        old.unlink()
        removed.append(old)
    return BackupResult(path=final, size=final.stat().st_size, encrypted=fernet is not None, removed=removed)


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"the SQLite database {source} does not exist")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # SQLite's online backup: a consistent copy while others write
    finally:
        dst.close()
        src.close()


# --- restore ------------------------------------------------------------------------------------


def _check_sqlite(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the SQLite backup is damaged ({exc}): restore an older backup") from exc
    if not result or result[0] != "ok":
        raise BackupError(
            f"the SQLite backup is damaged ({result[0] if result else 'no result'}): restore an older backup"
        )


def backup_restore(*, path: Path, database: Database, fernet: Fernet | None) -> None:
    """Replace the database's contents with the backup's; checked completely before anything changes."""
    if database.engine == "postgresql":
        pg_restore = _pg_tool("pg_restore")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from exc
    with tempfile.TemporaryDirectory(prefix="dm-restore-") as work:
        plain = path
        if head == MAGIC:
            plain = Path(work) / "plain"
            with path.open("rb") as source, plain.open("wb") as target:
                source.seek(len(MAGIC))
                _decrypt(source, target, fernet)
            with plain.open("rb") as handle:
                head = handle.read(len(MAGIC))
        if head.startswith(PG_MAGIC):
            kind = "pgdump"
        elif head.startswith(SQLITE_MAGIC):
            kind = "sqlite3"
        else:
            raise BackupError(
                f"{path.name} is not a DigitalMe backup (neither a pg_dump archive nor a SQLite database, "
                "encrypted or not): check the file, or restore an older backup"
            )
        if kind != database.kind:
            raise BackupError(
                f"{path.name} is a {'PostgreSQL' if kind == 'pgdump' else 'SQLite'} backup but DATABASE_URL "
                f"points at {'PostgreSQL' if database.engine == 'postgresql' else 'SQLite'}: "
                "set DATABASE_URL to a database of the same kind"
            )
        if kind == "pgdump":
            env = database.pg_env()
            # --list reads the whole table of contents: a truncated or corrupt archive fails here.
            try:
                _run([pg_restore, "--list", str(plain)], env=env, what="reading the archive")
            except BackupError as exc:
                raise BackupError(f"{exc.detail}: the backup is damaged, restore an older one") from exc
            _run(
                [
                    pg_restore,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                    f"--dbname={database.name}",
                    str(plain),
                ],
                env=env,
                what="pg_restore (nothing was changed: it runs in one transaction)",
            )
        else:
            _check_sqlite(plain)
            _sqlite_restore(plain, Path(database.name))


def _sqlite_restore(source: Path, target: Path) -> None:
    connections.close_all()
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # page by page under one write lock: other connections see old or new, never half
    finally:
        dst.close()
        src.close()

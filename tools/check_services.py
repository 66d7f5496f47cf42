"""Fail fast, with the command to fix it, when PostgreSQL or Redis is not reachable for tests."""

import os
import sys

import environ
import psycopg
import redis

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


def main() -> int:
    failures = []
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith(("postgres://", "postgresql://")):
        db = environ.Env.db_url_config(database_url)
        try:
            psycopg.connect(
                host=db["HOST"] or "127.0.0.1",
                port=db["PORT"] or 5432,
                user=db["USER"],
                password=db["PASSWORD"] or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except psycopg.Error as exc:
            failures.append(
                f"PostgreSQL at {db['HOST']}:{db['PORT']} is not reachable ({exc}).\n  Start it with: {START_POSTGRES}"
            )
    else:
        failures.append(f"DATABASE_URL must point at PostgreSQL for `make test` (got {database_url!r}).")
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        failures.append("REDIS_URL must be set for `make test`.")
    else:
        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            failures.append(f"Redis at {redis_url} is not reachable ({exc}).\n  Start it with: {START_REDIS}")
    for failure in failures:
        print(f"make test: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

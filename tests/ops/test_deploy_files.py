"""The container deploy files, checked on every test run without a container runtime: the
Procfile's commands exist, deploy/procfile.sh runs exactly them, and the Dockerfile, compose.yaml
and render.yaml start only those entries or real management commands (docs/deployment.md tells how
the image was built and run with buildah)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

ROOT = Path(__file__).resolve().parent.parent.parent


def _procfile(name: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in (ROOT / name).read_text().splitlines() if re.match(r"^\w+: ", line))


PROCFILE = _procfile("Procfile")
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
RENDER = yaml.safe_load((ROOT / "render.yaml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
APP_SERVICES = ("release", "web", "worker", "telegram", "beat")


def _runs(command: list[str] | str) -> tuple[str, str]:
    """What a container command starts: ("procfile", entry) or ("manage", command name)."""
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:
        words = shlex.split(words[2].split("&& exec ", 1)[1])
    if words[0] == "deploy/procfile.sh":
        return "procfile", words[1]
    assert words[:2] == ["python", "manage.py"], words
    return "manage", words[2]


def _check_runs(command: list[str] | str) -> None:
    kind, name = _runs(command)
    if kind == "procfile":
        assert name in PROCFILE, f"Procfile has no {name!r} entry"
    else:
        assert name in get_commands(), f"no management command {name!r}"


def test_the_procfile_names_every_process_and_its_tools_exist():
    assert set(PROCFILE) == {"release", "web", "worker", "telegram", "beat"}
    commands = get_commands()
    for step in PROCFILE["release"].split("&&"):
        words = shlex.split(step)
        assert words[:2] == ["python", "manage.py"]
        assert words[2] in commands
        assert all((ROOT / arg).exists() for arg in words[3:] if "/" in arg)
    # glibc malloc: at most 2 arenas, not one per database thread (docs/QUALITY.md, web process memory)
    # daphne through digitalme/serve.py: without the TLS stack and httpx's CLI it never uses
    assert PROCFILE["web"].startswith("env MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} python -m digitalme.serve ")
    assert "digitalme.asgi:application" in PROCFILE["web"]
    assert "$PORT" in PROCFILE["web"]
    assert PROCFILE["worker"].startswith("celery -A digitalme worker")
    assert PROCFILE["telegram"].startswith("celery -A digitalme worker")
    assert PROCFILE["beat"].startswith("celery -A digitalme beat")
    assert "django_celery_beat.schedulers:DatabaseScheduler" in PROCFILE["beat"]


def test_procfile_sh_execs_the_named_entry(tmp_path: Path):
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "python $*"\necho "arenas=$MALLOC_ARENA_MAX"\n')
    fake.chmod(0o755)
    inherited = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    env = {**inherited, "PATH": f"{tmp_path}:{os.environ['PATH']}", "PORT": "8123"}
    result = subprocess.run(
        [str(ROOT / "deploy" / "procfile.sh"), "web"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    web_line, arenas = result.stdout.splitlines()
    assert web_line.startswith("python -m digitalme.serve -e tcp:port=8123:interface=0.0.0.0")
    assert web_line.endswith("digitalme.asgi:application")
    assert arenas == "arenas=2"


def test_procfile_sh_refuses_an_unknown_entry():
    result = subprocess.run([str(ROOT / "deploy" / "procfile.sh"), "nope"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 64
    assert "Procfile has no 'nope:' entry" in result.stderr


def test_dockerfile_is_multi_stage_non_root_with_healthcheck_and_static_at_build():
    stages = re.findall(r"^FROM \S+ AS (\w+)$", DOCKERFILE, re.MULTILINE)
    assert stages == ["build", "runtime"]
    build, runtime = DOCKERFILE.split("\nFROM ", 2)[1:]
    assert "manage.py collectstatic --noinput" in build
    assert "COPY --from=build /venv /venv" in runtime and "COPY --from=build /app /app" in runtime
    assert "build-essential" not in runtime
    user = re.search(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert user and user.group(1) not in ("root", "0")
    assert runtime.index("USER ") < runtime.index("CMD ")
    health = re.search(r"^HEALTHCHECK .*?CMD (.*?)$", runtime, re.MULTILINE | re.DOTALL)
    assert health and "/health/" in health.group(1)
    assert resolve("/health/").url_name is not None
    cmd = re.search(r"^CMD (\[.*\])$", runtime, re.MULTILINE)
    assert cmd and yaml.safe_load(cmd.group(1)) == ["deploy/procfile.sh", "web"]
    assert "postgresql-client" in runtime  # pg_dump / pg_restore for manage.py backup / restore


def test_dockerfile_copies_only_what_exists():
    for source in re.findall(r"^COPY (?!--from)(\S+) ", DOCKERFILE, re.MULTILINE):
        assert (ROOT / source).exists(), source


def test_compose_runs_the_stack_from_the_procfile():
    services = COMPOSE["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    for name in APP_SERVICES:
        _check_runs(services[name]["command"])
        assert services[name]["image"] == "digitalme:latest"
    assert services["web"]["depends_on"]["release"]["condition"] == "service_completed_successfully"
    assert services["release"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # one "host" for Prometheus multiprocess files: shared PID namespace and directory
    assert services["worker"]["pid"] == services["beat"]["pid"] == "service:web"
    env = services["web"]["environment"]
    assert "@postgres:5432/" in env["DATABASE_URL"] and env["REDIS_URL"].startswith("redis://redis:6379/")


def test_compose_monitoring_profile_mounts_files_that_exist():
    services = COMPOSE["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["job_name"] == "digitalme"  # alerts.yml's `up{job="digitalme"}`
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in services["prometheus"]["volumes"]


def test_compose_variables_are_documented_in_env_example():
    example = (ROOT / ".env.example").read_text()
    app_env = COMPOSE["services"]["web"]["environment"]
    compose_only = {"POSTGRES_PASSWORD"}
    for key, value in app_env.items():
        for variable in re.findall(r"\$\{(\w+)", str(value)):
            if variable not in compose_only:
                assert re.search(rf"^{variable}=", example, re.MULTILINE), f"{variable} missing from .env.example"
        assert key in compose_only or re.search(rf"^#? ?{key}=", example, re.MULTILINE), key


def test_render_blueprint_runs_procfile_entries_and_real_commands():
    services = {service["name"]: service for service in RENDER["services"]}
    kinds = {service["type"] for service in services.values()}
    assert {"web", "worker", "cron", "keyvalue"} <= kinds
    web = services["digitalme-web"]
    assert _runs(web["dockerCommand"]) == ("procfile", "web")
    assert _runs(web["preDeployCommand"]) == ("procfile", "release")
    assert resolve(web["healthCheckPath"]) is not None
    for service in services.values():
        if service["type"] in ("web", "worker", "cron"):
            _check_runs(service["dockerCommand"])
            assert (ROOT / service["dockerfilePath"]).exists()
    beat = [s for s in services.values() if s.get("dockerCommand") == "deploy/procfile.sh beat"]
    assert len(beat) == 1 and beat[0]["numInstances"] == 1
    assert _runs(services["digitalme-backup"]["dockerCommand"]) == ("manage", "backup")
    database_names = {db["name"] for db in RENDER["databases"]}
    groups = {group["name"] for group in RENDER["envVarGroups"]}
    for entry in web["envVars"]:
        if "fromDatabase" in entry:
            assert entry["fromDatabase"]["name"] in database_names
        if "fromService" in entry:
            assert entry["fromService"]["name"] in services
        if "fromGroup" in entry:
            assert entry["fromGroup"] in groups


@pytest.mark.parametrize("key", ["SECRET_KEY", "JWT_SIGNING_KEY"])
def test_render_generates_the_keys_production_refuses_to_start_without(key):
    [group] = RENDER["envVarGroups"]
    entry = next(e for e in group["envVars"] if e["key"] == key)
    assert entry.get("generateValue") is True


def test_procfile_sh_makes_a_single_command_the_process_itself(tmp_path: Path):
    fake = tmp_path / "celery"
    fake.write_text('#!/bin/sh\necho "pid $$"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    process = subprocess.Popen(
        [str(ROOT / "deploy" / "procfile.sh"), "worker"], env=env, stdout=subprocess.PIPE, text=True
    )
    out, _ = process.communicate(timeout=30)
    assert out.strip() == f"pid {process.pid}"  # no shell left in between to swallow SIGTERM


def _consumed_queues(command: str) -> set[str]:
    words = shlex.split(command)
    return set(words[words.index("-Q") + 1].split(",")) if "-Q" in words else set()


@pytest.mark.parametrize("procfile", ["Procfile", "Procfile.dev"])
def test_telegram_updates_have_a_worker_of_their_own_and_every_queue_a_consumer(procfile, settings):
    """A reply must not wait for a pool child behind a background job: Telegram updates go to a
    queue that only the `telegram` worker reads, and every queue a task can be sent to is read."""
    from digitalme.celery import app

    entries = _procfile(procfile)
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {app.conf.task_default_queue}
    consumed = {name: _consumed_queues(command) for name, command in entries.items() if " worker " in f"{command} "}

    assert consumed["telegram"] == {settings.TELEGRAM_QUEUE}
    assert settings.TELEGRAM_QUEUE not in consumed["worker"]
    assert set().union(*consumed.values()) == routed
    assert "-n telegram@%h" in entries["telegram"]  # two workers on one host need two node names


def test_a_worker_started_without_queues_reads_every_queue_a_task_is_sent_to(settings):
    """A stack that runs one plain `celery worker` (an older deployment, a test stack) must still
    answer Telegram: both queues are declared, so a worker without -Q consumes both."""
    from digitalme.celery import app

    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {app.conf.task_default_queue}

    assert {queue.name for queue in settings.CELERY_TASK_QUEUES} == routed
    assert routed <= set(app.amqp.queues)  # (tests that start a worker on a queue of their own add theirs)
    assert app.amqp.router.route({}, "telegram_bot.update_process")["queue"].name == settings.TELEGRAM_QUEUE

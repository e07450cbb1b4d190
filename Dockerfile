# syntax=docker/dockerfile:1
# livc's container image: `livc serve` by default; the same image runs `livc worker [queues]`,
# `livc cron`, `livc relay`, `livc migrate` and `livc custodian serve` (helm/livc runs each as
# its own workload).
#
#   docker build -t livc:0.1.0 .
#
# Stages: the stylesheet (node), the wheel and its venv (scripts/build-venv.sh: the wheel
# compiles the translation catalogues in its build and ships the stylesheet), and the runtime:
# the venv alone on python slim, no compilers, no node, a fixed non-root user (10001:10001),
# fit for a read-only root filesystem (writable: /tmp, and the data dir as a volume).
#
# tests/test_wheel.py runs these same steps on the same context (.dockerignore) and starts
# web, worker, cron and the custodian from the venv they make.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- 1. The pages' stylesheet: GOV.UK Frontend compiled with livc's settings ------------------
FROM ${NODE_IMAGE} AS frontend
WORKDIR /src
COPY scripts/build-frontend.sh scripts/
COPY platform/frontend/ platform/frontend/
RUN bash scripts/build-frontend.sh

# --- 2. The wheel, installed with its dependencies into /opt/livc ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY . .
COPY --from=frontend /src/platform/static/build/ platform/static/build/
RUN bash scripts/build-venv.sh /opt/livc /dist

# --- 3. The runtime ----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG LIVC_UID=10001
ARG LIVC_GID=10001
LABEL org.opencontainers.image.title="livc" \
      org.opencontainers.image.description="Platform for Belgian local integrated security cells (LIVC-R)"
RUN groupadd --system --gid "${LIVC_GID}" livc \
    && useradd --system --uid "${LIVC_UID}" --gid "${LIVC_GID}" --home-dir /tmp --no-create-home \
       --shell /usr/sbin/nologin livc \
    && install -d -o "${LIVC_UID}" -g "${LIVC_GID}" -m 0700 /var/lib/livc /var/lib/livc-custodian
COPY --from=build /opt/livc /opt/livc
# HOME and TMPDIR on /tmp: gunicorn's files and any temporary file go there (an emptyDir or
# tmpfs), never to the read-only root. The bytecode was compiled at install time.
ENV PATH=/opt/livc/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LIVC_DATA_DIR=/var/lib/livc \
    LIVC_HOST=0.0.0.0 \
    LIVC_PORT=8000 \
    LIVC_CUSTODIAN_DATA_DIR=/var/lib/livc-custodian \
    LIVC_CUSTODIAN_HOST=0.0.0.0
USER ${LIVC_UID}:${LIVC_GID}
WORKDIR /tmp
VOLUME ["/var/lib/livc", "/tmp"]
# web (LIVC_PORT), metrics (LIVC_METRICS_PORT, when set), the key custodian (its own image use).
EXPOSE 8000 9100 5100
# The web process's liveness. Other commands: `docker run --no-healthcheck`, or point
# LIVC_HEALTHCHECK_URL elsewhere (the custodian: http://127.0.0.1:5100/healthz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('LIVC_HEALTHCHECK_URL') or 'http://127.0.0.1:%s/healthz' % os.environ.get('LIVC_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["livc"]
CMD ["serve"]

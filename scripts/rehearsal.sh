#!/usr/bin/env bash
# Fault rehearsal (issue 20): the production shape on this machine (its own PostgreSQL cluster
# and Redis server on free ports, the key custodian, livc serve, worker and cron), a scripted
# day of two linked cells' work over HTTP with the worker, Redis, the custodian and PostgreSQL
# killed and restarted on the way; prints expected against delivered (mails, enrolments, match
# alerts, audit entries), lost and duplicated, and any 5xx other than 503.
# Arguments go to benchmarks/rehearsal.py (--check, --keep, --settle SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" benchmarks/rehearsal.py "$@"

"""The federation listens to the cases domain: a case followed is enrolled, a case no longer
followed (closed, erased) leaves the index. Cases never call the federation; the app factory
connects these receivers once (:func:`connect`, idempotent). Each receiver sees the case that
sent the event only as :func:`livc.tenants.cases.reading.federated` shows it."""

from __future__ import annotations

from livc.federation import enrolment
from livc.tenants.cases import events
from livc.tenants.cases.reading import federated


def _enrol(case, **_details) -> None:
    enrolment.request_enrolment(federated(case))


def _closed(case, **_details) -> None:
    enrolment.remove_enrolment(federated(case), "closed")


def _erased(case, **_details) -> None:
    enrolment.remove_enrolment(federated(case), "erased")


def connect() -> None:
    """Subscribe the federation to the cases' events (connecting twice changes nothing)."""
    events.case_became_active.connect(_enrol)
    events.case_identity_changed.connect(_enrol)
    events.case_closed.connect(_closed)
    events.case_erased.connect(_erased)

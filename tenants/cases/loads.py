"""What a case address names, loaded for ``guard(..., load=...)`` by the pages and the API alike.

Each loader answers 404 for an id that does not exist, that belongs to another cell (the ORM
and row-level security hide it), or whose record belongs to another case, so that probing ids
teaches nothing. A sub-record is put in ``g`` under its name; the case is the guarded resource.
"""

from __future__ import annotations

from flask import g
from werkzeug.exceptions import NotFound

from livc.platform.db import db
from livc.tenants.cases.models import Case, LtfFeedback
from livc.tenants.cases.operations import (
    find_case,
    find_feedback,
    find_measure,
    find_note,
    find_review,
    find_team_member,
)


def _found(record):
    if record is None:
        raise NotFound()
    return record


def load_case(case_id: int) -> Case:
    return _found(find_case(case_id))


def _part_of_case(case_id: int, finder, record_id: int, name: str) -> Case:
    case = load_case(case_id)
    setattr(g, name, _found(finder(case, record_id)))
    return case


def load_team_member_case(case_id: int, team_member_id: int) -> Case:
    return _part_of_case(case_id, find_team_member, team_member_id, "team_member")


def load_measure_case(case_id: int, measure_id: int) -> Case:
    return _part_of_case(case_id, find_measure, measure_id, "measure")


def load_note_case(case_id: int, note_id: int) -> Case:
    return _part_of_case(case_id, find_note, note_id, "note")


def load_review_case(case_id: int, review_id: int) -> Case:
    return _part_of_case(case_id, find_review, review_id, "review")


def load_feedback_case(case_id: int, feedback_id: int) -> Case:
    return _part_of_case(case_id, find_feedback, feedback_id, "feedback")


def load_any_feedback(feedback_id: int) -> LtfFeedback:
    """A feedback form of the cell. Whether it was released is the view's question, after the
    policy's: those who may not read police information are refused alike for a draft and a
    released form."""
    return _found(db.session.get(LtfFeedback, feedback_id))

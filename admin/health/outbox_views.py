"""The development outbox: the mails written to ``LIVC_DATA_DIR/mail`` instead of being sent.

Only in development (the embedded default) or in a test that enables it
(``LIVC_OUTBOX_PAGE`` in the app's config); always 404 in production, and 404 too where
``LIVC_SMTP_URL`` sends mail for real (then nothing is written here).
"""

from __future__ import annotations

import re
from datetime import datetime
from email import policy
from email.parser import BytesParser

from flask import render_template
from werkzeug.exceptions import NotFound

from livc.admin.access import development_only, operator_guard
from livc.admin.web import blueprint
from livc.platform.mail import outbox_folder
from livc.platform.policy import OperatorAction

_NAME = re.compile(r"^\d{8}T\d{12}\.eml$")


def _read(path) -> dict:
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    body = message.get_body(preferencelist=("plain",))
    return {
        "name": path.name,
        "to": str(message["To"] or ""),
        "subject": str(message["Subject"] or ""),
        "date": datetime.strptime(path.name[:15], "%Y%m%dT%H%M%S"),  # written at (UTC), as the file is named
        "body": body.get_content() if body is not None else "",
    }


def outbox_mails() -> list[dict]:
    folder = outbox_folder()
    if not folder.is_dir():
        return []
    return [_read(path) for path in sorted(folder.glob("*.eml"), reverse=True) if _NAME.match(path.name)]


@blueprint.get("/outbox")
@development_only
@operator_guard(OperatorAction.OUTBOX_VIEW)
def outbox():
    return render_template("admin/outbox.html", mails=outbox_mails())


@blueprint.get("/outbox/<name>")
@development_only
@operator_guard(OperatorAction.OUTBOX_VIEW)
def outbox_mail(name: str):
    path = outbox_folder() / name
    if not _NAME.match(name) or not path.is_file():
        raise NotFound()
    return render_template("admin/outbox_mail.html", mail=_read(path))

"""Outgoing e-mail: rendered in the recipient's language, delivered by a job.

Mails go to members (invitations, password resets, later alerts), never carry personal data
of the people a cell discusses, and are handed to a job on the ``mail`` queue so that a slow
or unreachable mail server never holds up a request. A mail the server refuses or cannot take
is tried again for about a day (RQ's retries, then further rounds from the job outbox:
``MAIL_ROUNDS``) before it is failed and listed on the operator console. With
``LIVC_SMTP_URL`` unset (development and the demo) each mail is written as an ``.eml`` file
under ``LIVC_DATA_DIR/mail`` instead.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale

from livc.platform.jobs import MAIL_ROUNDS, enqueue, task
from livc.platform.timeutil import utcnow

log = logging.getLogger(__name__)


def render_mail(name: str, locale: str, **context) -> tuple[str, str]:
    """Subject and plain-text body of ``mail/<name>.txt`` in ``locale``.

    The template's first line is the subject, the rest after a blank line is the body.
    """
    with force_locale(locale):
        text = render_template(f"mail/{name}.txt", **context)
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def send_mail(to: str, subject: str, body: str, *, tenant_id: int | None = None) -> None:
    """Send once the caller's transaction commits (dropped if it rolls back)."""
    enqueue(deliver_mail, to, subject, body, tenant_id=tenant_id)


def outbox_folder() -> Path:
    return current_app.extensions["livc.settings"].data_dir / "mail"


@task(queue="mail", rounds=MAIL_ROUNDS)
def deliver_mail(to: str, subject: str, body: str) -> str:
    settings = current_app.extensions["livc.settings"]
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="livc")
    message.set_content(body)
    if settings.smtp_url is None:
        folder = outbox_folder()
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        path = folder / f"{utcnow():%Y%m%dT%H%M%S%f}.eml"
        # 0600 whatever the umask: the mail carries an invitation or reset link.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(bytes(message))
        log.info("mail written to the development outbox (%s)", path.name)
        return path.name
    _smtp_send(settings.smtp_url, message)
    return message["Message-ID"]


def _smtp_send(url: str, message: EmailMessage) -> None:
    parts = urlsplit(url)
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=30, context=context)
    else:
        client = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=30)
    with client:
        if parts.scheme == "smtp":
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)

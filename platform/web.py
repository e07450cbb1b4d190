"""The shared web layer: one transaction per request, errors, security headers, health."""

from __future__ import annotations

import enum
import functools
import ipaddress
import logging
import re
import uuid
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import sqlalchemy as sa
from blinker import Namespace
from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.globals import request_ctx
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from livc.platform import audit, inputs, metrics
from livc.platform.api import STALE_EDIT
from livc.platform.browsers import ServerSessions
from livc.platform.db import EditConflict, db, leave_tenant
from livc.platform.jobs import redis_connection
from livc.platform.logs import describe_error
from livc.platform.policy import public
from livc.platform.rls import role_problem
from livc.platform.tenancy import cells_matching

log = logging.getLogger(__name__)

#: The kernel's folder: the app's root path (shared templates, static files, translations).
ROOT = Path(__file__).resolve().parent

blueprint = Blueprint("platform", __name__)

#: A request outside any cell refused for want of a valid CSRF token (sender: the blueprint's
#: name, ``endpoint=`` the endpoint); sent after the request's own work was rolled back.
csrf_refused = Namespace().signal("csrf-refused")
csrf = CSRFProtect()

_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")

ERROR_TEXTS = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    401: (_l("Sign-in required"), _l("Sign in to continue.")),
    403: (_l("Access refused"), _l("You do not have access to this page.")),
    404: (_l("Page not found"), _l("There is no page at this address.")),
    405: (_l("Method not allowed"), _l("This page does not accept that kind of request.")),
    422: (_l("Some fields need attention"), _l("Please correct the fields marked.")),
    409: (_l("Changed in the meantime"), _l(
        "Someone else did this or changed it at the same moment. Nothing you sent was saved: reload the page "
        "to see the current state, then try again if it is still needed."
    )),
    410: (_l("Link no longer valid"), _l("This link has expired or was already used.")),
    413: (_l("Request too large"), _l("What you sent is larger than the platform accepts.")),
    415: (_l("Unsupported content"), _l("The platform does not accept this kind of content.")),
    429: (_l("Too many requests"), _l("Please wait a moment before trying again.")),
    500: (_l("Something went wrong"), _l("The error was logged. Nothing you sent was saved.")),
    503: (
        _l("Temporarily unavailable"),
        _l("The platform cannot reach its database right now. Nothing was saved; try again shortly."),
    ),
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def init_app(app: Flask) -> None:
    inputs.init_app(app)  # before any route is added: its int converter then bounds every id
    app.session_interface = ServerSessions()  # the cookie: one opaque token (livc.platform.browsers)
    # A URL value preprocessor runs before any blueprint's (the tenant is resolved in one), so
    # even a refusal of an unknown cell carries its request id.
    app.url_value_preprocessor(_assign_request_id)
    metrics.init_app(app)  # request latency per endpoint, when LIVC_METRICS_PORT is set
    app.after_request(_finish_transaction)
    app.after_request(_security_headers)
    app.teardown_request(_leave_tenant)
    csrf.init_app(app)  # every POST, PUT, PATCH and DELETE, forms and JSON alike
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(sa.exc.DBAPIError, _database_error)
    app.register_error_handler(psycopg.OperationalError, _database_unavailable)
    app.register_error_handler(sa.exc.IntegrityError, _integrity_error)
    app.register_error_handler(StaleDataError, _edit_conflict)
    app.register_error_handler(EditConflict, _edit_conflict)
    app.register_error_handler(Exception, _unexpected_error)
    app.log_exception = _logged_by_the_error_handlers
    app.register_blueprint(blueprint)


def _logged_by_the_error_handlers(_exc_info) -> None:
    """Flask logs an error raised outside a view before handling it; the handlers below log
    it themselves, once and by type and place."""


def _assign_request_id(_endpoint=None, _values=None) -> None:
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex


def client_address() -> str:
    """The address of the person's machine, for rate limits.

    Behind the ingress every request comes from a proxy, and each proxy appends the address it
    saw to ``X-Forwarded-For``; whatever the client sent stands to the left of those. The
    header is believed only when the peer is a proxy listed in ``LIVC_FORWARDED_ALLOW_IPS``
    (addresses or networks; the same setting gunicorn uses for the scheme), and then read from
    the right: trusted proxies' own addresses are skipped, and the first address that is not a
    trusted proxy is the client. Entries further left were written by the client: never used.
    """

    peer = request.remote_addr or "unknown"
    trusted = trusted_proxies(current_app.extensions["livc.settings"].forwarded_allow_ips)
    if not _is_trusted(peer, trusted):
        return peer
    hops = ",".join(request.headers.getlist("X-Forwarded-For")).split(",")
    nearest = peer
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop.strip())
        except ValueError:
            return nearest  # not written by a trusted proxy: the last proxy we believe is all we know
        if not any(address in network for network in trusted):
            return str(address)
        nearest = str(address)
    return nearest


@functools.lru_cache(maxsize=8)
def trusted_proxies(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``LIVC_FORWARDED_ALLOW_IPS`` as networks (a single address is a network of one)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in setting.split(",") if entry.strip())


def _is_trusted(peer: str, trusted) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def after_refusal(callback) -> None:
    """Run ``callback`` after this request's work was rolled back, in a transaction of its own.

    A refused request changes nothing, except what records the refusal: the audit entry of a
    denied access, the count of failed sign-ins. Those go here. On success they run too.
    """
    g.setdefault("after_refusal", []).append(callback)


def _finish_transaction(response):
    """Commit what a successful request did, roll back anything else: never half-written."""
    if response.status_code < 400:
        _run_recorders()
        db.session.commit()
    else:
        db.session.rollback()
        if g.get("after_refusal"):
            _run_recorders()
            db.session.commit()
    return response


def _run_recorders() -> None:
    for callback in g.pop("after_refusal", []):
        callback()


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not (request.endpoint or "").endswith("static"):
        # Pages and answers may carry members' addresses, case content, CSRF tokens: no browser
        # or proxy keeps them. Static files (and answers that set their own policy) are cached.
        response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if hasattr(g, "request_id"):
        response.headers["X-Request-ID"] = g.request_id
    return response


def _leave_tenant(_error=None) -> None:
    token = g.pop("tenant_token", None)
    if token is not None:
        leave_tenant(token)


def local_target(target: str | None, default: str, prefix: str) -> str:
    """``target`` when it is a local path under ``prefix``, else ``default``: no open redirects
    (no scheme or host, no protocol-relative ``//`` or backslash tricks), and no control
    characters (a CR or LF would split the ``Location`` header and end the sign-in in a 500)."""
    if not target or _CONTROL_CHARACTER.search(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//") or "\\" in target:
        return default
    if not parts.path.startswith(prefix):
        return default
    return target


def wants_json() -> bool:
    if request.is_json or "/api/" in request.path or request.path.endswith(("/healthz", "/readyz")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, message: str | None = None):
    title, default_message = ERROR_TEXTS.get(status, ERROR_TEXTS[500])
    text = str(message or default_message)
    if wants_json():
        response = jsonify(error={"status": status, "title": str(title), "message": text})
    else:
        response = make_response(render_template("error.html", status=status, title=title, message=text))
    response.status_code = status
    return response


def _http_error(error: HTTPException):
    db.session.rollback()
    if getattr(error, "messages", None) is not None:  # field-level answers carry their own body
        return error.get_response()
    # A description we set ourselves is shown; werkzeug's English defaults are replaced by ours.
    own = error.description if error.description != type(error).description else None
    response = error_response(error.code or 500, own)
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _csrf_error(error: CSRFError):
    """A state-changing request without a valid token: refused, changes nothing, audited.

    In a cell it goes to the cell's trail; elsewhere the blueprint's owner records it through
    :data:`csrf_refused` (the operator console writes its own trail).
    """
    db.session.rollback()
    endpoint, blueprint = request.endpoint, request.blueprint
    if getattr(g, "tenant", None) is not None:
        after_refusal(lambda: audit.record("access.csrf_refused", details={"endpoint": endpoint}))
    elif blueprint is not None:
        after_refusal(lambda: csrf_refused.send(blueprint, endpoint=endpoint))
    return error_response(400, _l("This form has expired or did not come from this site. Reload the page and try again."))


def _internal_error(error: InternalServerError):
    """Errors raised outside a view (opening the browser session, a failing commit after the
    view returned) land here."""
    original = error.original_exception
    if database_lost(original):
        return _database_unavailable(original)
    if isinstance(original, sa.exc.IntegrityError):
        return _integrity_error(original)
    if isinstance(original, StaleDataError | EditConflict) or clashed(original):
        return _edit_conflict(original)
    if original is not None:
        return _unexpected_error(original)
    return _http_error(error)


#: Seconds a client is asked to wait after a 503 for a lost database (a restart or fail-over).
RETRY_AFTER_SECONDS = 15


def database_lost(error: BaseException | None) -> bool:
    """The database cannot be reached or dropped the connection (a restart, a fail-over, a
    terminated backend), as opposed to a statement it refused."""
    if clashed(error):
        return False
    if isinstance(error, sa.exc.DBAPIError):
        return error.connection_invalidated or isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError)
    return isinstance(error, psycopg.OperationalError)


#: PostgreSQL's answers to two transactions that waited on each other: one is rolled back.
_CLASHES = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def clashed(error: BaseException | None) -> bool:
    """The database rolled this request's transaction back because another one, running at the
    same moment, needed what it held (a deadlock): nothing was saved, and trying again works."""
    if isinstance(error, sa.exc.DBAPIError):
        error = error.orig
    return isinstance(error, _CLASHES)


def _database_error(error: sa.exc.DBAPIError):
    if clashed(error):
        return _edit_conflict(error)
    return _database_unavailable(error) if database_lost(error) else _unexpected_error(error)


def _database_unavailable(error: Exception):
    """503 with ``Retry-After`` when the database is gone; the next request reconnects.

    The answer is built without the database: its texts first (the cell loaded for this
    request is still readable), then the broken connections are rolled back and dropped from
    the pool, and the page is the shell-less ``unavailable.html`` (the shell's menus read the
    database). One log line, by type and place.
    """
    if not g.get("request_id"):  # lost while opening the browser session, before routing
        _assign_request_id()
    status = ServiceUnavailable.code
    title, message, back = _texts_without_database(status)
    language = _language_without_database()
    _discard_broken_connections()
    log.error("database unavailable: %s", describe_error(error))
    # Opening the browser session reads the database: when that failed, Flask (3.1) has no
    # session to finish the request with. A null one, so the person's cookie is left alone.
    if getattr(request_ctx, "_session", "opened") is None:
        request_ctx._session = current_app.session_interface.make_null_session(current_app)  # noqa: SLF001
    if wants_json():
        response = jsonify(error={"status": status, "title": title, "message": message})
    else:
        response = make_response(current_app.jinja_env.get_template("unavailable.html").render(
            status=status, title=title, message=message, request_id=g.get("request_id"),
            language=language, start_page=url_for("platform.home"), back=back,
            stylesheet=url_for("static", filename="build/livc.css"),
        ))
    response.status_code = status
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _texts_without_database(status: int) -> tuple[str, str, str]:
    texts = (*ERROR_TEXTS[status], _l("Back to the start page"))
    try:
        return tuple(str(text) for text in texts)
    except Exception:  # the page's language needed the database: the platform's default
        with force_locale(current_app.extensions["livc.settings"].default_locale):
            return tuple(str(text) for text in texts)


def _language_without_database() -> str:
    try:
        return str(get_locale())
    except Exception:  # as above
        return current_app.extensions["livc.settings"].default_locale


def _discard_broken_connections() -> None:
    try:
        db.session.rollback()
    except Exception:  # an invalidated connection may fail even to roll back
        log.warning("rollback failed after losing the database")
    db.engine.dispose()  # pooled connections to the lost server: the next request opens new ones


def _is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    code = getattr(error.orig, "sqlstate", None)  # psycopg
    if code is not None:
        return code == "23505"
    return str(error.orig).startswith("UNIQUE constraint failed")  # sqlite3


def _integrity_error(error: sa.exc.IntegrityError):
    """The last line behind the row locks: two requests that both passed their checks (a double
    submit) and met on a unique constraint. The loser is told (409), the transaction rolled back;
    any other integrity error is a bug and stays a 500."""
    if not _is_unique_violation(error):
        return _unexpected_error(error)
    db.session.rollback()
    log.info("refused as done already: unique constraint (request %s)", g.get("request_id"))
    return error_response(409)


def _edit_conflict(error: Exception):
    """An edit made on a version someone else changed since (or a row changed under a flush): 409,
    in the API with the fields that now differ and their current values and version."""
    db.session.rollback()
    if isinstance(error, EditConflict) and wants_json():
        response = jsonify(error={
            "status": 409, "title": str(ERROR_TEXTS[409][0]), "message": str(STALE_EDIT),
            "version": error.version, "current": {name: _as_json(value) for name, value in error.current.items()},
        })
        response.status_code = 409
        return response
    return error_response(409, STALE_EDIT if isinstance(error, EditConflict) else None)


def _as_json(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _unexpected_error(error: Exception):
    try:
        db.session.rollback()
    except Exception:  # a broken connection must not hide the original error page
        log.warning("rollback failed after an error")
    log.error("unhandled error: %s", describe_error(error))
    return error_response(InternalServerError.code)


@blueprint.app_context_processor
def _shell_defaults() -> dict:
    """What the shell (base.html) shows when the part serving the page adds nothing: no menu, no
    account, the platform's start page as home."""
    return {"service_navigation": None, "home_url": None, "home_label": "", "home_endpoints": (),
            "account_label": None, "account_url": None, "sign_out_url": None, "cell_theme_url": None,
            "console_name": None}


@blueprint.get("/")
@public
def home():
    """The platform's start page: a visitor finds their cell by a municipality's name (in any of
    the country's languages) or the cell's, and follows the link to its sign-in."""
    query = request.args.get("q", "").strip()[:100]
    return render_template("home.html", query=query, cells=cells_matching(query) if query else None)


@blueprint.get("/accessibility")
@public
def accessibility():
    return render_template("accessibility.html")


@blueprint.get("/privacy")
@public
def privacy():
    return render_template("privacy.html")


@blueprint.get("/favicon.ico")
@public
def favicon():
    # Browsers ask for it at the root whatever the page says; never let it reach tenant routing.
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@blueprint.get("/robots.txt")
@public
def robots():
    # Nothing here is for search engines, cells' addresses included.
    return "User-agent: *\nDisallow: /\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@blueprint.get("/healthz")
@public
def healthz():
    """Liveness: the process answers. Touches nothing else."""
    return jsonify(status="ok")


def database_check() -> str:
    """``ok``, ``unreachable``, or why the app's database role would defeat row-level security
    (readiness, and the operator console's health page)."""

    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            problem = role_problem(connection)
    except sa.exc.SQLAlchemyError as error:
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        return "unreachable"
    return problem or "ok"


@blueprint.get("/readyz")
@public
def readyz():
    """Readiness: the database (and Redis, where configured) answer, and isolation holds."""


    checks: dict[str, str] = {"database": database_check()}
    failing: list[str] = []
    if checks["database"] != "ok":
        failing.append("database")
    settings = current_app.extensions["livc.settings"]
    if settings.redis_url:
        try:
            redis_connection(settings.redis_url).ping()
            checks["redis"] = "ok"
        except Exception as error:  # redis-py raises several unrelated types
            log.warning("readiness: redis unreachable (%s)", type(error).__name__)
            checks["redis"] = "unreachable"
            failing.append("redis")
    else:
        checks["redis"] = "not configured (jobs run inline)"
    if failing:
        reason = "; ".join(f"{name}: {checks[name]}" for name in failing)
        return jsonify(status="unavailable", reason=reason, checks=checks), 503
    return jsonify(status="ready", checks=checks)

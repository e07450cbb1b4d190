"""Languages: Dutch first, French and English too; each tenant limits to its working languages.

The chosen language is kept in a cookie (set by ``/language/<code>``); without a choice the
browser's preferences decide among the languages on offer, then the tenant's main language.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context, redirect, request
from flask_babel import Babel, format_date, format_time, get_locale
from werkzeug.exceptions import NotFound

from livc.platform.policy import public
from livc.platform.settings import LANGUAGES

COOKIE = "livc_lang"
LANGUAGE_NAMES = {"nl": "Nederlands", "fr": "Français", "de": "Deutsch", "en": "English"}
TRANSLATIONS = Path(__file__).parent / "translations"

babel = Babel()


def offered_languages() -> list[str]:
    """The languages this page may be shown in: the tenant's working languages, or all."""
    tenant = getattr(g, "tenant", None)
    return list(tenant.languages) if tenant is not None else list(LANGUAGES)


def select_locale() -> str:
    offered = offered_languages()
    chosen = request.cookies.get(COOKIE)
    if chosen in offered:
        return chosen
    preferred = request.accept_languages.best_match(offered)
    if preferred:
        return preferred
    default = current_app.extensions["livc.settings"].default_locale
    return default if default in offered else offered[0]


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = app.extensions["livc.settings"].default_locale
    babel.init_app(app, locale_selector=select_locale)
    app.add_url_rule("/language/<code>", "set_language", set_language, methods=["GET"])

    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")

    @app.context_processor
    def _language_switch():
        return {
            "current_language": str(get_locale()),
            "offered_languages": [(code, LANGUAGE_NAMES[code]) for code in offered_languages()],
        }


@public
def set_language(code: str):
    """Remember the language choice and go back to the page (same site only)."""
    if code not in LANGUAGES:
        raise NotFound()
    target = request.args.get("next", "/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target)
    response.set_cookie(
        COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


#: Where the cells are: every time a page shows is Belgian time.
BELGIAN_TIME = ZoneInfo("Europe/Brussels")


def when(value: datetime | None, style: str = "medium") -> str:
    """A stored moment (naive UTC) as a page shows it: the date in the reader's language, one
    format per language (Babel's), and the time of day in Belgian time ("6 dec. 2026 14:05")."""
    if value is None:
        return "—"
    local = value.replace(tzinfo=ZoneInfo("UTC")).astimezone(BELGIAN_TIME) if value.tzinfo is None else value.astimezone(BELGIAN_TIME)
    return f"{format_date(local.date(), style)} {format_time(local.time(), 'short')}"


def day(value: date | datetime | None, style: str = "medium") -> str:
    """A date as a page shows it, one format per language (Babel's); a stored moment (naive UTC)
    counts on its Belgian day."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = (value.replace(tzinfo=ZoneInfo("UTC")) if value.tzinfo is None else value).astimezone(BELGIAN_TIME).date()
    return format_date(value, style)


def translated(text) -> str:
    """``text`` (a lazy text, or a plain string) in the reader's language, looked up once per
    request and language: a list of fifty rows shows the same few labels fifty times, and each
    lazy text would look its translation up again (a third of a list answer's time). The text
    is kept beside its translation, so its ``id`` is not reused within the request."""
    if isinstance(text, str) or not has_request_context():
        return str(text)
    cache = g.setdefault("livc_translated", {})
    key = (id(text), get_locale())
    kept = cache.get(key)
    if kept is None:
        kept = cache[key] = (text, str(text))
    return kept[1]

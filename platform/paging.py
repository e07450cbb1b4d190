"""Lists answered one page at a time, at the same cost on page 1 and page 1,000.

A list page or an API list reads its page from the query string with :func:`page_args`
(``?per_page=`` 1 to :data:`MAX_PER_PAGE`, default :data:`PER_PAGE`; ``?after=`` or ``?before=``
a cursor) and hands its SQLAlchemy select, with its filters already in the ``WHERE``, to
:func:`keyset_page` with the keys it is sorted on::

    args = page_args(request.args)                       # BadPage (400) for a wrong value
    page = keyset_page(select(Case).where(...), [Key(open_first), Key(Case.code), Key(Case.id)],
                       args, scope="cases")
    page.items, page.next_url, page.previous_url          # the macro ``pagination`` draws the links

**Keyset, not offset.** The next page is "the rows after the last one shown, in the list's
order" (``WHERE (k1, k2, id) > (:v1, :v2, :id) ORDER BY k1, k2, id LIMIT n + 1``), which an index
on the keys answers without reading the rows before it; ``OFFSET 40000`` reads and throws away
40,000 rows. The last key must make the order total (the id); keys must never be NULL (wrap a
nullable column in ``coalesce``). One row more than the page is read to know whether another
page follows, so no ``COUNT(*)`` runs unless asked (``count=True``: only for lists whose size
is bounded). :func:`offset_page` (``?page=``) remains for short, bounded lists.

**Cursors are opaque and signed** with the app's secret (salted with the list's ``scope``): a
client can neither read the keys of a row it was not shown nor forge a cursor, and a cursor of
one list is refused by another. A cursor that does not verify raises :class:`BadPage` (an HTTP
400 with a message saying to start again from the first page); the pages show that message with
the first page, the API answers it (never a 500).

**Answers.** :func:`page_answer` gives an API answer's keys: the items under their envelope,
unchanged (a client reading ``{"cases": [...]}`` still does) and ``next``, the path of the next
page or ``null``. :class:`PageQuery` is the query string's schema for ``documented(query=...)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, Mapping, Sequence, TypeVar

import sqlalchemy as sa
from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import BadRequest

from livc.platform.db import db

#: Rows on a page unless ``?per_page=`` says otherwise, and the most it may say.
PER_PAGE = 50
MAX_PER_PAGE = 200
#: The longest cursor accepted: a few keys, signed (anything longer is not one of ours).
MAX_CURSOR = 500

T = TypeVar("T")

BAD_CURSOR = _l("This page link is no longer valid (or was changed). The list starts again from its first page.")
BAD_PAGE_NUMBER = _l("A page number is a whole number from 1.")


class BadPage(BadRequest):
    """A page asked for with a wrong value: 400, with what to do about it."""

    def __init__(self, message: Any, field_name: str = "after"):
        super().__init__(message)  # kept lazy: rendered in the reader's language
        self.field_name = field_name


@dataclass(frozen=True)
class Key:
    """One key a list is sorted on: a column or SQL expression, ascending unless ``descending``."""

    expression: Any
    descending: bool = False

    def ordered(self, reverse: bool = False):
        return self.expression.desc() if self.descending != reverse else self.expression.asc()


@dataclass(frozen=True)
class PageArgs:
    """What the query string asks of a list: how many rows, after or before which cursor."""

    per_page: int = PER_PAGE
    after: str | None = None
    before: str | None = None
    number: int = 1  # for :func:`offset_page` only


@dataclass
class Page(Generic[T]):
    """One page of a list: its ``items``, and the cursors to the pages either side (None where
    there is none). ``total`` is only known when asked for."""

    items: list[T]
    per_page: int
    next_cursor: str | None = None
    previous_cursor: str | None = None
    total: int | None = None
    number: int | None = None  # offset pages only
    extra: dict = field(default_factory=dict)

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None

    @property
    def next_url(self) -> str | None:
        return page_url(after=self.next_cursor) if self.next_cursor else None

    @property
    def previous_url(self) -> str | None:
        if self.previous_cursor is None:
            return None
        if self.previous_cursor == "":  # back to the first page: no cursor at all
            return page_url()
        return page_url(before=self.previous_cursor)


# --- reading the query string ----------------------------------------------------------------


def page_args(args: Mapping[str, str]) -> PageArgs:
    """The page asked for by ``args`` (a request's query string); :class:`BadPage` for a
    per-page count out of range, a page number that is not one, or an over-long cursor (a
    cursor's signature is checked by :func:`keyset_page`, which knows the list)."""
    raw = (args.get("per_page") or "").strip()
    per_page = PER_PAGE
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
            raise BadPage(_l("Choose between 1 and %(most)s rows per page.", most=MAX_PER_PAGE), "per_page")
        per_page = int(raw)
    raw_number = (args.get("page") or "").strip()
    number = 1
    if raw_number:
        if not raw_number.isdigit() or int(raw_number) < 1 or len(raw_number) > 9:
            raise BadPage(BAD_PAGE_NUMBER, "page")
        number = int(raw_number)
    after, before = (args.get("after") or "").strip() or None, (args.get("before") or "").strip() or None
    for name, cursor in (("after", after), ("before", before)):
        if cursor is not None and len(cursor) > MAX_CURSOR:
            raise BadPage(BAD_CURSOR, name)
    return PageArgs(per_page=per_page, after=after, before=before, number=number)


class PageQuery(Schema):
    """The paging part of a list's query string, for ``documented(query=...)`` (subclass it to
    add the list's own filters)."""

    per_page = fields.Integer(
        validate=validate.Range(1, MAX_PER_PAGE),
        metadata={"description": f"Rows per page (default {PER_PAGE}, at most {MAX_PER_PAGE})."},
    )
    after = fields.String(
        validate=validate.Length(max=MAX_CURSOR),
        metadata={"description": "The cursor of the page to read: the `next` link of the previous answer carries it."},
    )
    before = fields.String(
        validate=validate.Length(max=MAX_CURSOR),
        metadata={"description": "Read the page before this cursor (the way back)."},
    )


# --- cursors ---------------------------------------------------------------------------------


def _serializer(scope: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=f"livc.paging:{scope}")


def _plain(value: Any) -> Any:
    """A key's value in JSON, tagged where JSON has no type for it."""
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "d" in value:
            return date.fromisoformat(value["d"])
        if "n" in value:
            return Decimal(value["n"])
        raise ValueError("unknown tag")
    return value


def encode_cursor(values: Sequence[Any], scope: str) -> str:
    return _serializer(scope).dumps([_plain(value) for value in values])


def decode_cursor(cursor: str, keys: int, scope: str, field_name: str = "after") -> list[Any]:
    """The key values a cursor carries; :class:`BadPage` unless it was signed for this list."""
    try:
        values = _serializer(scope).loads(cursor)
        if not isinstance(values, list) or len(values) != keys:
            raise ValueError("not this list's keys")
        return [_typed(value) for value in values]
    except (BadData, ValueError, TypeError, KeyError):
        raise BadPage(BAD_CURSOR, field_name) from None


# --- pages -----------------------------------------------------------------------------------


def _bindable(key: Key, value: Any) -> Any:
    """A value read from a cursor, as the key's column takes it (an enum column its member)."""
    enum_class = getattr(key.expression.type, "enum_class", None)
    return enum_class(value) if enum_class is not None and value is not None else value


def _beyond(keys: Sequence[Key], values: Sequence[Any], reverse: bool):
    """The rows after ``values`` in the keys' order (before them with ``reverse``): a row-value
    comparison where every key goes the same way (an index answers it), else its expansion."""
    values = [_bindable(key, value) for key, value in zip(keys, values)]
    if len({key.descending for key in keys}) == 1:
        columns = sa.tuple_(*(key.expression for key in keys))
        bound = sa.tuple_(*(sa.literal(value, key.expression.type) for key, value in zip(keys, values)))
        return columns < bound if keys[0].descending != reverse else columns > bound
    alternatives = []
    for position, key in enumerate(keys):
        equal = [keys[i].expression == values[i] for i in range(position)]
        later = key.expression < values[position] if key.descending != reverse else key.expression > values[position]
        alternatives.append(sa.and_(*equal, later))
    return sa.or_(*alternatives)


def keyset_page(query: sa.Select, keys: Sequence[Key], args: PageArgs, *, scope: str,
                count: bool = False, session=None) -> Page:
    """The page of ``query`` that ``args`` asks for, sorted on ``keys`` (the last one unique).

    ``query`` selects one entity (the items are its objects) or several columns (the items are
    rows); it carries its own filters and eager loads but no ``ORDER BY``/``LIMIT``. ``scope``
    names the list (cursors of one list are refused by another). ``count`` adds the number of
    rows of the whole list: one ``COUNT`` over the filtered query, for bounded lists only.
    """
    session = session or db.session
    width = len(query.column_descriptions)  # one per entity or column (selected_columns expands an entity)
    reverse = args.before is not None and args.after is None
    cursor = args.before if reverse else args.after
    values = decode_cursor(cursor, len(keys), scope, "before" if reverse else "after") if cursor else None
    paged = query
    if values is not None:
        paged = paged.where(_beyond(keys, values, reverse))
    labelled = [key.expression.label(f"_page_key_{i}") for i, key in enumerate(keys)]
    paged = paged.add_columns(*labelled).order_by(*(key.ordered(reverse) for key in keys)).limit(args.per_page + 1)
    rows = list(session.execute(paged).unique())  # a joined eager load repeats rows; the keys make each unique
    more = len(rows) > args.per_page
    rows = rows[: args.per_page]
    if reverse:
        rows.reverse()
    items = [row[0] if width == 1 else tuple(row[:width]) for row in rows]
    first = encode_cursor(rows[0][width:], scope) if rows else None
    last = encode_cursor(rows[-1][width:], scope) if rows else None
    if reverse:
        next_cursor = last
        previous_cursor = first if more else None
    else:
        next_cursor = last if more else None
        previous_cursor = (first if rows else "") if cursor else None
    total = None
    if count:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    return Page(items=items, per_page=args.per_page, next_cursor=next_cursor,
                previous_cursor=previous_cursor, total=total)


def offset_page(query: sa.Select, args: PageArgs, *, count: bool = True, session=None) -> Page:
    """Page ``args.number`` of a short list already in its ``ORDER BY`` (``?page=``): for lists
    bounded by nature (a meeting's agenda, a cell's members), where a total is cheap."""
    session = session or db.session
    per_page, number = args.per_page, args.number
    rows = list(session.scalars(query.limit(per_page + 1).offset((number - 1) * per_page)))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) if count else None
    more = len(rows) > per_page
    page = Page(items=rows[:per_page], per_page=per_page, total=total, number=number)
    page.next_cursor = str(number + 1) if more else None
    page.previous_cursor = str(number - 1) if number > 1 else None
    page.extra["offset"] = True
    return page


# --- links and answers -----------------------------------------------------------------------


def page_url(*, after: str | None = None, before: str | None = None, number: str | None = None) -> str:
    """This request's address with its filters kept and another page asked for."""
    args = {key: value for key, value in request.args.items(multi=False)
            if key not in ("after", "before", "page")}
    if after:
        args["after"] = after
    if before:
        args["before"] = before
    if number:
        args["page"] = number
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def offset_urls(page: Page) -> tuple[str | None, str | None]:
    """The previous and next addresses of an :func:`offset_page`."""
    return (page_url(number=page.previous_cursor) if page.previous_cursor else None,
            page_url(number=page.next_cursor) if page.next_cursor else None)


def page_answer(page: Page, envelope: str, dumped: list) -> dict:
    """An API answer's keys for a page: ``{envelope: [...], "next": <path or null>}``."""
    if page.extra.get("offset"):
        next_url = offset_urls(page)[1]
    else:
        next_url = page.next_url
    return {envelope: dumped, "next": next_url}

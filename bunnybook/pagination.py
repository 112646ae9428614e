"""Keyset ("cursor") pagination shared by pages and the API: never OFFSET, so a list
stays stable while new rows arrive, and every page costs the same.

A cursor names the last row shown by its sort value and primary key (the tie-breaker).
"""

import base64
import binascii
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

INVALID_CURSOR = ValidationError({"cursor": ["Invalid cursor."]})


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


def encode_cursor(value, pk: int) -> str:
    raw = json.dumps([value.isoformat() if hasattr(value, "isoformat") else value, pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field) -> tuple:
    """Parse a cursor for `field` (a model field); anything else is a ValidationError (400)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = field.to_python(value)
    except (
        ValueError,
        TypeError,
        OverflowError,  # an integer field given an infinite float: [Infinity, 1]
        UnicodeError,
        binascii.Error,
        ValidationError,
    ) as exc:
        raise INVALID_CURSOR from exc
    if value is None or type(pk) is not int or not 0 <= pk < 2**63:
        raise INVALID_CURSOR
    if isinstance(value, str) and "\x00" in value:  # PostgreSQL cannot compare such text
        raise INVALID_CURSOR
    if getattr(value, "tzinfo", False) is None:  # a datetime without a zone was forged
        raise INVALID_CURSOR
    return value, pk


def paginate(
    queryset: QuerySet,
    *,
    cursor: str | None,
    size: int,
    order_field: str = "created_at",
    descending: bool = True,
) -> Page:
    """A page of `queryset` ordered by (order_field, pk), starting after `cursor`."""
    direction = "-" if descending else ""
    queryset = queryset.order_by(f"{direction}{order_field}", f"{direction}pk")
    if cursor:
        value, pk = decode_cursor(cursor, queryset.model._meta.get_field(order_field))
        beyond = "lt" if descending else "gt"
        queryset = queryset.filter(
            Q(**{f"{order_field}__{beyond}": value})
            | Q(**{order_field: value, f"pk__{beyond}": pk})
        )
    return page_of(list(queryset[: size + 1]), size=size, order_field=order_field)


def page_of(rows: list, *, size: int, order_field: str = "created_at") -> Page:
    """The page of `rows`, a query's first `size + 1` rows in (order_field, pk) order: one
    more than shown tells whether another page follows."""
    items = rows[:size]
    last = items[-1] if len(rows) > size else None
    next_cursor = encode_cursor(getattr(last, order_field), last.pk) if last else None
    return Page(items=items, next_cursor=next_cursor)

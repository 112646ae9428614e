"""URLs for busy pages without reverse()'s cost: each URL name is reversed once, with
numbered stand-ins for its arguments, and later calls fill the arguments into the pieces.

reverse() matches the URL patterns again on every call (~15 µs here); a feed page shows a few
hundred links, so this is most of what its links cost. The answer is the same string
reverse() gives: arguments that would need quoting or that the pattern might refuse are
handed to reverse() itself.
"""

import re

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

# Stand-ins for the arguments: digits, so that any converter (int, str, slug) accepts them.
_STAND_INS = ("8604219371", "8604219372", "8604219373")
_DIGITS = re.compile(r"[0-9]+")
# A value that reverse() would put into the URL unchanged, whatever the converter's pattern.
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")


class Links:
    """reverse() for one URLconf and script prefix (a request's), by formatting."""

    def __init__(self, urlconf: str, prefix: str):
        self.urlconf, self.prefix = urlconf, prefix
        # (name, argument count) -> (pieces, which arguments must be digits), or None when
        # the name cannot be split this way.
        self._shapes: dict[tuple[str, int], tuple[list[str], tuple[bool, ...]] | None] = {}

    def _shape(self, name: str, count: int) -> tuple[list[str], tuple[bool, ...]] | None:
        stand_ins = _STAND_INS[:count]
        if len(stand_ins) != count:
            return None
        try:
            url = reverse(name, args=stand_ins)
        except NoReverseMatch:
            return None
        pieces, rest = [], url
        for stand_in in stand_ins:
            head, found, rest = rest.partition(stand_in)
            if not found or stand_in in rest:
                return None
            pieces.append(head)
        pieces.append(rest)
        digits_only = []
        for position in range(count):
            probe = [*stand_ins[:position], "x" + stand_ins[position], *stand_ins[position + 1 :]]
            try:
                reverse(name, args=probe)
            except NoReverseMatch:
                digits_only.append(True)
            else:
                digits_only.append(False)
        return pieces, tuple(digits_only)

    def url(self, name: str, *args) -> str:
        """`reverse(name, args=args)`, for URL names without a namespace."""
        try:
            shape = self._shapes[name, len(args)]
        except KeyError:
            shape = self._shapes[name, len(args)] = self._shape(name, len(args))
        if shape is None:
            return reverse(name, args=args)
        pieces, digits_only = shape
        parts = [pieces[0]]
        for arg, digits, piece in zip(args, digits_only, pieces[1:], strict=True):
            text = str(arg)
            if not (_DIGITS if digits else _PLAIN).fullmatch(text):
                return reverse(name, args=args)
            parts.append(text)
            parts.append(piece)
        return "".join(parts)


_links: dict[tuple[str, str], Links] = {}


def current() -> Links:
    """The Links of the URLconf and script prefix in force (a request's, while it runs)."""
    key = (get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    try:
        return _links[key]
    except KeyError:
        return _links.setdefault(key, Links(*key))


def url(name: str, *args) -> str:
    return current().url(name, *args)

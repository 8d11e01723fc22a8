"""Store values made safe to show and of the type they should be.

Text a terminal will not act on, times that may be past any date, and values of the wrong type
(SQLite keeps any type in any column; a meta.yaml can hold anything): each made what the rest
of mltui expects, and said. Textual-free, so that the CLI and the app treat them the same way.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

# C0 and C1 control characters (and DEL), which a terminal would act on instead of showing.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "␛" if code == 0x1B else f"\\x{code:02x}"


def clean(value: object) -> str:
    """A string safe to put on screen: control characters shown as visible escapes."""
    return _CONTROL.sub(_visible, str(value))


def one_line(value: object, limit: int = 200) -> str:
    """A cleaned single-line rendering, for table cells and messages."""
    text = clean(value).replace("\n", "⏎").replace("\t", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def datetime_of(ms: float, tz: tzinfo | None = None) -> datetime | None:
    """Epoch milliseconds as a datetime (local time unless `tz`); None when no date can show it
    (before year 1, past year 9999, infinite)."""
    try:
        return datetime.fromtimestamp(ms / 1000, tz)
    except (OverflowError, ValueError, OSError):
        return None


def invalid_time(ms: object) -> str:
    """How a time that no date can show is written, so that it is seen rather than crashing."""
    return f"invalid time {one_line(ms, 40)}"


def as_time(value: object) -> tuple[int | None, bool]:
    """A stored time as epoch milliseconds (None when absent), and whether it was one.

    Integers are kept however large (shown as invalid where formatted); integral numbers
    written as text or as a finite float are taken as their integer, as MLflow would read
    them; anything else (text, bytes, infinities, NaN, booleans) is not a time.
    """
    if value is None:
        return None, True
    if type(value) is int:
        return value, True
    try:
        if type(value) is str:
            return int(value), True
        if type(value) is float and value == int(value):
            return int(value), True
    except (ValueError, OverflowError):  # not a number, or infinite, or NaN
        pass
    return None, False


def as_text(value: object) -> tuple[str | None, bool]:
    """A stored text value (None when absent), and whether it was text.

    Bytes are decoded (undecodable bytes as U+FFFD) and numbers written out, so that nothing
    of a value in a column of the wrong type is lost.
    """
    if value is None or type(value) is str:
        return value, True
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace"), False
    return str(value), False


def shown(value: object, limit: int = 40) -> str:
    """A stored value as a warning quotes it: its repr, on one line, not too long."""
    return one_line(repr(value), limit)

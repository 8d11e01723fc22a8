"""User data as literal text: never Rich markup, never terminal escape codes."""

from __future__ import annotations

from rich.text import Text

# Shared with the CLI's messages (which must not import Rich) and with tui/present/ (which
# must not either); screens take them from here.
from mltui.store.values import clean, datetime_of, invalid_time, one_line  # noqa: F401
from mltui.tui.present.formats import (  # noqa: F401
    format_duration,
    format_time,
    format_time_short,
    format_value,
)


def literal(value: object, style: str = "") -> Text:
    """A Rich Text that shows `value` exactly as typed (no markup parsing, escapes made visible)."""
    return Text(clean(value), style=style, no_wrap=False)

"""Store values made safe to show: text a terminal will not act on.

Textual-free, so that the CLI's messages and the app's screens clean text the same way.
"""

from __future__ import annotations

import re

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

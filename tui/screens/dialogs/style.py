"""The look the small dialogs share: a bordered box in the middle of the screen."""

from __future__ import annotations

DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} > .dialog {{
    width: 76;
    max-width: 95%;
    height: auto;
    max-height: 90%;
    border: round $accent;
    background: $surface;
    padding: 0 1;
}}
{name} .dialog-title {{
    text-style: bold;
    margin-bottom: 1;
}}
{name} .dialog-hint {{
    color: $text-muted;
    margin-top: 1;
}}
{name} .dialog-buttons {{
    height: auto;
    align-horizontal: right;
    margin-top: 1;
}}
{name} .dialog-buttons Button {{
    margin-left: 2;
}}
{name} OptionList {{
    height: auto;
    max-height: 8;
}}
"""

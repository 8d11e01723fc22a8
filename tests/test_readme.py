"""The README's Quickstart is the truth: two commands, and CI runs the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Quickstart\s*\n+```[a-z]*\n(.*?)\n```", text, re.S | re.M)
    assert match, "README.md needs a '## Quickstart' heading followed by a fenced code block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_quickstart_has_two_commands_demo_then_tests():
    commands = quickstart_commands()
    assert len(commands) == 2
    assert "mltui --demo" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_quickstart_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = quickstart_commands()[1].replace(" -q ", " ")
    ci_lines = [line.replace(" -q ", " ") for line in ci.splitlines()]
    assert test_command in ci_lines

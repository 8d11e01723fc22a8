"""What the screens show, worked out without Textual or Rich: sorting and nesting runs, default
columns, compare rows and best values, plot data and axis ticks, formatted numbers and times.

Plain functions and dataclasses over the store's entities, tested without an app. Screens and
widgets turn them into widgets; nothing here imports Textual or Rich (an import-linter contract
and tests/test_import_hygiene.py check it).
"""

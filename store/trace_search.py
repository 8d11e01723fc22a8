"""MLflow's trace search language (search_traces' filter_string), evaluated over our TraceInfos.

The grammar is the run filter's (store/search.py: same lexer, clauses joined by AND); only the
vocabulary differs, as in MLflow 3.18's `SearchTraceUtils`: prefixes `attribute(s)`/`trace`,
`tag(s)`, `metadata`/`request_metadata`; attributes `status`, `timestamp_ms`,
`execution_time_ms` (and their spellings without `_ms`), `request_id`, and `name` / `run_id`,
which MLflow maps to the `mlflow.traceName` tag and the `mlflow.sourceRun` metadata.

Deliberately refused (MLflow's file store cannot answer them, so they would mean different
things on the two backends): `span.*`, `feedback.*`, `expectation.*`, `issue.*`, `text`,
`prompt`, `end_time(_ms)`, `client_request_id`, RLIKE, and IN on `name` / `run_id`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .filter_grammar import (
    FLOAT,
    INT,
    Parser,
    Value,
    is_quoted,
    parse_list,
    strip_key_quotes,
    value_test,
)
from .traces import TRACE_NAME, TraceInfo

__all__ = ["TraceFilter", "parse_trace_filter"]

ATTRIBUTE, TAG, METADATA = "attribute", "tag", "metadata"
_PREFIXES = {
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "trace": ATTRIBUTE,
    "tag": TAG,
    "tags": TAG,
    "metadata": METADATA,
    "request_metadata": METADATA,
}
#: MLflow's aliases: the spellings without `_ms` are the same attributes.
_ALIASES = {"timestamp": "timestamp_ms", "execution_time": "execution_time_ms"}
_NUMERIC = {"timestamp_ms", "execution_time_ms"}
_ATTRIBUTES = _NUMERIC | {"status", "request_id", "name", "run_id"}
_ATTRIBUTE_NAMES = "status, timestamp_ms, execution_time_ms, name, request_id, run_id"
#: Keys MLflow accepts that only its SQL store can evaluate: refused, with the reason.
_SQL_ONLY = {"end_time", "end_time_ms", "client_request_id", "text", "prompt"}
_SQL_ONLY_PREFIXES = {"span", "feedback", "expectation", "issue"}
#: Searched by MLflow as a tag or metadata entry (SEARCH_KEY_TO_TAG / _TO_METADATA).
_MAPPED = {"name": (TAG, TRACE_NAME), "run_id": (METADATA, "mlflow.sourceRun")}

_NUMERIC_COMPARATORS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_COMPARATORS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_KEYED_COMPARATORS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_LIST_ATTRIBUTES = {"status", "request_id"}

_ATTRIBUTE_VALUE: dict[str, Callable[[TraceInfo], Any]] = {
    "status": lambda t: t.state,
    "timestamp_ms": lambda t: t.request_time,
    "execution_time_ms": lambda t: t.execution_duration,
    "request_id": lambda t: t.trace_id,
}


class TraceFilter:
    """A parsed trace filter: call it on a TraceInfo."""

    __slots__ = ("tests", "text")

    def __init__(self, text: str, tests: list[Callable[[TraceInfo], bool]]) -> None:
        self.text = text
        self.tests = tests

    def __call__(self, info: TraceInfo) -> bool:
        return all(test(info) for test in self.tests)

    def __repr__(self) -> str:
        return f"TraceFilter({self.text!r})"


class _TraceParser(Parser[Callable[[TraceInfo], bool]]):
    """The run filter's parser with search_traces' keys: `build` gives a test per clause."""

    def build(self, raw: str, comparator: str, value: Value | None) -> Callable[[TraceInfo], bool]:
        kind, key = self.key_of(raw)
        if kind == ATTRIBUTE and key in _MAPPED:
            if comparator in ("IN", "NOT IN"):
                raise self.fail(f"{comparator} on '{raw}'", "MLflow's file store refuses it")
            kind, key = _MAPPED[key]
        if kind == ATTRIBUTE:
            allowed = _NUMERIC_COMPARATORS if key in _NUMERIC else _STRING_COMPARATORS
        else:
            allowed = _KEYED_COMPARATORS
        if comparator not in allowed:
            raise self.fail(
                f"Invalid comparator '{comparator}' for '{raw}'", f"use one of {', '.join(allowed)}"
            )
        get = _ATTRIBUTE_VALUE[key] if kind == ATTRIBUTE else _entry(kind, key)
        if value is None:  # IS NULL / IS NOT NULL, on a tag or metadata entry
            present = comparator == "IS NOT NULL"
            return lambda info: (get(info) is not None) == present
        test = value_test(comparator, self.operand(raw, kind, key, comparator, value))

        def clause_test(info: TraceInfo) -> bool:
            lhs = get(info)
            return lhs is not None and test(lhs)

        return clause_test

    def key_of(self, raw: str) -> tuple[str, str]:
        """MLflow's _get_identifier with the trace prefixes: everything before the first "."."""
        prefix, dot, key = raw.partition(".")
        if not dot:
            if prefix.upper() == "TIMESTAMP":  # sqlparse reads it as the SQL type: no clause
                raise self.fail("Bare 'timestamp'", "write timestamp_ms or attributes.timestamp")
            kind, key = ATTRIBUTE, prefix
        else:
            prefix = prefix[1:-1] if is_quoted(prefix, "`") else prefix
            if prefix in _SQL_ONLY_PREFIXES:
                raise self.fail(f"Unsupported key '{raw}'", "only MLflow's SQL store searches it")
            known = _PREFIXES.get(prefix)
            if known is None:
                raise self.fail(
                    f"Unknown prefix '{prefix}' in '{raw}'",
                    "use attributes., tags. or metadata.",
                )
            kind = known
        key = strip_key_quotes(key)
        if kind != ATTRIBUTE:
            return kind, key
        key = _ALIASES.get(key, key)
        if key in _SQL_ONLY:
            raise self.fail(f"Unsupported key '{raw}'", "only MLflow's SQL store searches it")
        if key not in _ATTRIBUTES:
            hint = "the state is 'status'" if key == "state" else f"use {_ATTRIBUTE_NAMES}"
            raise self.fail(f"Unknown trace attribute '{key}'", hint)
        return kind, key

    def operand(self, raw: str, kind: str, key: str, comparator: str, value: Value) -> Any:
        """The right-hand side as MLflow's _get_value reads it for this key."""
        where = f"'{raw} {comparator}'"
        if kind == ATTRIBUTE and key in _NUMERIC:
            if value.kind not in (INT, FLOAT):
                raise self.fail(f"Expected a number after {where}, found {value.text}")
            return int(value.text) if value.kind == INT else float(value.text)
        if value.kind == "list":
            if comparator not in ("IN", "NOT IN") or key not in _LIST_ATTRIBUTES:
                raise self.fail(f"A list of values for '{raw}'", "only status and request_id")
            return parse_list(value.text, self.fail)
        if value.kind in (INT, FLOAT):
            raise self.fail(f"Expected a quoted string after {where}, found {value.text}")
        if not is_quoted(value.text, "'") and not is_quoted(value.text, '"'):
            raise self.fail(f"Unquoted value {value.text}", "quote strings with ' or \"")
        return value.text[1:-1]


def _entry(kind: str, key: str) -> Callable[[TraceInfo], str | None]:
    if kind == TAG:
        return lambda info: info.tags.get(key)
    return lambda info: info.metadata.get(key)


def parse_trace_filter(filter_string: str | None) -> TraceFilter:
    """Parse a search_traces filter (`attributes.status = 'ERROR' and tags.env = 'prod'`) once;
    raises FilterError with one sentence for a filter MLflow would reject (or we refuse)."""
    text = filter_string or ""
    if not text.strip():
        return TraceFilter(text, [])
    return TraceFilter(text, _TraceParser(text).parse())

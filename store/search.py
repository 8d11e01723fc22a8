"""MLflow's run search language (filter strings and order_by), evaluated over our `Run`s.

This mirrors MLflow 3.17.2 `mlflow/utils/search_utils.py` (`SearchUtils.parse_search_filter`,
`_does_run_match_clause`, `parse_order_by_for_search_runs`, `_get_value_for_sort`, `sort`) as
the FILE store applies them: parse the string, test every run in Python, sort in Python. MLflow
parses with sqlparse; we do not import it. Instead a small lexer (filter_grammar.py, shared with
the trace filter) follows sqlparse 0.6's token rules where they decide what a filter means (names,
quoted names, numbers, strings, comparison operators, IN / IS / NOT NULL), and everything else is
rejected.

Guarantee: a filter we accept, MLflow accepts and reads the same way (tests/test_search_parity.py
checks this against MLflow itself). A few shapes that MLflow's SQL-generic parser happens to let
through are refused here with a FilterError (each is marked "deliberately refused" below); they
would otherwise silently mean something odd, e.g. `params.a = 'x' tags.b IS NULL` is read by
MLflow as a test of a param named "a = 'x' tags.b".

MLflow checks comparators only while matching runs (so an empty experiment accepts
`metrics.a LIKE 'x'`); we check everything up front, so a bad filter always raises.

We give the file store's answers on SQLite stores too. MLflow's SQL store differs in a few
corners (checked in tests/test_search_parity.py): ILIKE there folds ASCII letters only (SQLite's
lower()), LIKE's `%`/`_` match a newline, +-inf are stored as +-1.797e308, and a repeated
order_by key is an error. Its sort order is the same: values, then NaN, then missing.
"""

from __future__ import annotations

import math
import operator
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .entities import TAG_DATA_CONTEXT, Run
from .errors import FilterError
from .filter_grammar import (
    FLOAT,
    INT,
    ORDER,
    STRING,
    Parser,
    Value,
    is_quoted,
    parse_list,
    strip_key_quotes,
    value_test,
)

__all__ = [
    "Clause",
    "RunFilter",
    "SortKey",
    "order_runs",
    "parse_filter",
    "parse_order_by",
    "validate_filter",
]

# -- vocabulary (MLflow's SearchUtils constants) -----------------------------------------------

METRIC, PARAM, TAG, ATTRIBUTE, DATASET = "metric", "parameter", "tag", "attribute", "dataset"

#: Every spelling of an entity prefix, case-sensitive as in MLflow (`Metrics.x` is an error).
_PREFIXES = {
    "metric": METRIC,
    "metrics": METRIC,
    "parameter": PARAM,
    "parameters": PARAM,
    "param": PARAM,
    "params": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
    "dataset": DATASET,
    "datasets": DATASET,
}
_PREFIX_NAMES = "metric(s), param(s)/parameter(s), tag(s), attribute(s)/attr/run, dataset(s)"

#: RunInfo's searchable attributes plus MLflow's aliases. Note: lifecycle_stage and
#: experiment_id are NOT searchable in MLflow, so they are errors here too.
_SEARCH_ATTRIBUTES = frozenset(
    {"run_id", "run_name", "user_id", "status", "start_time", "end_time", "artifact_uri"}
    | {"created", "Created", "run name", "Run name", "Run Name"}
)
#: order_by takes `created` but not the "run name" spellings (MLflow's VALID_ORDER_BY_ATTRIBUTE_KEYS).
_ORDER_ATTRIBUTES = frozenset(
    {"run_id", "run_name", "user_id", "status", "start_time", "end_time", "artifact_uri"}
    | {"created", "Created"}
)
_ATTRIBUTE_NAMES = "run_id, run_name, status, user_id, start_time, end_time, artifact_uri"
_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "created", "Created"})
_DATASET_KEYS = frozenset({"name", "digest", "context"})

_NUMERIC_COMPARATORS = frozenset({">", ">=", "!=", "=", "<", "<="})
_KEYED_STRING_COMPARATORS = frozenset({"!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"})
_STRING_ATTRIBUTE_COMPARATORS = frozenset({"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"})
_DATASET_COMPARATORS = _STRING_ATTRIBUTE_COMPARATORS
_ALLOWED = {
    METRIC: _NUMERIC_COMPARATORS,
    PARAM: _KEYED_STRING_COMPARATORS,
    TAG: _KEYED_STRING_COMPARATORS,
    DATASET: _DATASET_COMPARATORS,
}
_COMPARATOR_ORDER: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN")
_COMPARATOR_ORDER += ("NOT IN", "IS NULL", "IS NOT NULL")


def _translate_key(key: str) -> str:
    """MLflow's translate_key_alias: applied to EVERY key type, so `metrics.created` looks up
    the metric "start_time" and params.`Run name` the param "run_name"; we do the same."""
    if key in ("created", "Created"):
        return "start_time"
    if key in ("run name", "Run name", "Run Name"):
        return "run_name"
    return key


# -- parsed form -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Clause:
    """One `key comparator value` test, in MLflow's vocabulary (`kind` is "metric",
    "parameter", "tag", "attribute" or "dataset"; `key` as written, before aliasing)."""

    kind: str
    key: str
    comparator: str
    value: Any


class RunFilter:
    """A parsed filter: call it on a `Run`. Parse once, call for every run."""

    __slots__ = ("_test", "clauses", "needs_inputs", "text")

    def __init__(self, text: str, clauses: list[Clause]) -> None:
        self.text = text
        self.clauses = clauses
        #: True when a `datasets.` clause reads `Run.inputs`: the caller must load the runs'
        #: inputs first. A run whose `inputs` is None is treated as having no datasets.
        self.needs_inputs = any(c.kind == DATASET for c in clauses)
        tests = [_compile(c) for c in clauses]
        if not tests:
            self._test: Callable[[Run], bool] = _match_all
        elif len(tests) == 1:
            self._test = tests[0]
        else:

            def all_tests(run: Run) -> bool:
                # A plain loop: all() over a generator costs a third more per run.
                for test in tests:  # noqa: SIM110
                    if not test(run):
                        return False
                return True

            self._test = all_tests

    def __call__(self, run: Run) -> bool:
        return self._test(run)

    def __repr__(self) -> str:
        return f"RunFilter({self.text!r})"


def _match_all(run: Run) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class SortKey:
    """One order_by term: `kind` as in Clause, `key` as written, and the direction."""

    kind: str
    key: str
    ascending: bool


# -- the run filter's parser -------------------------------------------------------------------
class _RunParser(Parser[Clause]):
    """The run filter's parser: a Clause each."""

    # MLflow's _get_identifier, _get_value and the comparator checks of _does_run_match_clause.
    def build(self, raw: str, comparator: str, value: Value | None) -> Clause:
        kind, key = _split_identifier(raw, _SEARCH_ATTRIBUTES, self.fail)
        where = f"'{raw} {comparator}'"
        if value is None:  # IS NULL / IS NOT NULL
            if kind not in (TAG, PARAM):
                raise self.fail(
                    f"{comparator} on '{raw}'", "MLflow allows it for tags and params only"
                )
            return Clause(kind, key, comparator, None)
        numeric = kind == METRIC or (kind == ATTRIBUTE and key in _NUMERIC_ATTRIBUTES)
        # MLflow checks the value first and the comparator only while matching runs; we check
        # the comparator first because its message is the more useful one.
        allowed = _ALLOWED.get(kind) or (
            _NUMERIC_COMPARATORS if numeric else _STRING_ATTRIBUTE_COMPARATORS
        )
        if comparator not in allowed:
            shown = ", ".join(c for c in _COMPARATOR_ORDER if c in allowed)
            raise self.fail(f"Invalid comparator '{comparator}' for '{raw}'", f"use one of {shown}")
        if numeric:
            if value.kind not in (INT, FLOAT):
                raise self.fail(f"Expected a number after {where}, found {value.text}")
            if kind == METRIC:
                parsed: Any = float(value.text)
            else:
                parsed = int(value.text) if value.kind == INT else float(value.text)
        elif value.kind == "list":
            if kind in (PARAM, TAG):
                raise self.fail(f"Expected a quoted string after {where}, found {value.text}")
            if kind == ATTRIBUTE and key != "run_id":
                raise self.fail(
                    f"A list of values for '{raw}'", "only run_id and datasets.* take lists"
                )
            parsed = parse_list(value.text, self.fail)
        elif value.kind in (STRING, "ident"):
            text = value.text
            if not is_quoted(text, "'") and not is_quoted(text, '"'):
                raise self.fail(f"Unquoted value {text}", "quote strings with ' or \"")
            parsed = text[1:-1]
        else:
            raise self.fail(f"Expected a quoted string after {where}, found {value.text}")
        if isinstance(parsed, tuple) and comparator in ("LIKE", "ILIKE"):
            # MLflow crashes with a TypeError here.
            raise self.fail(f"{comparator} takes one quoted pattern, not the list {value.text}")
        return Clause(kind, key, comparator, parsed)


def _split_identifier(
    raw: str, attributes: frozenset[str], fail: Callable[..., FilterError]
) -> tuple[str, str]:
    """MLflow's _get_identifier: the prefix is everything before the FIRST "." (so a dot
    inside `tags."a.b"` is fine but one inside a quoted prefix is not); no prefix = attribute."""
    prefix, dot, key = raw.partition(".")
    if not dot:
        kind, key = ATTRIBUTE, prefix
    else:
        known = _PREFIXES.get(prefix[1:-1] if is_quoted(prefix, "`") else prefix)
        if known is None:
            raise fail(f"Unknown prefix '{prefix}' in '{raw}'", f"use {_PREFIX_NAMES}")
        kind = known
    key = strip_key_quotes(key)
    if kind == ATTRIBUTE and key not in attributes:
        aliases = "created, `Run name`" if "run name" in attributes else "created"
        raise fail(f"Unknown attribute '{key}'", f"use {_ATTRIBUTE_NAMES} or {aliases}")
    if kind == DATASET and key not in _DATASET_KEYS:
        raise fail(f"Unknown dataset key '{key}'", "use datasets.name, .digest or .context")
    return kind, key


def parse_filter(filter_string: str | None) -> RunFilter:
    """Parse an MLflow run filter (`metrics.rmse < 1 and params.model = 'cnn'`) once."""
    text = filter_string or ""
    if not text.strip():
        return RunFilter(text, [])
    return RunFilter(text, _RunParser(text).parse())


def validate_filter(filter_string: str | None) -> None:
    """Raise FilterError if MLflow would reject `filter_string`."""
    parse_filter(filter_string)


# -- filter evaluation ---------------------------------------------------------------------------
def _compile(clause: Clause) -> Callable[[Run], bool]:
    kind, comparator = clause.kind, clause.comparator
    key = _translate_key(clause.key)
    if comparator in ("IS NULL", "IS NOT NULL"):
        field = "params" if kind == PARAM else "tags"
        if comparator == "IS NULL":
            return lambda run: key not in getattr(run, field)
        return lambda run: key in getattr(run, field)

    test = value_test(comparator, clause.value)
    if kind == METRIC:

        def metric_test(run: Run) -> bool:
            m = run.metrics.get(key)
            return m is not None and test(m.value)

        return metric_test
    if kind in (PARAM, TAG):
        field = "params" if kind == PARAM else "tags"

        def keyed_test(run: Run) -> bool:
            v = getattr(run, field).get(key)
            return v is not None and test(v)

        return keyed_test
    if kind == ATTRIBUTE:

        def attribute_test(run: Run) -> bool:
            v = getattr(run, key)
            return v is not None and test(v)

        return attribute_test

    # Datasets: true when ANY of the run's dataset inputs passes (so `!=` means "some dataset
    # differs"). `context` looks only at inputs carrying the mlflow.data.context tag.
    if key == "context":

        def context_test(run: Run) -> bool:
            return any(
                test(di.tags[TAG_DATA_CONTEXT])
                for di in run.inputs or ()
                if TAG_DATA_CONTEXT in di.tags
            )

        return context_test

    def dataset_test(run: Run) -> bool:
        return any(test(getattr(di.dataset, key)) for di in run.inputs or ())

    return dataset_test


# -- order_by ------------------------------------------------------------------------------------
def _parse_order_term(term: str) -> SortKey:
    # MLflow needs the whole term to be one sqlparse identifier, optionally followed by a plain
    # ASC/DESC: so no leading or trailing space, no "NULLS LAST", no commas.
    parser = _RunParser(term, "order_by ")
    fail = parser.fail
    if not term or term != term.strip():
        raise fail("Unexpected space" if term else "Empty term", "write e.g. metrics.rmse DESC")
    ident = parser.identifier()
    if ident is None:
        tok = parser.peek()
        raise fail(f"Unexpected '{tok.text if tok else term}'", "expected a key")
    rest = parser.tokens[parser.i :]
    if rest and not (len(rest) == 1 and rest[0].kind == ORDER):
        extra = term[rest[0].start :]
        raise fail(f"Unexpected '{extra}'", "expected ASC or DESC")
    if rest and rest[0].text.upper() not in ("ASC", "DESC"):
        raise fail(f"Unexpected '{rest[0].text}'", "expected ASC or DESC")
    # MLflow splits the term with shlex after turning backticks into double quotes; with two
    # parts the key is the unquoted first part, with one part the raw term is kept.
    try:
        parts = shlex.split(term.replace("`", '"'))
    except ValueError:
        raise fail("Unbalanced quotes") from None
    ascending = True
    key_text = term
    if len(parts) == 2:
        key_text, ascending = parts[0], parts[1].lower() == "asc"
    elif len(parts) != 1:
        raise fail("Could not parse the term")
    kind, key = _split_identifier(key_text.strip(), _ORDER_ATTRIBUTES, fail)
    if kind == DATASET:
        raise fail(f"Cannot order by '{key_text}'", "datasets are not orderable")
    return SortKey(kind, key, ascending)


def parse_order_by(order_by: Sequence[str] | str | None) -> list[SortKey]:
    """Parse MLflow order_by terms (`["metrics.rmse ASC", "params.alpha DESC"]`)."""
    if not order_by:
        return []
    if isinstance(order_by, str):
        order_by = [order_by]
    return [_parse_order_term(term) for term in order_by]


def _sort_getter(kind: str, key: str) -> Callable[[Run], Any]:
    if kind == METRIC:

        def metric_value(run: Run) -> Any:
            m = run.metrics.get(key)
            return None if m is None else m.value

        return metric_value
    if kind == PARAM:
        return lambda run: run.params.get(key)
    if kind == TAG:
        return lambda run: run.tags.get(key)
    return operator.attrgetter(key)


def _sort_key_func(sk: SortKey) -> Callable[[Run], tuple[bool, Any]]:
    """MLflow's _get_value_for_sort: missing values and NaN go last in BOTH directions, NaN
    before missing. (MLflow's SQL store orders them the same way: values, NaN, NULL.)"""
    get, asc = _sort_getter(sk.kind, _translate_key(sk.key)), sk.ascending
    fill = math.inf if asc else -math.inf
    # The first element sorts present values first; sorting with reverse=True for DESC is
    # why it flips with the direction.
    missing, nan, present = (True, fill), (True, -fill), False
    if not asc:
        missing, nan, present = (False, fill), (False, -fill), True

    def key_func(run: Run) -> tuple[bool, Any]:
        v = get(run)
        if v is None:
            return missing
        if v != v:  # NaN, the only value unequal to itself
            return nan
        return (present, v)

    return key_func


def order_runs(runs: Iterable[Run], keys: Sequence[SortKey] = ()) -> list[Run]:
    """Runs in MLflow's order: by `keys`, then start_time DESC, then run_id."""
    # A run with no start_time would crash MLflow's sort; we put it after all others.
    out = sorted(
        runs,
        key=lambda r: (r.start_time is None, -(r.start_time or 0), r.run_id),
    )
    # Stable sorts applied last key first, exactly like SearchUtils.sort; reverse=True keeps
    # ties in their previous order, so the default order breaks ties as in MLflow.
    for sk in reversed(keys):
        out.sort(key=_sort_key_func(sk), reverse=not sk.ascending)
    return out

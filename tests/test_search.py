"""mltui.store.search on hand-built runs: MLflow's filter and order_by semantics, one rule at a time."""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mltui.store.entities import Dataset, DatasetInput, Metric, Run
from mltui.store.errors import FilterError
from mltui.store.search import SortKey, order_runs, parse_filter, parse_order_by, validate_filter

NAN, INF = math.nan, math.inf


def make_run(
    run_id: str,
    *,
    start_time: int | None = 1000,
    end_time: int | None = None,
    status: str = "FINISHED",
    run_name: str = "",
    user_id: str = "alice",
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    inputs: list[DatasetInput] | None = None,
) -> Run:
    return Run(
        run_id=run_id,
        experiment_id="1",
        run_name=run_name or run_id,
        status=status,
        start_time=start_time,
        end_time=end_time,
        lifecycle_stage="active",
        artifact_uri=f"file:///tmp/mlruns/1/{run_id}/artifacts",
        user_id=user_id,
        params=dict(params or {}),
        metrics={k: Metric(k, v, 0, 0) for k, v in (metrics or {}).items()},
        tags=dict(tags or {}),
        inputs=inputs,
    )


def ids(filter_string: str, runs: list[Run]) -> list[str]:
    pred = parse_filter(filter_string)
    return [r.run_id for r in runs if pred(r)]


def dataset(name: str, digest: str, context: str | None = None) -> DatasetInput:
    tags = {"mlflow.data.context": context} if context is not None else {}
    return DatasetInput(Dataset(name, digest, "local", "{}"), tags)


# A small cast of runs most tests filter.
RUNS = [
    make_run("a", metrics={"rmse": 0.5, "loss/train": 2.0}, params={"opt": "Adam", "lr": "0.1"}),
    make_run("b", metrics={"rmse": 1.5}, params={"opt": "adam", "lr": "0.01"}, status="FAILED"),
    make_run("c", metrics={"rmse": NAN}, params={"opt": "sgd_%"}, tags={"team": "x"}),
    make_run("d", metrics={"rmse": INF}, params={"opt": "sgdX%"}),
    make_run("e", metrics={"rmse": -INF}),
    make_run("f"),  # no metrics, params or tags at all
]


# -- empty filters -----------------------------------------------------------------------------
@pytest.mark.parametrize("f", [None, "", "   ", "\n\t"])
def test_empty_filter_matches_everything(f):
    assert ids(f, RUNS) == ["a", "b", "c", "d", "e", "f"]


# -- metrics -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("f", "expected"),
    [
        ("metrics.rmse = 0.5", ["a"]),
        ("metrics.rmse != 0.5", ["b", "c", "d", "e"]),  # NaN != x is true; f has no rmse
        ("metrics.rmse < 1", ["a", "e"]),
        ("metrics.rmse <= 1.5", ["a", "b", "e"]),
        ("metrics.rmse > 1", ["b", "d"]),
        ("metrics.rmse >= 0.5", ["a", "b", "d"]),
        ("metrics.rmse > 1e308", ["d"]),
        ("metrics.rmse < -1E308", ["e"]),
        ("metrics.rmse > 5e-1", ["b", "d"]),
        ("metrics.rmse >= .5", ["a", "b", "d"]),
        ("metrics.rmse = 1.", []),
        ("metrics.rmse > -1", ["a", "b", "d"]),
        ("metrics.rmse>-1.5e-3", ["a", "b", "d"]),
        ("metrics.rmse = 01.5", ["b"]),
    ],
)
def test_metric_comparators(f, expected):
    assert ids(f, RUNS) == expected


def test_nan_only_satisfies_not_equal():
    nan_run = [RUNS[2]]
    for comparator in ("=", "<", "<=", ">", ">="):
        assert ids(f"metrics.rmse {comparator} 0", nan_run) == []
    assert ids("metrics.rmse != 0", nan_run) == ["c"]


def test_missing_metric_never_matches_even_not_equal():
    assert ids("metrics.nope != 1", RUNS) == []
    assert ids("metrics.rmse != 1", [RUNS[5]]) == []


def test_metric_keys_with_odd_characters_need_quotes():
    assert ids("metrics.`loss/train` = 2", RUNS) == ["a"]
    assert ids('metrics."loss/train" = 2', RUNS) == ["a"]
    assert ids("metrics.'loss/train' = 2", RUNS) == ["a"]
    with pytest.raises(FilterError):
        parse_filter("metrics.loss/train = 2")


# -- params and tags ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("f", "expected"),
    [
        ("params.opt = 'Adam'", ["a"]),
        ('params.opt = "Adam"', ["a"]),
        ("params.opt != 'Adam'", ["b", "c", "d"]),  # e and f have no 'opt': never match
        ("params.opt LIKE 'a%'", ["b"]),  # LIKE is case-sensitive
        ("params.opt like 'A%'", ["a"]),
        ("params.opt ILIKE 'a%'", ["a", "b"]),
        ("params.opt ILIKE 'ADAM'", ["a", "b"]),
        ("params.opt LIKE '%dam'", ["a", "b"]),
        ("params.opt LIKE 'ada'", []),  # no % means anchored at both ends
        ("params.opt LIKE '_dam'", ["a", "b"]),
        ("params.opt LIKE '__dam'", []),
        ("params.opt LIKE 'sgd_%'", ["c", "d"]),  # `_` and `%` are wildcards, never literal
        ("params.opt LIKE '%\\%'", []),  # no escape character either
        ("params.opt LIKE '%'", ["a", "b", "c", "d"]),
        ("params.lr = '0.1'", ["a"]),
        ("params.opt IS NULL", ["e", "f"]),
        ("params.opt IS NOT NULL", ["a", "b", "c", "d"]),
        ("params.opt is not null and params.lr is null", ["c", "d"]),
        ("tags.team = 'x'", ["c"]),
        ("tags.team IS NULL", ["a", "b", "d", "e", "f"]),
    ],
)
def test_param_and_tag_comparators(f, expected):
    assert ids(f, RUNS) == expected


def test_prefix_aliases_are_equivalent():
    for prefix in ("params", "param", "parameters", "parameter", "`params`"):
        assert ids(f"{prefix}.opt = 'Adam'", RUNS) == ["a"]
    for prefix in ("metrics", "metric"):
        assert ids(f"{prefix}.rmse = 0.5", RUNS) == ["a"]
    for prefix in ("tags", "tag"):
        assert ids(f"{prefix}.team = 'x'", RUNS) == ["c"]
    for prefix in ("attributes", "attribute", "attr", "run", ""):
        dotted = f"{prefix}." if prefix else ""
        assert ids(f"{dotted}status = 'FAILED'", RUNS) == ["b"]


def test_string_values_are_taken_verbatim():
    # MLflow strips the outer quotes only: '' and \' are not unescaped.
    runs = [
        make_run("q1", params={"p": "it''s"}),
        make_run("q2", params={"p": "it's"}),
        make_run("q3", params={"p": "a\\"}),
    ]
    assert ids("params.p = 'it''s'", runs) == ["q1"]
    assert ids('params.p = "it\'s"', runs) == ["q2"]
    assert ids("params.p = 'a\\'", runs) == ["q3"]


def test_keys_with_dots_unicode_and_spaces():
    runs = [
        make_run(
            "u",
            params={"größe": "groß", "a b": "1"},
            tags={"mlflow.runName": "u", "a.b": "v"},
        )
    ]
    assert ids("params.größe = 'groß'", runs) == ["u"]
    assert ids("params.größe ILIKE 'GROSS'", runs) == []  # no ß/SS folding, as in Python's re
    assert ids("params.`a b` = '1'", runs) == ["u"]
    assert ids("tags.mlflow.runName = 'u'", runs) == ["u"]
    assert ids("tags.`a.b` = 'v'", runs) == ["u"]
    assert ids("tags.a.b = 'v'", runs) == ["u"]


def test_like_quirks_follow_python_regex_as_mlflow_does():
    runs = [make_run("n1", params={"p": "x\ny"}), make_run("n2", params={"p": "abc\n"})]
    assert ids("params.p LIKE 'x%'", runs) == ["n1"]  # a trailing % is not anchored
    assert ids("params.p LIKE '%y'", runs) == []  # `.` never crosses a newline
    assert ids("params.p LIKE 'x_y'", runs) == []
    assert ids("params.p LIKE 'abc'", runs) == ["n2"]  # `$` matches before a final newline


def _mlflow_like(pattern: str, flags: int = 0):
    """MLflow's file-store LIKE (SearchUtils): the regex it builds, run by `re`."""
    body = re.escape(pattern).replace("%", ".*").replace("_", ".")
    body = ("" if pattern.startswith("%") else "^") + body + ("" if pattern.endswith("%") else "$")
    return re.compile(body, flags).match


def test_like_matches_as_mlflows_regex_on_random_patterns():
    # Letters that fold (K and the Kelvin sign), newlines, and the wildcards, in every mix.
    rng = random.Random(13)
    for _ in range(4_000):
        pattern = "".join(rng.choice("aAk%_\n") for _ in range(rng.randint(0, 6)))
        value = "".join(rng.choice("aAkK\u212a\n") for _ in range(rng.randint(0, 7)))
        for op, flags in (("LIKE", 0), ("ILIKE", re.IGNORECASE)):
            theirs = _mlflow_like(pattern, flags)(value) is not None
            run = make_run("r", params={"p": value})
            quoted = pattern.replace("'", "\\'")
            assert parse_filter(f"params.p {op} '{quoted}'")(run) is theirs, (op, pattern, value)


def test_like_with_many_percent_signs_answers_at_once():
    # MLflow's regex backtracks exponentially here: 6 s for five `%a`, minutes for six.
    code = (
        "from store.search import parse_filter\n"
        "from tests.test_search import make_run\n"
        "run = make_run('r', params={'p': 'a' * 100})\n"
        "pattern = '%a' * 40 + '%b'\n"
        "assert not parse_filter(f\"params.p LIKE '{pattern}'\")(run)\n"
        "assert parse_filter(f\"params.p LIKE '{pattern[:-2]}'\")(run)\n"
    )
    root = Path(__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    # A generous bound for a match that takes well under a millisecond; the old regex never ends.
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, timeout=60)
    assert done.returncode == 0


# -- attributes --------------------------------------------------------------------------------
TIMED = [
    make_run("t1", start_time=100, end_time=200, run_name="alpha", status="FINISHED"),
    make_run("t2", start_time=150, end_time=None, run_name="Beta", status="RUNNING"),
    make_run("t3", start_time=300, end_time=400, run_name="beta_2", user_id="bob"),
]


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        ("attributes.start_time > 120", ["t2", "t3"]),
        ("start_time >= 150 and start_time < 300", ["t2"]),
        ("attributes.start_time = 1.5e2", ["t2"]),
        ("created > 120", ["t2", "t3"]),
        ("Created <= 100", ["t1"]),
        ("end_time > 0", ["t1", "t3"]),  # a missing end_time never matches
        ("end_time != 200", ["t3"]),
        ("run_name = 'Beta'", ["t2"]),
        ("attributes.run_name ILIKE 'beta%'", ["t2", "t3"]),
        ("`Run name` LIKE 'b%'", ["t3"]),
        ("\"run name\" = 'alpha'", ["t1"]),
        ("status != 'FINISHED'", ["t2"]),
        ("user_id = 'bob'", ["t3"]),
        ("run_id IN ('t1', 't3')", ["t1", "t3"]),
        ("run_id NOT IN ('t1')", ["t2", "t3"]),
        ("attributes.run_id in ('t2')", ["t2"]),
        ('run_id IN ("t2", "t3",)', ["t2", "t3"]),
        ("run_id = ('t1')", []),  # MLflow compares the string to a tuple: never equal
        ("run_id != ('t1')", ["t1", "t2", "t3"]),
        ("artifact_uri LIKE '%/t2/%'", ["t2"]),
    ],
)
def test_attributes(f, expected):
    assert ids(f, TIMED) == expected


def test_key_aliases_apply_to_every_key_type():
    # MLflow's translate_key_alias runs before the type is looked at: `metrics.created` reads
    # the metric "start_time".
    runs = [make_run("k", metrics={"start_time": 3.0, "created": 9.0})]
    assert ids("metrics.created = 3", runs) == ["k"]


# -- datasets ----------------------------------------------------------------------------------
def test_dataset_clauses_match_any_input():
    runs = [
        make_run("d1", inputs=[dataset("iris", "abc", "training"), dataset("wine", "def", "eval")]),
        make_run("d2", inputs=[dataset("iris", "xyz")]),
        make_run("d3", inputs=[]),
        make_run("d4", inputs=None),  # not loaded: treated as no datasets
    ]
    assert ids("datasets.name = 'iris'", runs) == ["d1", "d2"]
    assert ids("datasets.name != 'iris'", runs) == ["d1"]  # d1 also has 'wine'
    assert ids("dataset.digest IN ('xyz', 'def')", runs) == ["d1", "d2"]
    assert ids("datasets.digest NOT IN ('abc')", runs) == ["d1", "d2"]
    assert ids("datasets.context = 'eval'", runs) == ["d1"]
    assert ids("datasets.context LIKE '%'", runs) == ["d1"]  # d2's input has no context tag
    assert ids("datasets.name ILIKE 'IRIS'", runs) == ["d1", "d2"]


def test_needs_inputs_flag():
    assert parse_filter("datasets.name = 'x'").needs_inputs
    assert not parse_filter("metrics.a > 1 and params.b = 'c'").needs_inputs


# -- and ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "f",
    [
        "metrics.rmse < 1 and params.opt = 'Adam'",
        "metrics.rmse < 1 AND params.opt = 'Adam'",
        "metrics.rmse<1 And params.opt='Adam'",
        "metrics.rmse < 1\nand\nparams.opt = 'Adam'",
        # sqlparse lets MLflow ignore stray ANDs and even a missing one between comparisons.
        "and metrics.rmse < 1 and and params.opt = 'Adam' and",
        "metrics.rmse < 1 params.opt = 'Adam'",
    ],
)
def test_and_spellings(f):
    assert ids(f, RUNS) == ["a"]


def test_clauses_are_recorded_in_mlflow_terms():
    clauses = parse_filter("metrics.`a b` >= 1e3 and tag.x ilike 'y' and run_id IN ('r',)").clauses
    assert [(c.kind, c.key, c.comparator, c.value) for c in clauses] == [
        ("metric", "a b", ">=", 1000.0),
        ("tag", "x", "ILIKE", "y"),
        ("attribute", "run_id", "IN", ("r",)),
    ]


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("f", "token"),
    [
        ("metrics.rmse => 7", "'=>'"),
        ("metrics.rmse == 7", "'=='"),
        ("metrics.rmse <> 7", "'<>'"),
        ("metrics.rmse LIKE '1'", "'LIKE'"),
        ("params.opt > 'a'", "'>'"),
        ("params.opt NOT LIKE 'a'", "'NOT LIKE'"),
        ("params.opt RLIKE 'a'", "'RLIKE'"),
        ("status > 'A'", "'>'"),
        ("datasets.name > 'x'", "'>'"),
        ("metrics.a > 1 or metrics.b < 2", "'OR'"),
        ("metrics.a > 1; metrics.b < 2", "';'"),
        ("(metrics.a > 1)", "'('"),
        ("metrics.a > 1 -- comment", "'-- comment'"),
        ("Metrics.a > 1", "'Metrics'"),
        ('"metrics".a > 1', "'\"metrics\"'"),
        ("foo.a > 1", "'foo'"),
        ("lifecycle_stage = 'active'", "'lifecycle_stage'"),
        ("attributes.experiment_id = '1'", "'experiment_id'"),
        ("datasets.source = 'x'", "'source'"),
        ("params.opt = Adam", "Adam"),
        ("params.opt = 1", "1"),
        ("metrics.rmse > '1'", "'1'"),
        ('metrics.rmse > "1"', '"1"'),
        ("metrics.rmse > nan", "nan"),
        ("metrics.rmse > 0x1F", "'0x1F'"),
        ("metrics.rmse > 1e+5", "1e"),
        ("start_time > '1'", "'1'"),
        ("metrics.rmse IS NULL", "IS NULL"),
        ("status IS NOT NULL", "IS NOT NULL"),
        ("params.opt IN ('a')", "'IN'"),
        ("metrics.rmse IN (1)", "'IN'"),
        ("status IN ('FINISHED')", "'status'"),
        ("run_id IN ()", "()"),
        ("run_id IN (1, 2)", "(1, 2)"),
        ("run_id IN (x)", "(x)"),
        ("run_id LIKE ('a')", "('a')"),
        ("run_id IN 'a'", "IN"),
        ("params.opt = 'Adam", "'"),
        ("params.opt =", "="),
        ("params.opt", "params.opt"),
        ("params.opt IS", "IS"),
        ("params.opt IS NOT  NULL", "NOT  NULL"),
        ("metrics.in > 1", "'in'"),
        ("metrics . a > 1", "metrics"),
        ("metrics.a > 1 tags.b IS NULL", "tags.b IS NULL"),
        ("run_id IN ('a') run_id IN ('b')", "run_id IN ('b')"),
        ("metrics.a > 1 > 2", "'>'"),
    ],
)
def test_bad_filters_raise_one_sentence_naming_the_token(f, token):
    with pytest.raises(FilterError) as info:
        validate_filter(f)
    message = str(info.value)
    assert token in message
    assert message.endswith(".")
    assert "\n" not in message.replace(f, "")  # one line of our own words


def test_error_example_from_the_brief():
    with pytest.raises(FilterError, match=r"Invalid comparator '=>' .*\"metrics.rmse => 7\""):
        parse_filter("metrics.rmse => 7")


def test_filter_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_filter("metrics.a ? 1")


# -- order_by parsing --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("metrics.rmse", SortKey("metric", "rmse", True)),
        ("metrics.rmse ASC", SortKey("metric", "rmse", True)),
        ("metrics.rmse desc", SortKey("metric", "rmse", False)),
        ("metrics.rmse  DESC", SortKey("metric", "rmse", False)),
        ("params.alpha DESC", SortKey("parameter", "alpha", False)),
        ("params.`a b` DESC", SortKey("parameter", "a b", False)),
        ('params."a b"', SortKey("parameter", "a b", True)),
        ("tags.mlflow.runName", SortKey("tag", "mlflow.runName", True)),
        ("start_time", SortKey("attribute", "start_time", True)),
        ("attr.end_time DESC", SortKey("attribute", "end_time", False)),
        ("created DESC", SortKey("attribute", "created", False)),
        ("run_name", SortKey("attribute", "run_name", True)),
    ],
)
def test_parse_order_by(term, expected):
    assert parse_order_by([term]) == [expected]


@pytest.mark.parametrize(
    ("term", "token"),
    [
        (" metrics.rmse", "space"),
        ("metrics.rmse ", "space"),
        ("metrics.rmse ASC DESC", "ASC DESC"),
        ("metrics.rmse DESC NULLS LAST", "DESC NULLS LAST"),
        ("metrics.rmse foo", "foo"),
        ("metrics.a, metrics.b", ", metrics.b"),
        ("`Run name`", "Run name"),  # order_by has no "run name" alias
        ("lifecycle_stage", "lifecycle_stage"),
        ("datasets.name", "datasets.name"),
        ('metrics.`a"b` DESC', "quotes"),
        ("", "Empty"),
    ],
)
def test_bad_order_by(term, token):
    with pytest.raises(FilterError) as info:
        parse_order_by([term])
    assert token in str(info.value)


def test_parse_order_by_accepts_a_single_string_and_none():
    assert parse_order_by("metrics.a DESC") == [SortKey("metric", "a", False)]
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []


# -- ordering ----------------------------------------------------------------------------------
def order(keys: list[str], runs: list[Run]) -> list[str]:
    return [r.run_id for r in order_runs(runs, parse_order_by(keys))]


def test_default_order_is_start_time_desc_then_run_id():
    runs = [
        make_run("b", start_time=10),
        make_run("a", start_time=10),
        make_run("c", start_time=20),
        make_run("z", start_time=None),  # MLflow would crash; we put it last
    ]
    assert order([], runs) == ["c", "a", "b", "z"]


SORTED = [
    make_run("r1", start_time=1, metrics={"m": 2.0}, params={"p": "b"}),
    make_run("r2", start_time=2, metrics={"m": NAN}, params={"p": "a"}),
    make_run("r3", start_time=3, metrics={}, params={}),
    make_run("r4", start_time=4, metrics={"m": -INF}, params={"p": "B"}),
    make_run("r5", start_time=5, metrics={"m": INF}, params={"p": "b"}),
    make_run("r6", start_time=6, metrics={"m": 2.0}),
]


def test_metric_order_puts_nan_then_missing_last_in_both_directions():
    assert order(["metrics.m ASC"], SORTED) == ["r4", "r6", "r1", "r5", "r2", "r3"]
    assert order(["metrics.m DESC"], SORTED) == ["r5", "r6", "r1", "r4", "r2", "r3"]
    assert order(["metrics.m"], SORTED) == order(["metrics.m ASC"], SORTED)


def test_param_order_is_by_code_point_with_missing_last():
    assert order(["params.p"], SORTED) == ["r4", "r2", "r5", "r1", "r6", "r3"]
    assert order(["params.p DESC"], SORTED) == ["r5", "r1", "r2", "r4", "r6", "r3"]


def test_several_keys_apply_left_to_right():
    assert order(["params.p DESC", "metrics.m ASC"], SORTED) == [
        "r1",
        "r5",
        "r2",
        "r4",
        "r6",  # both lack p; then by m, where r3 has none
        "r3",
    ]


def test_attribute_order_and_aliases():
    assert order(["start_time ASC"], SORTED) == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert order(["created"], SORTED) == order(["start_time"], SORTED)
    assert order(["end_time"], TIMED) == ["t1", "t3", "t2"]  # None last
    assert order(["end_time DESC"], TIMED) == ["t3", "t1", "t2"]
    assert order(["run_name DESC"], TIMED) == ["t3", "t1", "t2"]  # 'B' < 'a' < 'b'


def test_order_runs_does_not_touch_its_input():
    runs = list(SORTED)
    order_runs(runs, parse_order_by(["metrics.m"]))
    assert runs == SORTED


def test_filter_and_sort_10000_runs():
    runs = [
        make_run(
            f"{i:032x}",
            start_time=i % 977,
            metrics={"rmse": (i % 101) / 100, "loss": NAN if i % 7 == 0 else float(i % 13)},
            params={"model": ("cnn", "rnn", "Cnn")[i % 3], "alpha": str(i % 17)},
        )
        for i in range(10_000)
    ]
    pred = parse_filter("metrics.rmse < 0.5 and params.model ILIKE 'c%' and metrics.loss != 3")
    kept = [r for r in runs if pred(r)]
    expected = [
        r
        for r in runs
        if r.metrics["rmse"].value < 0.5
        and r.params["model"].lower().startswith("c")
        and r.metrics["loss"].value != 3
    ]
    assert kept == expected
    ordered = order_runs(kept, parse_order_by(["metrics.loss DESC", "params.alpha"]))
    losses = [r.metrics["loss"].value for r in ordered]
    finite = [v for v in losses if not math.isnan(v)]
    assert finite == sorted(finite, reverse=True)
    assert all(math.isnan(v) for v in losses[len(finite) :])

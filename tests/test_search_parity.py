"""mltui.store.search against MLflow 3.17.2 itself.

Three levels, cheapest first:
- parsing: for hundreds of filter strings and order_by terms, whenever we accept one, MLflow
  accepts it and reads the same clauses; where MLflow accepts and we refuse, the string is one of
  the odd shapes we refuse on purpose (see store/search.py);
- matching and sorting on MLflow Run entities built in memory, compared with SearchUtils;
- live stores written by MLflow (a file store and a SQLite store, built once per session),
  compared with MlflowClient.search_runs run id by run id, in order.
"""

from __future__ import annotations

import math
import os
import random
import string
from dataclasses import dataclass, field

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Dataset as MlDataset  # noqa: E402
from mlflow.entities import DatasetInput as MlDatasetInput  # noqa: E402
from mlflow.entities import InputTag, Param, RunData, RunInfo, RunInputs, RunTag, ViewType  # noqa: E402
from mlflow.entities import Metric as MlMetric  # noqa: E402
from mlflow.entities import Run as MlRun  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.utils.search_utils import SearchUtils  # noqa: E402

from mltui.store.entities import Dataset, DatasetInput, Metric, Run  # noqa: E402
from mltui.store.errors import FilterError  # noqa: E402
from mltui.store.search import order_runs, parse_filter, parse_order_by  # noqa: E402

NAN, INF = math.nan, math.inf


# -- helpers -----------------------------------------------------------------------------------
def to_our_run(r: MlRun) -> Run:
    """Our Run from MLflow's (the fallback when no mltui store can read the data)."""
    info, data = r.info, r.data
    inputs = None
    if r.inputs is not None:
        inputs = [
            DatasetInput(
                Dataset(d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source),
                {t.key: t.value for t in d.tags},
            )
            for d in r.inputs.dataset_inputs
        ]
    return Run(
        run_id=info.run_id,
        experiment_id=info.experiment_id,
        run_name=info.run_name or "",
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        lifecycle_stage=info.lifecycle_stage,
        artifact_uri=info.artifact_uri,
        user_id=info.user_id,
        params=dict(data.params),
        metrics={k: Metric(k, v, 0, 0) for k, v in data.metrics.items()},
        tags=dict(data.tags),
        inputs=inputs,
    )


def mlflow_clauses(filter_string: str, probe: MlRun):
    """MLflow's parse of a filter, or the exception it raises parsing or matching one run."""
    try:
        parsed = SearchUtils.parse_search_filter(filter_string)
        for sed in parsed:  # comparators are only checked while matching
            SearchUtils._does_run_match_clause(probe, sed)
    except Exception as exc:  # MLflow also crashes with TypeError/ValueError on some input
        return exc
    return [
        (
            s["type"],
            s["key"],
            s["comparator"].upper(),
            float(s["value"]) if s["type"] == "metric" else s["value"],
        )
        for s in parsed
    ]


def our_clauses(filter_string: str):
    try:
        return [(c.kind, c.key, c.comparator, c.value) for c in parse_filter(filter_string).clauses]
    except FilterError as exc:
        return exc


#: MLflow keys that only its SQL-generic grouping produces (`metrics. > 1` has key "",
#: `params.a = 'x' tags.b IS NULL` the key "a = 'x' tags.b", `metrics.a::x`, `metrics.[a]`).
ODD_KEY_CHARS = set(" \t\n[]*:=<>!~'\"")


def is_odd_shape(parsed) -> bool:
    return any(not key or ODD_KEY_CHARS & set(key) for _, key, _, _ in parsed)


PROBE = MlRun(
    RunInfo("r0", "0", "u", "FINISHED", 1, 2, "active", "file:///x", "n"),
    RunData(),
    RunInputs(
        [MlDatasetInput(MlDataset("d", "g", "local", "{}"), [InputTag("mlflow.data.context", "c")])]
    ),
)


# -- 1. parsing --------------------------------------------------------------------------------
HAND_FILTERS = """\
status = 'FINISHED'
run_name = 'a'
start_time > 1
created > 1
`Run name` = 'x'
"run name" = 'x'
lifecycle_stage = 'active'
metrics.rmse => 7
metrics.rmse > -1
metrics.rmse > +1
metrics.rmse > - 1
metrics.rmse > 1e5
metrics.rmse > 1E-5
metrics.rmse > 1e+5
metrics.rmse > 1.
metrics.rmse > .5
metrics.rmse > 1.e5
metrics.rmse > 0x1F
metrics.rmse > 1 or metrics.a < 2
metrics.rmse > 1 AND metrics.a < 2
metrics.rmse > 1 and metrics.a < 2 ;
metrics.rmse > 1; metrics.a < 2
(metrics.rmse > 1)
metrics.rmse > 1 -- c
metrics.rmse > 1 /* c */
params.x = 'it''s'
params.x = 'it\\'s'
params.x = "dq"
params.x = "a"."b"
params.x = "a""b"
params.x = abc
params.x = 'a' b
params.x NOT LIKE 'a%'
params.x IS NOT  NULL
params.x is not null and params.y IS NULL
run_id IN ('a', 'b')
run_id not  in ('a')
run_id IN ('a' 'b')
run_id IN (r'a')
run_id IN (('a','b'))
run_id = ('a', 'b')
run_id LIKE ('a')
run_id IN ('a') run_id IN ('b')
run_id IN ('a') metrics.a > 1
tags.a IS NULL tags.b IS NULL
params.a = 'x' tags.b IS NULL
datasets.name > 'x'
datasets.context IN ('train', 'eval')
metrics.'loss/train' > 1
`metrics`.a > 1
"metrics".a > 1
metrics.a.b > 1
metrics . a > 1
metrics. a > 1
metrics.a.1 > 1
metrics.x.1a > 1
metrics.in > 1
metrics.input > 1
metrics.[a b] > 1
metrics.a::x > 1
metrics.* > 1
metrics._a$b > 1
metrics.ωa > 1
metrics.größe > 1
metrics.a > 1e5and metrics.b > 1
metrics.a > 1and metrics.b > 1
metrics.a > 1 metrics.b > 1
and metrics.a > 1 and
metrics.'a'.b > 1
metrics."a".b > 1
tags.`a.b` = 'x'
`tags.a` = 'x'
metrics.created > 1
"""

# Building blocks for generated filters: good pieces, plus broken ones mixed in now and then.
_GOOD_NUM_IDS = ["metrics.a", "metric.a", "metrics.`l/t`", 'metrics."a b"', "metrics.'a.b'",
                 "metrics.a.b", "metrics.1a", "start_time", "end_time", "created", "Created",
                 "attr.end_time", "metrics.created", "metrics.x.and", "metrics._a$b"]  # fmt: skip
_GOOD_STR_IDS = ["params.p", "param.p", "parameters.p", "tags.t", "tag.t", "tags.mlflow.runName",
                 "tags.`a.b`", "`tags`.t", "attributes.status", "attr.run_name", "run.user_id",
                 "status", "run_id", "run_name", "artifact_uri", "`Run name`", '"run name"',
                 "datasets.name", "dataset.digest", "datasets.context", "params.'x y'"]  # fmt: skip
_BAD_IDS = ["metrics. a", "metrics.a .b", '"tags".t', "datasets.foo", "lifecycle_stage",
            "Tags.t", "foo.bar", "metrics.in", "metrics.a.1", "metrics.[a]", "metrics.*"]  # fmt: skip
_GOOD_NUMS = ["1", "-1", "1.5", ".5", "1.", "1e5", "1E-5", "-1.5e-3", "01", "1e5and"]
_BAD_NUMS = ["1e+5", "0x1F", "'1'", '"1"', "nan", "x", "(1)", "- 1", "1and"]
_GOOD_STRS = ["'x'", '"x"', "'%x%'", "'x_'", "''", "'it''s'", "'a\\'", "'größe'", "'a\"b'",
              '"a\'b"', '"a"."b"', '""']  # fmt: skip
_BAD_STRS = ["x", "1", "NULL", "('a')", "'x", '"a".b', "'a'.'b'"]
_GOOD_LISTS = ["('a')", "('a', 'b')", "('a',)", '("a", "b")', "(('a','b'))", "('x)')", "(r'a')"]
_BAD_LISTS = ["()", "(x)", "(1, 2)", "'a'", "('a'"]
_GOOD_NUM_OPS = ["=", "!=", ">", ">=", "<", "<="]
_GOOD_STR_OPS = ["=", "!=", "LIKE", "like", "ILIKE", "iLike"]
_BAD_OPS = ["==", "=>", "<>", "~", "!", "NOT LIKE", "RLIKE", "IN", "REGEXP", "::"]
_GOOD_JOINS = [" and ", " AND ", " And ", "\nand\n", " and and ", " "]
_BAD_JOINS = [" or ", "; ", ", ", " && ", "and"]


def generated_filters(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)

    def pick(good: list[str], bad: list[str]) -> str:
        return rng.choice(bad if rng.random() < 0.06 else good)

    def sp() -> str:
        return rng.choice([" ", " ", "", "  ", "\t", "\n"])

    def clause() -> str:
        r = rng.random()
        if r < 0.35:
            ident, op = pick(_GOOD_NUM_IDS, _BAD_IDS), pick(_GOOD_NUM_OPS, _BAD_OPS)
            return ident + sp() + op + sp() + pick(_GOOD_NUMS, _BAD_NUMS)
        ident = pick(_GOOD_STR_IDS, _BAD_IDS + _GOOD_NUM_IDS)
        if r < 0.7:
            op = pick(_GOOD_STR_OPS, _BAD_OPS)
            return ident + sp() + op + sp() + pick(_GOOD_STRS, _BAD_STRS)
        if r < 0.85:
            negation = rng.choice(["IN", "in", "NOT IN", "not  In", "NOT\nIN"])
            return f"{ident} {negation}{sp()}{pick(_GOOD_LISTS, _BAD_LISTS)}"
        null = rng.choice([" IS NULL", " is not null", " Is  Null", "\tIS\tNULL", " IS NOT  NULL"])
        return ident + null

    out = []
    for _ in range(n):
        text = clause()
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            text += pick(_GOOD_JOINS, _BAD_JOINS) + clause()
        if rng.random() < 0.05:
            text = rng.choice(["and ", " ", "("]) + text + rng.choice([" and", " ", ")", ";"])
        out.append(text)
    return out


def test_filter_parsing_matches_mlflow():
    filters = HAND_FILTERS.splitlines() + generated_filters(1500, seed=20240617)
    accepted = refused_on_purpose = 0
    for f in filters:
        theirs, ours = mlflow_clauses(f, PROBE), our_clauses(f)
        if not isinstance(ours, Exception):
            assert not isinstance(theirs, Exception), f"we accept {f!r}; MLflow says {theirs}"
            assert ours == theirs, f"{f!r} is read differently"
            accepted += 1
        elif not isinstance(theirs, Exception):
            assert is_odd_shape(theirs), f"we refuse {f!r} ({ours}) but MLflow reads {theirs}"
            refused_on_purpose += 1
    # The generator must exercise both outcomes, or this test proves little.
    assert accepted > 300
    assert refused_on_purpose < accepted / 10


ORDER_TERMS = [
    "metrics.rmse", "metrics.rmse DESC", "metrics.rmse desc", "metrics.rmse Asc",
    " metrics.rmse", "metrics.rmse ", "metrics.rmse  DESC", "metrics.rmse\tDESC",
    "metrics.rmse ASC DESC", "metrics.rmse foo", "metrics.rmse DESC NULLS LAST",
    "params.`a b` DESC", "params.`a b`", 'params."a b" DESC', 'params."a b"', "params.'a b' DESC",
    "params.'a b'", '"params".a DESC', '"params".a', "start_time", "start_time DESC",
    "created DESC", "Created", "`Run name`", "run_name", "run name", "lifecycle_stage",
    "experiment_id", "tags.mlflow.runName DESC", 'metrics.`a"b` DESC', "metrics.`it's` DESC",
    "metrics.`it's`", "timestamp", "timestamp DESC", "attributes.start_time ASC",
    "attr.end_time", "metrics.a, metrics.b", "`metrics`.a DESC", "metrics.a;", "metric.a DESC",
    "status", "user_id desc", "artifact_uri", "run_id", "metrics.in", "metrics.1a DESC",
    "metrics.'a'DESC", "Metrics.a", "",
]  # fmt: skip


@pytest.mark.parametrize("term", ORDER_TERMS)
def test_order_by_parsing_matches_mlflow(term):
    try:
        theirs = SearchUtils.parse_order_by_for_search_runs(term)
    except Exception as exc:
        theirs = exc
    try:
        key = parse_order_by([term])[0]
        ours = (key.kind, key.key, key.ascending)
    except FilterError as exc:
        ours = exc
    if isinstance(ours, Exception):
        # MLflow accepts `datasets.name` here but fails when it sorts.
        assert isinstance(theirs, Exception) or theirs[0] == "dataset", (theirs, ours)
    else:
        assert ours == theirs


# -- 2. matching and sorting on in-memory runs --------------------------------------------------
def random_runs(n: int, seed: int) -> list[MlRun]:
    rng = random.Random(seed)
    values = [0.0, 0.5, 1.0, 1.0, 2.5, -3.0, NAN, INF, -INF, 1e308]
    words = ["Adam", "adam", "ADAM", "sgd_%", "sgdX%", "a b", "größe", "", "x\ny", "Éclair"]
    runs = []
    for _ in range(n):
        metrics = [MlMetric(k, rng.choice(values), 0, 0) for k in ("m", "n") if rng.random() < 0.8]
        params = [Param(k, rng.choice(words)) for k in ("p", "q") if rng.random() < 0.8]
        tags = [RunTag("t", rng.choice(words))] if rng.random() < 0.7 else []
        datasets = [
            MlDatasetInput(
                MlDataset(rng.choice(["iris", "wine"]), rng.choice(["d1", "d2"]), "local", "{}"),
                [InputTag("mlflow.data.context", rng.choice(["train", "eval"]))]
                if rng.random() < 0.7
                else [],
            )
            for _ in range(rng.choice([0, 1, 2]))
        ]
        run_id = "".join(rng.choice(string.hexdigits[:16]) for _ in range(8))
        end = rng.choice([None, 50, 150])
        info = RunInfo(
            run_id, "1", rng.choice(["alice", "bob"]), rng.choice(["FINISHED", "FAILED"]),
            rng.choice([10, 20, 20, 30]), end, "active", f"file:///a/{run_id}",
            rng.choice(["alpha", "Beta", "beta_2"]),
        )  # fmt: skip
        runs.append(MlRun(info, RunData(metrics, params, tags), RunInputs(datasets)))
    return runs


EVAL_FILTERS = [
    "metrics.m = 1", "metrics.m != 1", "metrics.m < 1", "metrics.m <= 1", "metrics.m > 0.5",
    "metrics.m >= -3", "metrics.m > 1e307", "metrics.m < -1e308", "metrics.m != 0",
    "metrics.m > 0 and metrics.n < 1", "params.p = 'Adam'", "params.p != 'Adam'",
    "params.p LIKE 'a%'", "params.p ILIKE 'a%'", "params.p LIKE 'sgd_%'", "params.p LIKE '%\\%'",
    "params.p LIKE '%'", "params.p LIKE ''", "params.p = ''", "params.p ILIKE 'GRÖSSE'",
    "params.p ILIKE 'éclair'", "params.p LIKE 'x%'", "params.p LIKE '%y'", "params.p LIKE 'x_y'",
    "params.p IS NULL", "params.q IS NOT NULL", "tags.t ILIKE '%a%'", "tags.t IS NULL",
    "status = 'FAILED'", "status != 'FAILED'", "run_name LIKE 'b%'", "`Run name` ILIKE 'B%'",
    "user_id = 'bob'", "start_time > 15", "created <= 20", "end_time > 100", "end_time != 50",
    "datasets.name = 'iris'", "datasets.name != 'iris'", "datasets.digest IN ('d2')",
    "datasets.context = 'train'", "datasets.context NOT IN ('train')", "artifact_uri LIKE '%/a/a%'",
    "metrics.m >= 0 and params.p ILIKE '%a%' and tags.t IS NOT NULL",
]  # fmt: skip
EVAL_ORDERS = [
    [], ["metrics.m"], ["metrics.m DESC"], ["params.p"], ["params.p DESC", "metrics.n"],
    ["tags.t", "metrics.m DESC"], ["start_time"], ["end_time DESC"], ["created"],
    ["run_name DESC", "user_id"], ["status", "params.q DESC", "metrics.n ASC"],
    ["metrics.missing DESC"], ["run_id DESC"],
]  # fmt: skip


MATCH_NOTHING = {
    "params.p LIKE '%\\%'",  # no value holds a backslash
    "params.p ILIKE 'GRÖSSE'",  # re's IGNORECASE does not fold ß to SS
    "params.p LIKE '%y'",  # "x\ny": the regex `.` does not cross the newline
    "params.p LIKE 'x_y'",  # nor does `_`
}


def test_matching_matches_mlflow_searchutils():
    ml_runs = random_runs(120, seed=7)
    ours = [to_our_run(r) for r in ml_runs]
    for f in EVAL_FILTERS:
        expected = [r.info.run_id for r in SearchUtils.filter(ml_runs, f)]
        pred = parse_filter(f)
        assert [r.run_id for r in ours if pred(r)] == expected, f
        if f not in MATCH_NOTHING:  # every other filter should split the runs
            assert 0 < len(expected) < len(ml_runs), f


@pytest.mark.parametrize("order_by", EVAL_ORDERS, ids=str)
def test_sorting_matches_mlflow_searchutils(order_by):
    ml_runs = random_runs(120, seed=11)
    expected = [r.info.run_id for r in SearchUtils.sort(ml_runs, order_by)]
    ours = order_runs([to_our_run(r) for r in ml_runs], parse_order_by(order_by))
    assert [r.run_id for r in ours] == expected


# -- 3. live stores written by MLflow -----------------------------------------------------------
@dataclass
class Spec:
    name: str
    exp: str
    start: int
    status: str = "FINISHED"
    metrics: dict[str, list[float]] = field(default_factory=dict)  # one value per step
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[tuple[str, str, str]] = field(default_factory=list)
    deleted: bool = False


SPECS = [
    Spec("adam_fast", "a", 1000, metrics={"rmse": [0.5], "acc": [0.9], "loss/train": [2.0]},
         params={"opt": "Adam", "lr": "0.1"}, tags={"team": "vision"},
         datasets=[("iris", "abc", "training")]),
    Spec("adam_slow", "a", 1000, metrics={"rmse": [0.5], "acc": [0.8]},
         params={"opt": "adam", "lr": "0.01"},
         datasets=[("iris", "abc", "eval"), ("wine", "def", "training")]),
    Spec("sgd_nan", "a", 2000, "FAILED", metrics={"rmse": [NAN], "acc": [0.7]},
         params={"opt": "sgd_%"}, tags={"team": "Vision"}),
    Spec("sgd_inf", "a", 3000, "RUNNING", metrics={"rmse": [INF]},
         params={"opt": "sgdX%"}, tags={"note": "100%"}),
    Spec("neg_inf", "a", 500, "KILLED", metrics={"rmse": [-INF]},
         params={"opt": "rmsprop", "größe": "groß"}, tags={"unicode": "Éclair"}),
    Spec("bare", "a", 1500),
    Spec("multi_step", "a", 2500, metrics={"rmse": [3.0, 1.0, 2.0]}, params={"opt": "Adam"}),
    Spec("b_one", "b", 1200, metrics={"rmse": [0.25]}, params={"opt": "Adam"},
         tags={"team": "vision"}),
    Spec("b_two", "b", 1200, metrics={"rmse": [NAN]}, params={"opt": "ADAM"}),
    Spec("b_newline", "b", 100, params={"note": "x\ny"}),
    Spec("gone", "a", 4000, metrics={"rmse": [0.1]}, params={"opt": "Adam"}, deleted=True),
]  # fmt: skip


@dataclass
class LiveStore:
    client: MlflowClient
    exp_ids: list[str]
    ids: dict[str, str]  # run name -> run id
    runs: list[Run]  # active runs read by mltui (or converted from MLflow when it cannot)
    all_runs: list[Run]  # deleted ones too
    ours: object | None  # the mltui Store, when there is one


def write_runs(client: MlflowClient) -> tuple[list[str], dict[str, str]]:
    exp_ids = {e: client.create_experiment(f"search-{e}") for e in ("a", "b")}
    ids = {}
    for spec in SPECS:
        run = client.create_run(exp_ids[spec.exp], start_time=spec.start, run_name=spec.name)
        run_id = run.info.run_id
        ids[spec.name] = run_id
        client.log_batch(
            run_id,
            metrics=[
                MlMetric(k, v, spec.start + step, step)
                for k, values in spec.metrics.items()
                for step, v in enumerate(values)
            ],
            params=[Param(k, v) for k, v in spec.params.items()],
            tags=[RunTag(k, v) for k, v in spec.tags.items()],
        )
        if spec.datasets:
            client.log_inputs(
                run_id,
                datasets=[
                    MlDatasetInput(
                        MlDataset(name, digest, "local", "{}"),
                        [InputTag("mlflow.data.context", context)],
                    )
                    for name, digest, context in spec.datasets
                ],
            )
        if spec.status != "RUNNING":
            client.set_terminated(run_id, spec.status, end_time=spec.start + 100)
        if spec.deleted:
            client.delete_run(run_id)
    return [exp_ids["a"], exp_ids["b"]], ids


def read_with_mltui(store, exp_ids: list[str], include_deleted: bool) -> list[Run]:
    runs = store.runs(exp_ids, include_deleted=include_deleted)
    # iter_runs may leave inputs unread; datasets.* clauses need them (RunFilter.needs_inputs).
    return [store.run(r.run_id) if r.inputs is None else r for r in runs]


def open_live_store(uri: str, open_ours) -> LiveStore:
    client = MlflowClient(tracking_uri=uri)
    exp_ids, ids = write_runs(client)
    try:
        ours = open_ours()
    except ImportError:  # that backend is not written yet: read MLflow's entities instead
        ours = None
    if ours is not None:
        runs = read_with_mltui(ours, exp_ids, include_deleted=False)
        all_runs = read_with_mltui(ours, exp_ids, include_deleted=True)
    else:
        ml = client.search_runs(exp_ids, run_view_type=ViewType.ALL, max_results=1000)
        all_runs = [to_our_run(r) for r in ml]
        runs = [r for r in all_runs if r.lifecycle_stage == "active"]
    return LiveStore(client, exp_ids, ids, runs, all_runs, ours)


@pytest.fixture(scope="session")
def file_store(tmp_path_factory) -> LiveStore:
    root = tmp_path_factory.mktemp("search-file") / "mlruns"
    old = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

    def open_ours():
        from mltui.store.file.reader import FileStore

        return FileStore(root, use_cache=False)

    try:
        yield open_live_store(root.as_uri(), open_ours)
    finally:
        if old is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = old


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory) -> LiveStore:
    db = tmp_path_factory.mktemp("search-sqlite") / "mlflow.db"

    def open_ours():
        from mltui.store.sqlite.reader import SqliteStore

        return SqliteStore(db)

    live = open_live_store(f"sqlite:///{db}", open_ours)
    yield live
    if live.ours is not None:
        live.ours.close()


STORE_FILTERS = [
    "",
    "metrics.rmse < 1",
    "metrics.rmse != 0.5",
    "metrics.rmse = 0.5",
    "metrics.rmse > 1e308",
    "metrics.rmse >= -1E308",
    "metrics.rmse <= .5",
    "metrics.rmse = 2",  # multi_step's latest point is at the highest step, not the last logged
    "metrics.acc > 0.75 and metrics.rmse < 1",
    "metrics.`loss/train` = 2",
    'metric."loss/train" >= 2',
    "metrics.missing != 1",
    "params.opt = 'Adam'",
    'params.opt = "adam"',
    "params.opt != 'Adam'",
    "params.opt LIKE 'a%'",
    "params.opt ILIKE 'adam'",
    "params.opt LIKE 'sgd_%'",
    "params.opt LIKE '_dam'",
    "params.opt LIKE '%X%'",
    "params.opt IS NULL",
    "params.lr IS NOT NULL and params.opt ILIKE '%A%'",
    "params.größe = 'groß'",
    "params.note LIKE 'x%'",
    "tags.team = 'vision'",
    "tags.team ILIKE 'VISION'",
    "tags.note LIKE '100%'",
    "tags.mlflow.runName LIKE 'adam%'",
    "tags.`mlflow.runName` = 'bare'",
    "attributes.status = 'FINISHED'",
    "status != 'FINISHED'",
    "run_name ILIKE '%SLOW'",
    "`Run name` = 'bare'",
    "attributes.start_time >= 1500",
    "created < 1500",
    "end_time > 0",
    "user_id LIKE '%'",
    "artifact_uri LIKE '%artifacts'",
    "run_id IN ('{adam_fast}', '{b_one}')",
    "run_id NOT IN ('{adam_fast}')",
    "datasets.name = 'iris'",
    "datasets.context = 'training'",
    "datasets.digest IN ('def', 'zzz')",
    "datasets.name != 'iris'",
    "and metrics.rmse < 1 and and params.opt = 'Adam' and",
    "metrics.rmse < 1 params.opt = 'Adam'",
]
#: Where MLflow's SQL store answers differently from its file store (whose answers we give).
SQL_DIFFERENT = {
    # SQLite's lower() folds ASCII only, so ILIKE misses É/é; Python's re folds it.
    "tags.unicode ILIKE 'éclair'",
    # SQL LIKE's % and _ match a newline; the file store's regex `.` does not.
    "params.note LIKE '%y'",
    "params.note LIKE 'x_y'",
}
STORE_FILTERS += sorted(SQL_DIFFERENT)

REJECTED = [
    "metrics.rmse => 7",
    "metrics.rmse > 1 or params.opt = 'Adam'",
    "params.opt > 'a'",
    "metrics.rmse LIKE '%'",
    "lifecycle_stage = 'active'",
    "params.opt = Adam",
    "metrics.rmse IS NULL",
    "status IN ('FINISHED')",
    "datasets.name > 'a'",
    "(metrics.rmse < 1)",
    "metrics.rmse < 1;",
    "params.opt NOT LIKE 'a'",
    "metrics.rmse > 0x10",
]

STORE_ORDERS = [
    [],
    ["metrics.rmse"],
    ["metrics.rmse DESC"],
    ["metrics.acc ASC"],
    ["params.opt"],
    ["params.opt DESC"],
    ["params.opt", "metrics.rmse DESC"],
    ["tags.team DESC", "start_time ASC"],
    ["start_time"],
    ["created DESC"],
    ["end_time"],
    ["end_time DESC"],
    ["run_name"],
    ["status DESC", "metrics.rmse"],
    ["metrics.`loss/train` DESC"],
    ["params.lr DESC", "params.opt"],
    ["artifact_uri"],
]


def mlflow_ids(live: LiveStore, f: str, order_by: list[str], view=ViewType.ACTIVE_ONLY):
    found = live.client.search_runs(
        live.exp_ids, f, run_view_type=view, max_results=1000, order_by=order_by
    )
    return [r.info.run_id for r in found]


def our_ids(runs: list[Run], f: str, order_by: list[str]) -> list[str]:
    pred = parse_filter(f)
    return [r.run_id for r in order_runs([r for r in runs if pred(r)], parse_order_by(order_by))]


@pytest.mark.parametrize("f", STORE_FILTERS)
def test_file_store_filters(file_store, f):
    f = f.format(**file_store.ids)
    assert our_ids(file_store.runs, f, []) == mlflow_ids(file_store, f, [])


@pytest.mark.parametrize("order_by", STORE_ORDERS, ids=str)
def test_file_store_orders(file_store, order_by):
    assert our_ids(file_store.runs, "", order_by) == mlflow_ids(file_store, "", order_by)
    f = "params.opt ILIKE '%a%'"
    assert our_ids(file_store.runs, f, order_by) == mlflow_ids(file_store, f, order_by)


def test_file_store_with_deleted_runs(file_store):
    f, order_by = "metrics.rmse < 1", ["metrics.rmse"]
    theirs = mlflow_ids(file_store, f, order_by, view=ViewType.ALL)
    assert our_ids(file_store.all_runs, f, order_by) == theirs
    assert file_store.ids["gone"] in theirs


@pytest.mark.parametrize("f", REJECTED)
def test_filters_mlflow_rejects_raise(file_store, f):
    with pytest.raises(MlflowException):
        file_store.client.search_runs(file_store.exp_ids, f)
    with pytest.raises(FilterError):
        parse_filter(f)


def test_store_search_runs_wiring(file_store):
    """Store.search_runs (store/base.py) gives MLflow's answer for an ordinary query."""
    if file_store.ours is None:
        pytest.skip("mltui.store.file.reader is not there yet")
    f, order_by = "params.opt ILIKE 'adam' and metrics.rmse < 1", ["metrics.rmse DESC"]
    found = file_store.ours.search_runs(file_store.exp_ids, f, order_by)
    assert [r.run_id for r in found] == mlflow_ids(file_store, f, order_by)


@pytest.mark.parametrize("f", STORE_FILTERS)
def test_sqlite_store_filters(sqlite_store, file_store, f):
    names = {v: k for k, v in sqlite_store.ids.items()}
    ours = our_ids(sqlite_store.runs, f.format(**sqlite_store.ids), [])
    theirs = mlflow_ids(sqlite_store, f.format(**sqlite_store.ids), [])
    if f in SQL_DIFFERENT:
        assert ours != theirs
        # ...and what we give is the file store's answer on the same data.
        file_answer = mlflow_ids(file_store, f.format(**file_store.ids), [])
        file_names = {v: k for k, v in file_store.ids.items()}
        assert sorted(names[i] for i in ours) == sorted(file_names[i] for i in file_answer)
    else:
        assert ours == theirs


@pytest.mark.parametrize("order_by", STORE_ORDERS, ids=str)
def test_sqlite_store_orders(sqlite_store, order_by):
    # MLflow's SQL store sorts like its file store: values, then NaN, then missing, whichever
    # the direction; ties by start_time DESC then run id.
    assert our_ids(sqlite_store.runs, "", order_by) == mlflow_ids(sqlite_store, "", order_by)

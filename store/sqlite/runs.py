"""Reading experiments and runs from an MLflow database: each run with its params, latest
metrics, tags, dataset inputs and model outputs, in short read transactions (`iter_runs`).

SQLite keeps any type in any column: a value of another type than MLflow writes is repaired
(`_repaired_row`, `_put_value`, `_checked_point`) with one warning naming the run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from operator import itemgetter

from ..entities import (
    ACTIVE,
    TAG_RUN_NAME,
    Dataset,
    DatasetInput,
    Experiment,
    Metric,
    ModelOutput,
    Run,
)
from ..process import GcPause
from ..values import as_text, as_time, shown
from .database import int_ids, not_deleted
from .metrics import _NAN, MetricReading

#: Runs read in one read transaction by `iter_runs`: a writer in rollback-journal mode waits
#: for at most one such transaction (~2.5 ms of CPU for 100 runs of 29 rows each); smaller
#: chunks measured no shorter waits (tests/bench/bench_sqlite_lock.py).
RUNS_PER_TRANSACTION = 100
#: Runs handed over per batch by `iter_runs`.
RUN_BATCH = 1000
#: The types a column holds as MLflow writes it; SQLite keeps any type anywhere, so a row with
#: another is repaired (`_repaired_row`). Checked with map(isinstance, ...), in C.
_TEXT = (str, type(None))
_TIME = (int, type(None))
_RUN_FIELDS = ("run_uuid", "experiment_id", "name", "status", "start_time", "end_time",
               "lifecycle_stage", "artifact_uri", "user_id", "deleted_time")  # fmt: skip
#: Columns every MLflow schema has; MLflow's defaults for the others a schema may lack.
_RUN_KEYS = frozenset({"run_uuid", "experiment_id"})
_RUN_DEFAULTS = {"status": "'RUNNING'", "lifecycle_stage": repr(ACTIVE)}
_RUN_TYPES = ((str,), (int, str), _TEXT, _TEXT, _TIME, _TIME, _TEXT, _TEXT, _TEXT, _TIME)
_EXPERIMENT_FIELDS = ("experiment_id", "name", "artifact_location", "lifecycle_stage",
                      "creation_time", "last_update_time")  # fmt: skip
_EXPERIMENT_TYPES = ((int, str), (str,), _TEXT, _TEXT, _TIME, _TIME)
_SECOND = itemgetter(1)


class RunReading(MetricReading):
    """Experiments and runs, as MLflow's search_experiments and search_runs return them."""

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        """Experiments with their tags, ordered by id; active ones only unless `include_deleted`."""
        c = self.col
        stage = c("experiments", "lifecycle_stage", repr(ACTIVE))
        where = "" if include_deleted else f"WHERE {not_deleted(stage)}"
        sql = (
            f"SELECT experiment_id, name, {c('experiments', 'artifact_location')}, "
            f"{stage}, {c('experiments', 'creation_time')}, "
            f"{c('experiments', 'last_update_time')} "
            f"FROM experiments {where} ORDER BY experiment_id"
        )

        def read(conn: sqlite3.Connection) -> list[Experiment]:
            exps = {}
            for row in conn.execute(sql):
                if not all(map(isinstance, row, _EXPERIMENT_TYPES)):
                    row = self._repaired_row("experiment", row, _EXPERIMENT_FIELDS,
                                             _EXPERIMENT_TYPES)  # fmt: skip
                    if row is None:
                        continue
                eid, name, location, lifecycle, created, updated = row
                exps[eid] = Experiment(
                    experiment_id=str(eid),
                    name=name,
                    artifact_location=location,
                    lifecycle_stage=lifecycle or ACTIVE,
                    creation_time=created,
                    last_update_time=updated,
                )
            if self.has("experiment_tags") and exps:
                for key, value, eid in conn.execute(
                    "SELECT key, value, experiment_id FROM experiment_tags"
                ):
                    exp = exps.get(eid)
                    if exp is not None:
                        self._put_value(exp.tags, f"experiment {eid}", "tag", key, value)
            return list(exps.values())

        return self.read(read)

    def _run_columns(self, fields: Sequence[str] = _RUN_FIELDS) -> str:
        """`fields` of `runs`, one missing from an older schema as MLflow's default."""
        return ", ".join(
            f if f in _RUN_KEYS else self.col("runs", f, _RUN_DEFAULTS.get(f, "NULL"))
            for f in fields
        )

    def _repaired_row(self, what: str, row: tuple, fields: tuple, types: tuple) -> tuple | None:
        """`row` with each value of the wrong type made text or an empty time, one warning
        each; None (after a warning) when its id is not usable."""
        if not isinstance(row[0], types[0]) or not isinstance(row[1], types[1]):
            self.warnings.add(
                f"a {what} with {fields[0]} {shown(row[0])} and {fields[1]} {shown(row[1])} "
                "is skipped: not an id"
            )
            return None
        out = list(row)
        for i in range(2, len(row)):
            if isinstance(row[i], types[i]):
                continue
            if types[i] is _TIME:
                out[i], ok = as_time(row[i])
                said = "not a time; left empty" if not ok else f"read as {out[i]}"
            else:
                out[i], ok = as_text(row[i])
                said = f"not text; shown as {shown(out[i])}"
            self.warnings.add(f"{what} {row[0]}: {fields[i]} {shown(row[i])} is {said}")
        return tuple(out)

    def _run_of(self, row) -> Run | None:
        """The Run of a `run_columns` row; None (after a warning) when it has no usable id."""
        if not all(map(isinstance, row, _RUN_TYPES)):
            row = self._repaired_row("run", row, _RUN_FIELDS, _RUN_TYPES)
            if row is None:
                return None
        run_id, eid, name, status, start, end, stage, uri, user, deleted = row
        return Run(
            run_id=run_id,
            experiment_id=str(eid),
            run_name=name,
            status=status,
            start_time=start,
            end_time=end,
            lifecycle_stage=stage or ACTIVE,
            artifact_uri=uri,
            user_id=user,
            deleted_time=deleted,
        )

    def iter_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        include_deleted: bool = False,
        batch_size: int = RUN_BATCH,
    ) -> Iterator[list[Run]]:
        """Runs with params, latest metrics, tags, dataset inputs and model outputs, in batches."""
        where: list[str] = []
        args: list = []
        if experiment_ids is not None:
            ids = int_ids(experiment_ids)
            if not ids:
                return
            where.append(f"experiment_id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        if not include_deleted:
            where.append(not_deleted(self.col("runs", "lifecycle_stage", repr(ACTIVE))))
            if experiment_ids is None:
                exp_stage = self.col("experiments", "lifecycle_stage", repr(ACTIVE))
                where.append(
                    "experiment_id IN (SELECT experiment_id FROM experiments "
                    f"WHERE {not_deleted(exp_stage)})"
                )
        where_sql = "".join(f"{clause} AND " for clause in where)
        # Newest first, as MLflow's search_runs orders by default (start_time DESC, run_uuid).
        order = f"{self.col('runs', 'start_time', '0')} DESC, run_uuid"
        ids_sql = f"SELECT run_uuid, rowid FROM runs WHERE {where_sql}1 ORDER BY {order}"
        rows = self.read(lambda conn: conn.execute(ids_sql, args).fetchall())
        # The first batch, newest first, so that it shows at once; the rest in the order the
        # runs were written, as their params, tags and metrics mostly were: neighbouring rows
        # make index probes ~1.35x cheaper than in start-time order (nearly a full scan's cost).
        rest = sorted(rows[batch_size:], key=_SECOND)
        run_ids = [rid for rid, _ in chain(rows[:batch_size], rest)]
        runs_sql = f"SELECT {self._run_columns()} FROM runs WHERE {where_sql}run_uuid IN "

        def chunk(part: Sequence[str]) -> list[Run]:
            # One run's row, params, tags and metrics come from one state of the database; the
            # row is read again here, so a run deleted since the listing is left out.
            def read(conn: sqlite3.Connection):
                sql = f"{runs_sql}({','.join('?' * len(part))})"
                return conn.execute(sql, [*args, *part]).fetchall(), self._run_rows(conn, part)

            run_rows, rows = self.read(read)
            runs = {run.run_id: run for run in map(self._run_of, run_rows) if run is not None}
            self._fill_runs(runs, rows)
            return [runs[rid] for rid in part if rid in runs]

        # Each chunk is a read transaction of its own: a writer in rollback-journal mode waits
        # for one chunk to end, never for the whole scan.
        for start in range(0, len(run_ids), batch_size):
            batch = run_ids[start : start + batch_size]
            with GcPause():
                runs = [
                    run
                    for at in range(0, len(batch), RUNS_PER_TRANSACTION)
                    for run in chunk(batch[at : at + RUNS_PER_TRANSACTION])
                ]
            yield runs

    def experiment_activity(
        self, include_deleted: bool = False, deleted_runs: bool | None = None
    ) -> dict[str, tuple[int, int | None]]:
        """Run count and latest start or end time per experiment, counted by SQLite itself."""
        # Times of another type (run() warns about them) are left out: SQLite ranks text and
        # blobs above every number.
        start, end = (
            f"CASE WHEN typeof({c}) = 'integer' THEN {c} END"
            for c in (self.col("runs", "start_time"), self.col("runs", "end_time"))
        )
        sql = f"SELECT experiment_id, count(*), max({start}), max({end}) FROM runs"
        wheres = []
        if not (include_deleted if deleted_runs is None else deleted_runs):
            wheres.append(not_deleted(self.col("runs", "lifecycle_stage", repr(ACTIVE))))
        if not include_deleted:
            exp_stage = self.col("experiments", "lifecycle_stage", repr(ACTIVE))
            wheres.append(
                "experiment_id IN (SELECT experiment_id FROM experiments"
                f" WHERE {not_deleted(exp_stage)})"
            )
        if wheres:
            sql += " WHERE " + " AND ".join(wheres)
        sql += " GROUP BY experiment_id"
        rows = self.read(lambda conn: conn.execute(sql).fetchall())
        out: dict[str, tuple[int, int | None]] = {}
        for experiment_id, count, last_start, last_end in rows:
            times = [t for t in (last_start, last_end) if t is not None]
            out[str(experiment_id)] = (count, max(times) if times else None)
        return out

    def run(self, run_id: str) -> Run | None:
        """One run in full (inputs and outputs included); None when there is no such run."""
        sql = f"SELECT {self._run_columns()} FROM runs WHERE run_uuid = ?"

        def read(conn: sqlite3.Connection):
            row = conn.execute(sql, (run_id,)).fetchone()
            return row, row and self._run_rows(conn, [run_id])

        row, rows = self.read(read)
        if row is None:
            return None
        run = self._run_of(row)
        if run is not None:
            self._fill_runs({run.run_id: run}, rows)
        return run

    def _rows(self, conn: sqlite3.Connection, sql: str, column: str, ids: Sequence) -> list:
        """Rows of `sql` whose `column` is in `ids`, by chunks of ids.

        `sql` ends in a WHERE clause (possibly `WHERE 1`). Cursors are chained and listed in C,
        not re-yielded row by row: this carries hundreds of thousands of rows.
        """
        return list(
            chain.from_iterable(
                conn.execute(f"{sql} AND {column} IN ({marks})", part)
                for part, marks in self.id_chunks(ids)
            )
        )

    def _run_rows(self, conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, list]:
        """The rows that fill the runs `ids` (params, tags, latest metrics, dataset inputs and
        their tags, model outputs), by table. Only fetched here: objects are built from them
        by `_fill_runs` once the read transaction has ended, so a writer waits less."""
        c = self.col
        out: dict[str, list] = {}
        for table in ("params", "tags"):
            if self.has(table):
                sql = f"SELECT run_uuid, key, value FROM {table} WHERE 1"
                out[table] = self._rows(conn, sql, "run_uuid", ids)
        table = "latest_metrics" if self.has("latest_metrics") else "metrics"
        if self.has(table):
            sql = (
                f"SELECT run_uuid, key, value, {c(table, 'timestamp', '0')}, "
                f"{c(table, 'step', '0')}, {c(table, 'is_nan', '0')} FROM {table} WHERE 1"
            )
            out[table] = self._rows(conn, sql, "run_uuid", ids)
        if not self.has("inputs"):
            return out
        if self.has("datasets"):
            d = "datasets"
            sql = (
                "SELECT i.input_uuid, i.destination_id, d.dataset_uuid, d.name, d.digest, "
                f"{c(d, 'dataset_source_type')}, {c(d, 'dataset_source')}, "
                f"{c(d, 'dataset_schema')}, {c(d, 'dataset_profile')} "
                "FROM inputs i JOIN datasets d ON i.source_id = d.dataset_uuid "
                "WHERE i.destination_type = 'RUN'"
            )
            out["datasets"] = rows = self._rows(conn, sql, "i.destination_id", ids)
            if rows and self.has("input_tags"):
                sql = "SELECT input_uuid, name, value FROM input_tags WHERE 1"
                out["input_tags"] = self._rows(conn, sql, "input_uuid", [r[0] for r in rows])
        # MLflow 3 records "run produced logged model" as an inputs row
        # (RUN_OUTPUT -> MODEL_OUTPUT); SqlAlchemyStore._get_model_outputs reads it back.
        sql = (
            f"SELECT source_id, destination_id, {c('inputs', 'step', '0')} "
            "FROM inputs WHERE source_type = 'RUN_OUTPUT' AND destination_type = 'MODEL_OUTPUT'"
        )
        out["outputs"] = self._rows(conn, sql, "source_id", ids)
        return out

    def _fill_runs(self, runs: dict[str, Run], rows: dict[str, list]) -> None:
        """Attach params, tags, latest metrics, inputs and outputs (`_run_rows`) to `runs`;
        values of a type MLflow never writes are named in a warning (`_put_value`)."""
        for table in ("params", "tags"):
            target = {rid: getattr(run, table) for rid, run in runs.items()}
            what = table[:-1]
            for rid, key, value in rows.get(table, ()):
                d = target.get(rid)
                if d is not None:
                    if type(key) is str and type(value) is str:
                        d[key] = value
                    else:
                        self._put_value(d, f"run {rid}", what, key, value)
        self.tags_read.update((rid, run.tags) for rid, run in runs.items())
        if "latest_metrics" in rows:
            self._fill_latest_metrics(runs, rows["latest_metrics"])
        elif "metrics" in rows:
            self._fill_latest_from_history(runs, rows["metrics"])
        for run in runs.values():
            # SqlRun.to_mlflow_entity: an empty name is taken from the mlflow.runName tag.
            if not run.run_name and run.tags.get(TAG_RUN_NAME):
                run.run_name = run.tags[TAG_RUN_NAME]
            run.inputs = []
            run.outputs = []
        _fill_dataset_inputs(runs, rows.get("datasets", ()), rows.get("input_tags", ()))
        for rid, model_id, step in rows.get("outputs", ()):
            owner = runs.get(rid)
            if owner is not None:
                assert owner.outputs is not None  # every run's were set to [] above
                owner.outputs.append(ModelOutput(model_id=model_id, step=step or 0))

    def _put_value(self, values: dict, owner: str, what: str, key, value) -> None:
        """`values[key] = value` for a key or value of another type than text (a warning each):
        a value made text, a NULL value kept (MLflow allows a NULL tag), a key not text skipped."""
        if type(key) is not str:
            self.warnings.add(f"{owner}: {what} {shown(key)}: its name is not text; skipped")
            return
        text, ok = as_text(value)
        if not ok:
            self.warnings.add(f"{owner}: {what} {key!r}: {shown(value)} is not text; shown as text")
        values[key] = text

    def _fill_latest_metrics(self, runs: dict[str, Run], rows: Iterable[tuple]) -> None:
        target = {rid: run.metrics for rid, run in runs.items()}
        for rid, key, value, ts, step, is_nan in rows:
            d = target.get(rid)
            if d is None:
                continue
            if (
                type(value) is not float
                or type(step) is not int
                or type(ts) is not int
                or type(key) is not str
            ):
                point = self._checked_point(rid, key, value, ts, step, is_nan)
                if point is not None:
                    d[key] = Metric(key, *point)
                continue
            # The dataclass's own __init__: measured 2.5x faster than filling slots
            # with object.__setattr__ (20 ms for 60,000 metrics).
            d[key] = Metric(key, _NAN if is_nan else value, ts, step)

    def _fill_latest_from_history(self, runs: dict[str, Run], rows: Iterable[tuple]) -> None:
        """Before `latest_metrics` (early 1.x): the latest point is the one with the largest
        (step, timestamp, value), as MLflow's _update_latest_metrics_if_necessary ranks them."""
        best: dict[tuple[str, str], tuple] = {}
        for rid, key, value, ts, step, is_nan in rows:
            if rid not in runs:
                continue
            point = self._checked_point(rid, key, value, ts, step, is_nan)
            if point is None:
                continue
            # Ranked by the stored value, NaN rows by theirs too, as MLflow ranks them.
            rank = (point[2], point[1] or 0, value if type(value) in (float, int) else 0.0)
            old = best.get((rid, key))
            if old is None or rank > old[0]:
                best[(rid, key)] = (rank, point)
        for (rid, key), (_, point) in best.items():
            runs[rid].metrics[key] = Metric(key, *point)


def _fill_dataset_inputs(
    runs: dict[str, Run], rows: Iterable[tuple], tag_rows: Iterable[tuple]
) -> None:
    by_input: dict[str, DatasetInput] = {}
    # SqlAlchemyStore._get_run_inputs keeps one DatasetInput per (run, dataset).
    per_run: dict[tuple[str, str], DatasetInput] = {}
    for row in rows:
        input_uuid, rid, ds_uuid, name, digest, stype, source, schema, profile = row
        run = runs.get(rid)
        if run is None:
            continue
        di = per_run.get((rid, ds_uuid))
        if di is None:
            di = DatasetInput(Dataset(name, digest, stype, source, schema, profile))
            per_run[(rid, ds_uuid)] = di
            assert run.inputs is not None  # the caller set every run's to []
            run.inputs.append(di)
        by_input[input_uuid] = di
    for input_uuid, key, value in tag_rows:
        di = by_input.get(input_uuid)
        if di is not None:
            di.tags[key] = value

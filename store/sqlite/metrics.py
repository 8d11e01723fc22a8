"""Reading metric histories from an MLflow database: one metric of one run, every point, in
MLflow 3's order; long ones through the series cache or a worker process (store/parallel.py)."""

from __future__ import annotations

from array import array
from operator import itemgetter

from ..entities import Metric
from ..series import Series
from ..values import shown
from .database import SqlDatabase

_NAN = float("nan")
_FIRST, _SECOND, _THIRD, _FOURTH = (itemgetter(i) for i in range(4))


class MetricReading(SqlDatabase):
    """Metric histories, and the check of a metric row's types that run reading shares."""

    def _checked_point(self, run_id, key, value, ts, step, is_nan) -> tuple | None:
        """(value, timestamp, step) of a metric row, NULLs read as MLflow reads them (NaN, 0);
        None (after a warning) when a field is of a type no point can have."""
        value = _NAN if is_nan or value is None else value
        step = 0 if step is None else step
        if (
            type(key) is str
            and type(value) in (float, int)
            and type(step) is int
            and (ts is None or type(ts) is int)
        ):
            return float(value), ts, step
        self.warnings.add(
            f"run {run_id}: metric {shown(key)}: a point with value {shown(value)}, timestamp "
            f"{shown(ts)}, step {shown(step)} is skipped: not numbers"
        )
        return None

    def _metric_rows(self, run_id: str, key: str) -> list[tuple]:
        """(timestamp, step, value, is_nan) of every point, in `metric_history`'s order."""
        if not self.has("metrics"):
            return []
        t = "metrics"
        c = self.col
        # Without statistics SQLite walks the primary key (key, timestamp, ...), which holds
        # every run's points of that key; the run_uuid index reads only this run's points.
        hint = f' INDEXED BY "{self._metrics_index}"' if self._metrics_index else ""
        sql = (
            f"SELECT {c(t, 'timestamp', '0')}, {c(t, 'step', '0')}, value, {c(t, 'is_nan', '0')} "
            f"FROM metrics{hint} WHERE run_uuid = ? AND key = ?"
        )
        rows = self.read(lambda conn: conn.execute(sql, (run_id, key)).fetchall())
        try:
            rows.sort()  # in Python: mostly in order already, so faster than ORDER BY
        except TypeError:  # a NULL (schemas before is_nan allowed them) or a value of another type
            rows = self._checked_points(run_id, key, rows)
            rows.sort()
        return rows

    def _checked_points(self, run_id: str, key: str, rows: list[tuple]) -> list[tuple]:
        """`_metric_rows` rows with NULLs read as MLflow reads them (timestamp and step 0, value
        NaN) and points of other types skipped (one warning)."""
        out = []
        for ts, step, value, nan in rows:
            point = self._checked_point(run_id, key, value, 0 if ts is None else ts, step, nan)
            if point is not None:
                out.append((point[1], point[2], point[0], 0))
        return out

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, ordered by (timestamp, step, value) as MLflow 3 orders it.

        MLflow 2.x returned the rows in table order; 3.x sorts them (get_metric_history).
        """
        rows = self._metric_rows(run_id, key)
        if not _well_typed(rows):
            rows = self._checked_points(run_id, key, rows)
        return [Metric(key, _NAN if nan else value, ts, step) for ts, step, value, nan in rows]

    def metric_series(self, run_id: str, key: str) -> Series:
        """`metric_history` as columns, taken from the query's rows without Metric objects.

        A NULL timestamp (possible only in hand-made databases) becomes 0, as a NULL step does.
        Long histories are kept in the series cache (user's cache folder) until the database
        or its -wal file changes; `use_cache = False` turns that off.
        """
        cache = self._series_cache()
        if cache is not None:
            columns = cache.query(
                str(self.location),
                str(run_id),
                key,
                lambda: self._metric_columns(run_id, key),
                # Commits still only in the -wal file are not seen: other entries.
                "no-wal" if self._wal_unseen else "",
            )
        else:
            columns = self._metric_columns(run_id, key)
        return Series(*columns)

    def _metric_columns(self, run_id: str, key: str) -> tuple[array, array, array]:
        """(steps, timestamps, values) of one history, as `metric_series` hands them over."""
        rows = self._metric_rows(run_id, key)
        # One list per column, by itemgetter in C: ~2x faster than zip(*rows), which makes an
        # iterator per row, and a third faster than a comprehension. The arrays also check the
        # types (a NULL, text or a float timestamp raises TypeError), in C.
        try:
            timestamps = array("q", list(map(_FIRST, rows)))
            steps = array("q", list(map(_SECOND, rows)))
            values = array("d", list(map(_THIRD, rows)))
        except TypeError:
            rows = self._checked_points(run_id, key, rows)
            timestamps = array("q", list(map(_FIRST, rows)))
            steps = array("q", list(map(_SECOND, rows)))
            values = array("d", list(map(_THIRD, rows)))
        if any(map(_FOURTH, rows)):
            values = array("d", [_NAN if nan else v for _, _, v, nan in rows])
        return steps, timestamps, values


def _well_typed(rows: list[tuple]) -> bool:
    """Whether every (timestamp, step, value, is_nan) row has integers and a number (checked
    in C: array('q') refuses anything but an integer, array('d') anything but a number)."""
    try:
        array("q", map(_FIRST, rows)), array("q", map(_SECOND, rows))
        array("d", map(_THIRD, rows))
    except TypeError:
        return False
    return True

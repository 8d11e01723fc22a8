"""Metric files as MLflow's file store writes them (`<run>/metrics/<key>`: one
`timestamp value step` line per point, appended): a whole history as columns, fast, and the
latest point of a file without reading all of it."""

from __future__ import annotations

import json
import os
import re
from array import array
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain, compress
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import parallel
from ..rawread import (
    CHUNK,
    read_bytes,
    read_rest,
)
from ..series_cache import SeriesCache
from .layout import (
    INT64_MAX,
    INT64_MIN,
    fit_64_bits,
    parse_metric_line,
)

#: Metric files longer than this are read in blocks of this size to find their latest point
#: (1 MB: the dozen passes over a block stay in the CPU's cache; 4 MB took ~40% longer).
STREAM_BLOCK = 1 << 20
#: A metric line longer than this is malformed (MLflow's are under 100 bytes).
MAX_LINE = 1 << 20

# For `metric_columns`: every byte but the separators (deleted, what is left is the layout of
# the lines), the bytes of numbers as str(float) writes them (deleted, nothing may be left), and
# the separators turned into JSON commas.
_NOT_SEPARATORS = bytes(sorted(set(range(256)) - set(b" \n")))
_NUMBER_BYTES = b"0123456789.+-eEnaif \n"
_SEPARATORS_TO_COMMAS = bytes.maketrans(b" \n", b",,")
_NEWLINES_TO_SPACES = bytes.maketrans(b"\n", b" ")

# For `_plain_floats`: each byte's kind as one bit, and the kinds that may not follow it.
_DIGIT, _SPACE, _DOT, _E, _MINUS, _PLUS, _OTHER = (1 << i for i in range(7))
_KINDS = {**dict.fromkeys(b"0123456789", _DIGIT), 32: _SPACE, 46: _DOT, 101: _E, 45: _MINUS}
_KINDS[43] = _PLUS
_ALL = 0x7F
_NOT_AFTER = {
    _DIGIT: _MINUS | _PLUS | _OTHER,  # a sign only starts a number or an exponent
    _SPACE: _ALL & ~(_DIGIT | _MINUS),  # a number starts with a digit or a minus
    _DOT: _ALL & ~_DIGIT,
    _E: _ALL & ~(_MINUS | _PLUS),  # repr(float) writes e-05, e+20
    _MINUS: _ALL & ~_DIGIT,
    _PLUS: _ALL & ~_DIGIT,
    _OTHER: _ALL,
}
_KIND_OF = bytes(_KINDS.get(b, _OTHER) for b in range(256))
_NOT_AFTER_OF = bytes(_NOT_AFTER[_KINDS.get(b, _OTHER)] for b in range(256))
#: Every byte but the blanks bytes.split() splits at.
_NOT_BLANKS = bytes(sorted(set(range(256)) - set(b" \t\n\r\x0b\x0c")))
#: Timestamps of up to this many digits fit 64 bits.
_SAFE_DIGITS = 18

# For `_latest_by_guess`: a line as MLflow writes it, every quantifier possessive (no
# backtracking: 2x faster, and the spelling is unambiguous). Timestamps and steps of up to 18
# digits (they fit 64 bits), steps without leading zeros or "-0" (so that their digits say
# their size; `_at_most` takes no leading zeros of times either), values as repr(float)
# writes them but NaN and inf: all read by int() and float().
_TS = rb"[0-9]{1,18}+"
_VALUE = rb"-?+[0-9]++(?:\.[0-9]++)?+(?:e[+-][0-9]++)?+"
_STEP = rb"0|-?+[1-9][0-9]{0,17}+"
_LINE = re.compile(rb"(" + _TS + rb") (" + _VALUE + rb") (" + _STEP + rb")\n")
#: Shorter blocks (~1,000 lines) go the way of `_latest_of_mlflow_lines`: a regex to compile
#: per guess costs more than it saves on a short file.
GUESS_MIN_BYTES = 40_000
#: A block whose greatest (step, timestamp) is guessed wrong more often than this, or that
#: has more lines at it than this, goes that way too.
_MAX_GUESSES = 8
_MAX_TIES = 64

#: Files at least this long are read by `_Columns` (numpy; an install without it reads them by
#: `latest_point`): numpy's import, 70-100 ms of CPU once per process, is what it saves on a
#: file of ~40 MB.
COLUMNS_MIN_SIZE = 40 << 20
# For `_Columns`: what is left of lines spelled as `_LINE` (steps not negative) when their
# digits are deleted.
_SKELETON = re.compile(rb"(?: -?+\.?+(?:e[-+])?+ \n)*+")
_SIGNS = tuple(b"-+")
#: Bytes kept before the lines of a block read by `latest_point_of_file`, so that `_Columns`
#: finds the last 24 bytes before any line end in its buffer.
_PAD = 24
_ASCII_ZEROS = int.from_bytes(b"0" * 8, "big")


def complete_lines(data: bytes) -> bytes:
    """`data` without an unterminated last line (a metric point still being written)."""
    if not data or data[-1:] == b"\n":
        return data
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def metric_columns(data: bytes) -> tuple[Sequence[int], Sequence[int], Sequence[float], int]:
    """(steps, timestamps, values, malformed lines) of a metric file, in file order.

    The points are exactly those `parse_metric_line` takes from the file's complete lines (an
    unterminated last line is left out). A file of plain 3-field lines, as MLflow writes them,
    is converted whole (`_json_columns`): the columns then come as arrays ('q', 'q', 'd');
    anything else goes line by line and comes as lists.
    """
    body = complete_lines(data)
    if not body:
        return [], [], [], 0
    columns = _json_columns(body)
    if columns is not None:
        return (*columns, 0)
    steps: list[int] = []
    timestamps: list[int] = []
    values: list[float] = []
    bad = 0
    for line in body.split(b"\n")[:-1]:
        point = parse_metric_line(line)
        if point is None:
            bad += 1
        else:
            steps.append(point[0])
            timestamps.append(point[1])
            values.append(point[2])
    return steps, timestamps, values, bad


def _json_columns(body: bytes) -> tuple[array, array, array] | None:
    """The columns of complete lines `<ts> <value> <step>`, or None to go line by line.

    The file is checked to hold lines of exactly three fields of number characters, made a
    JSON list by turning separators into commas (`nan`/`inf` into JSON's `NaN`/`Infinity`),
    and parsed by the json module's C scanner: 100,000 points in ~50 ms, where a regex check
    and int()/float() over split tokens take ~100 ms, and going line by line ~80 ms.

    JSON numbers are a subset of what int() and float() read, with the same values. Anything
    JSON refuses, a timestamp or step that is not an integer (array('q') refuses a float) or
    does not fit 64 bits, and a value written `-0` (which JSON reads as the integer 0, float()
    as -0.0) send the file line by line, where `parse_metric_line` decides.
    """
    lines = body.count(b"\n")
    if body.translate(None, _NOT_SEPARATORS) != b"  \n" * lines:
        return None  # not two single spaces on every line: 2- or 5-field lines, or garbage
    if body.translate(None, _NUMBER_BYTES) or b" -0 " in body:
        return None
    if b"n" in body:
        body = body.replace(b"nan", b"NaN").replace(b"inf", b"Infinity")
    try:
        flat = json.loads(b"[" + body.translate(_SEPARATORS_TO_COMMAS)[:-1] + b"]")
        return array("q", flat[2::3]), array("q", flat[0::3]), array("d", flat[1::3])
    except (ValueError, TypeError, OverflowError):
        return None


def read_metric_file(
    path: str, cache: SeriesCache | None, root_real: str
) -> tuple[tuple | None, str | None]:
    """((steps, timestamps, values) or None when there is no such file, a warning or None).

    A whole history is read however long (only a regular file inside `root_real`).
    """
    try:
        if cache is None:
            steps, timestamps, values, bad = metric_columns(read_bytes(path, root_real, None))
        else:
            steps, timestamps, values, bad = cache.metric_file(path, metric_columns, root_real)
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc})"
    return (steps, timestamps, values), f"{path}: {bad} malformed line(s) ignored" if bad else None


def file_series_job(path: str, cache: str | None, root_real: str) -> parallel.JobResult:
    """`read_metric_file` in a worker process (store/parallel.py), the columns as bytes."""
    series_cache = None if cache is None else SeriesCache(Path(cache))
    columns, warning = read_metric_file(path, series_cache, root_real)
    steps, timestamps, values = columns or ((), (), ())
    return parallel.as_result(steps, timestamps, values, warning)


def latest_point(
    data: bytes, best: tuple[int, int, float] | None = None
) -> tuple[tuple[int, int, float] | None, int]:
    """The (step, timestamp, value)-greatest point of a metric file, and how many lines were bad.

    "Greatest" is Python's tuple order, as MLflow's `max(..., key=lambda m: (m.step,
    m.timestamp, m.value))`: NaN never wins a tie on (step, timestamp), and on equal tuples the
    first line wins. `best` is the greatest point of the lines before `data` (a file read in
    blocks): the result is then that of the whole, as `max` goes on from it.
    """
    body = data if data[-1:] == b"\n" else complete_lines(data)
    if not body:
        return best, 0
    if len(body) >= GUESS_MIN_BYTES and (found := _latest_by_guess(body, best)) is not None:
        return found, 0
    lines = body.count(b"\n")
    if lines == 1:  # most metric files of a sweep: one point
        parts = body.split(b" ")
        if len(parts) == 3:
            try:
                point = (int(parts[2]), int(parts[0]), float(parts[1]))
            except ValueError:
                pass  # parsed line by line below, and counted
            else:
                if fit_64_bits(point[:2]):
                    return (point if best is None or point > best else best), 0
    elif (found := _latest_of_mlflow_lines(body, lines, best)) is not None:
        return found, 0
    if lines > 1 and body.translate(None, _NOT_SEPARATORS) == b"  \n" * lines:
        # Three fields on every line, as MLflow writes them: each column is converted whole,
        # in C, by the int() and float() `parse_metric_line` applies to one line's fields
        # (the same fields: both split at single spaces). Anything they refuse, anywhere,
        # sends the file line by line, to skip just those lines and count them.
        tokens = body[:-1].translate(_NEWLINES_TO_SPACES).split(b" ")
        try:
            steps = list(map(int, tokens[2::3]))
            timestamps = list(map(int, tokens[0::3]))
            values = list(map(float, tokens[1::3]))
        except ValueError:
            pass
        else:
            if max(steps) > INT64_MAX or min(steps) < INT64_MIN or not fit_64_bits(timestamps):
                return _latest_by_lines(body, best)  # to skip and count those lines
            return _greatest(steps, timestamps, values, best), 0
    return _latest_by_lines(body, best)


def _latest_of_mlflow_lines(
    body: bytes, lines: int, best: tuple[int, int, float] | None
) -> tuple[int, int, float] | None:
    """`latest_point` of complete lines all spelled as MLflow writes them, or None (the
    block is then read as before): `<ts> <value> <step>`, single spaces, the timestamp
    digits, the value `-?D+(.D+)?(e[+-]D+)?` (D a digit: what repr(float) writes, except
    NaN and inf), the step anything int() reads, as `parse_metric_line` reads each line.

    Only the steps are converted, in C; then the timestamps of the lines at the greatest
    step, and the values of those at its latest time: `max` over those tuples is `max` over
    all, as no other line's tuple is greater (tuple order compares the step, then the time).
    The values are checked, not converted (`_plain_floats`): float() would cost more than
    all the rest.
    """
    if body.translate(None, _NOT_BLANKS) != b"  \n" * lines:
        return None  # not two single spaces on every line, or other blanks
    tokens = body.split()
    if len(tokens) != 3 * lines:
        return None  # an empty field
    stamps, values = tokens[0::3], tokens[1::3]
    if not b"".join(stamps).isdigit() or max(map(len, stamps)) > _SAFE_DIGITS:
        return None
    if not _plain_floats(values):
        return None
    try:
        steps = list(map(int, tokens[2::3]))
    except ValueError:
        return None
    top = max(steps)
    if top > INT64_MAX or min(steps) < INT64_MIN:
        return None
    if best is not None and top < best[0]:
        return best
    if steps.count(top) == 1:
        i = steps.index(top)
        candidates = [(top, int(stamps[i]), float(values[i]))]
    else:
        at_top = list(map(top.__eq__, steps))
        times = list(map(int, compress(stamps, at_top)))
        latest = max(times)
        chosen = compress(compress(values, at_top), map(latest.__eq__, times))
        candidates = [(top, latest, float(v)) for v in chosen]
    return max(candidates if best is None else chain((best,), candidates))


def _latest_by_guess(
    body: bytes, best: tuple[int, int, float] | None
) -> tuple[int, int, float] | None:
    """`latest_point` of complete lines all spelled as `_LINE`, or None (the block is then
    read by `_latest_of_mlflow_lines`), with no object made per line but at the greatest
    (step, timestamp).

    That is guessed (the last line's, or `best`'s if greater) and checked by a regex match,
    in C, over the lines of smaller steps (`_steps_below`): where the match stops, a line at
    the guess is a point to compare, one above it is the next guess (the lines before it are
    below that too), one at the step but earlier is passed; the match goes on after it. Many
    lines at the step (a metric logged without steps) and the match takes those too
    (`_below`). `max` over `best` then the points, in file order (ties broken by value as
    `max` breaks them; NaN is not in `_LINE`), is `max` over all, as no other line's tuple is
    greater (tuple order compares steps, then timestamps, first).
    """
    last = _LINE.match(body, body.rfind(b"\n", 0, len(body) - 1) + 1)
    if last is None:
        return None
    guess = (int(last[3]), int(last[1]))
    if best is not None and best[:2] > guess:
        guess = best[:2]
    points: list[tuple[int, int, float]] = []
    guesses = passed = pos = 0
    while pos < len(body):
        scan = (_below(*guess) if passed > _MAX_TIES else _steps_below(guess[0])).match(body, pos)
        if scan is None:
            return None  # never: `*+` takes no line at worst
        if scan.end() == len(body):
            break
        line = _LINE.match(body, scan.end())
        if line is None:
            return None  # a line not in MLflow's spelling
        at = (int(line[3]), int(line[1]))
        if at > guess:
            guess, points, guesses = at, [], guesses + 1
        if at < guess:
            passed += 1  # at the step, earlier (or a time with leading zeros: see `_LINE`)
        else:
            points.append((*at, float(line[2])))
        if guesses > _MAX_GUESSES or len(points) > _MAX_TIES or passed > 2 * _MAX_TIES:
            return None  # steps in no order, or many lines at the greatest (step, time)
        pos = line.end()
    return max(points if best is None else chain((best,), points))


@lru_cache(maxsize=64)
def _steps_below(step: int) -> re.Pattern[bytes]:
    """A regex taking as many `_LINE`s as follow of steps below `step` (none fails)."""
    return re.compile(rb"(?:%s\n)*+" % _step_below(step))


@lru_cache(maxsize=64)
def _below(step: int, timestamp: int) -> re.Pattern[bytes]:
    """A regex taking as many `_LINE`s as follow of (step, timestamp) below those: the same
    step and an earlier time (first: the lines of a metric logged without steps), or a smaller
    step (an alternative more: ~10% slower than `_steps_below` on lines of rising steps)."""
    same_step = rb"(?:%s) %s %d" % (_at_most(timestamp - 1), _VALUE, step)
    return re.compile(rb"(?:(?:%s|%s)\n)*+" % (same_step, _step_below(step)))


def _step_below(step: int) -> bytes:
    return rb"(?:%s) %s (?:%s)" % (_TS, _VALUE, _at_most(step - 1))


def _at_most(n: int) -> bytes:
    """A regex alternation of the `_STEP`s up to `n`, told by their digits: as many with a
    smaller digit after a common start, or fewer digits (the other way round below 0). The
    alternatives most lines take come first: the match of a block is ~10% faster."""
    if abs(n) >= 10**18:  # beyond the 18 digits of `_STEP`: all of them, or none
        return _STEP if n > 0 else rb"(?!)"
    digits = str(abs(n))
    width = len(digits)
    if n < 0:  # the negatives of more digits, or as many and not smaller
        alts = [b"-[1-9][0-9]{%d,17}+" % width] if width < 18 else []
        for i, d in enumerate(map(int, digits)):
            if d < 9:
                alts.append(b"-%s[%d-9][0-9]{%d}" % (digits[:i].encode(), d + 1, width - i - 1))
        return b"|".join([*alts, b"-" + digits.encode()])
    if n == 0:
        return b"0|-[1-9][0-9]{0,17}+"
    alts = []
    for i, d in enumerate(map(int, digits)):
        low = 1 if i == 0 else 0
        if d > low:
            alts.append(b"%s[%d-%d][0-9]{%d}" % (digits[:i].encode(), low, d - 1, width - i - 1))
    alts.append(digits.encode())
    if width > 1:
        alts.append(b"[1-9][0-9]{0,%d}+" % (width - 2))
    return b"|".join([*alts, b"0", b"-[1-9][0-9]{0,17}+"])


def _numpy() -> ModuleType | None:
    """numpy, imported on first use, or None when it is not installed."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy


class _Columns:
    """`latest_point` of blocks of lines read into one buffer (`latest_point_of_file`), each
    block all spelled as `_LINE` with steps not negative (else None: `latest_point` reads it),
    by numpy: about one pass over the bytes (where the digits are not), then a few operations
    over the lines, and no object made per line but at the greatest (step, timestamp).

    The bytes that are not digits must spell `_SKELETON`, and only signs may follow another
    such byte: each line is then `<1-18 digits> <value> <1-18 digits>`, the value as
    `_VALUE`, which `parse_metric_line` reads as written. The greatest steps, then the latest
    times among them, are found from their digits (`greatest`); only the lines at the greatest
    (step, time) are parsed, and `max` over `best` then those, in file order, is `max` over
    all (tuple order compares steps, then times, first; no value is NaN).
    """

    def __init__(self, np: ModuleType, buffer: bytearray):
        # An array made and dropped at once raises glibc malloc's threshold for mapping a block
        # of its own (as dropping any large block does): each block's temporaries (~2 MB) then
        # reuse its heap, where each was mapped and faulted in anew (220,000 page faults, 0.5 s
        # of system time, on a 5,000,000-line file). The arrays of the buffer's size are made
        # once, for the same reason.
        np.empty(4 * len(buffer), np.uint8)
        self.np, self.buffer = np, buffer
        self.bytes = np.frombuffer(buffer, np.uint8)
        self.words = np.ndarray((len(buffer) - 7,), ">u8", buffer, strides=(1,))
        self.scratch = np.empty(len(buffer), np.uint8)
        self.marked = np.empty(len(buffer), bool)
        # The last n bytes of a word kept, the others made "0", by n.
        self.masks = np.array([(1 << 8 * n) - 1 for n in range(9)], np.uint64)
        self.zeros = np.uint64(_ASCII_ZEROS) & ~self.masks

    def latest(
        self, start: int, end: int, best: tuple[int, int, float] | None
    ) -> tuple[int, int, float] | None:
        """`latest_point` of the lines `buffer[start:end]` after `best`, or None."""
        np, size = self.np, end - start
        digits = np.subtract(self.bytes[start:end], 48, out=self.scratch[:size])
        at = np.flatnonzero(np.greater(digits, 9, out=self.marked[:size])) + start
        marks = self.bytes[at]  # separators, signs, points, e
        skeleton = marks.tobytes()
        lines = skeleton.count(b"\n")
        if skeleton == b" . \n" * lines:  # most files: values with a point, no sign or e
            line_ends = np.arange(3, len(marks), 4)
        elif _SKELETON.fullmatch(skeleton):
            line_ends = np.flatnonzero(marks == 10)
        else:
            return None
        signs = marks[1:][np.diff(at) == 1]  # the marks right after another: all the signs
        if at[0] == start or len(signs) != skeleton.count(b"-") + skeleton.count(b"+"):
            return None  # a number without digits, or a sign after a digit
        if not np.isin(signs, _SIGNS).all():
            return None
        ends = at[line_ends]
        starts = np.concatenate(([start], ends[:-1] + 1))
        stamps = at[np.concatenate(([0], line_ends[:-1] + 1))]  # each line's first space
        step_digits, stamp_digits = ends - at[line_ends - 1] - 1, stamps - starts
        if max(step_digits.max(), stamp_digits.max()) > _SAFE_DIGITS:
            return None  # may not fit 64 bits
        top = self.greatest(ends, step_digits)
        if len(top) > 1:
            top = top[self.greatest(stamps[top], stamp_digits[top])]
        spans = zip(starts[top].tolist(), ends[top].tolist(), strict=True)
        fields = [self.buffer[i:j].split(b" ") for i, j in spans]
        points = [(int(step), int(stamp), float(value)) for stamp, value, step in fields]
        return max(points if best is None else chain((best,), points))

    def greatest(self, ends: Any, widths: Any) -> Any:
        """Where the greatest of the numbers of `widths` (1-18) ASCII digits before `ends` are:
        compared by 8-byte big-endian words from the first, the bytes before the number made
        "0" (as leading zeros), as the numbers compare."""
        top = None
        for before in range(8 * ((int(widths.max()) - 1) // 8), -1, -8):  # bytes after a word
            kept = self.np.clip(widths - before, 0, 8)
            keys = self.words[ends - before - 8] & self.masks[kept] | self.zeros[kept]
            at = self.np.flatnonzero(keys == keys.max())
            top = at if top is None else top[at]
            ends, widths = ends[at], widths[at]
        return top


def _plain_floats(values: list[bytes]) -> bool:
    """True when every value is `-?D+(.D+)?(e[+-]D+)?`, which float() reads, checked on all
    of them joined, with C operations: the digits deleted, each must leave one of `.`,
    `e-`, `.e+`... after an optional minus; and no byte may follow another that may not (a
    digit after every separator, a sign only where a number or an exponent starts), tested
    for all pairs at once as the AND of two big integers."""
    joined = b" " + b" ".join(values) + b" "
    shape = joined.translate(None, b"0123456789").replace(b" -", b" ")
    shape = shape.replace(b".e-", b".").replace(b".e+", b".").replace(b"e-", b".")
    if shape.replace(b"e+", b".") != b" ." * len(values) + b" ":
        return False
    forbidden = int.from_bytes(joined.translate(_NOT_AFTER_OF), "big")
    kinds = int.from_bytes(joined.translate(_KIND_OF), "big")
    return not (forbidden >> 8) & kinds  # each byte's rule against the next byte's kind


def _greatest(
    steps: list[int], timestamps: list[int], values: list[float], best: tuple | None
) -> tuple[int, int, float] | None:
    """`max` of `best` (if any) then the columns' points, tuples built only when steps tie."""
    top = max(steps)
    if best is not None and top < best[0]:
        return best  # no point here beats it: tuple order looks at the step first
    if (best is None or top > best[0]) and steps.count(top) == 1:
        i = steps.index(top)
        return top, timestamps[i], values[i]
    points = zip(steps, timestamps, values, strict=True)
    return max(points if best is None else chain((best,), points))


def _latest_by_lines(
    body: bytes, best: tuple[int, int, float] | None = None
) -> tuple[tuple[int, int, float] | None, int]:
    """`latest_point` of complete lines, each parsed on its own (bad ones skipped, counted)."""
    bad = 0
    for line in body.split(b"\n")[:-1]:
        point = parse_metric_line(line)
        if point is None:
            bad += 1
        elif best is None or point > best:
            best = point
    return best, bad


def latest_point_of_file(
    head: bytes, fd: int, size: int
) -> tuple[tuple[int, int, float] | None, int, bool]:
    """`latest_point` of an open metric file, and whether it is blank, in bounded memory.

    `head` is the file's first CHUNK bytes, already read. A file up to `STREAM_BLOCK` is read
    whole; a longer one (a history of millions of points) block by block, each cut after its
    last newline, so memory stays a few blocks whatever the file's size. A line longer than
    `MAX_LINE` is skipped as malformed. A file of `COLUMNS_MIN_SIZE` or more has its blocks
    read by `_Columns` when numpy is installed (by `latest_point` when it refuses one).
    """
    if len(head) < CHUNK:
        return *latest_point(head), not head.strip()
    if size <= STREAM_BLOCK:
        data = head + read_rest(fd, CHUNK, size, STREAM_BLOCK)
        if len(data) <= STREAM_BLOCK:
            return *latest_point(data), not data.strip()
    os.lseek(fd, 0, os.SEEK_SET)  # long, or grown past a block since fstat: read in blocks
    # One buffer for all blocks (a new one for each costs more in page faults than the read):
    # the carry, then the block read; the lines from `start`, at least `_PAD` bytes in.
    buffer = bytearray(_PAD + MAX_LINE + STREAM_BLOCK)
    view = memoryview(buffer)
    np = _numpy() if size >= COLUMNS_MIN_SIZE else None
    columns = None if np is None else _Columns(np, buffer)
    best, bad = None, 0
    start = stop = _PAD
    overlong = False  # within a line longer than MAX_LINE, dropped up to its newline
    while read := os.readv(fd, [view[stop : stop + STREAM_BLOCK]]):
        stop += read
        end = buffer.rfind(b"\n", start, stop) + 1 or start
        if overlong and end > start:
            start = buffer.index(b"\n", start, stop) + 1
            bad, overlong = bad + 1, False
        if end > start:
            found = None if columns is None else columns.latest(start, end, best)
            best, n = latest_point(bytes(view[start:end]), best) if found is None else (found, 0)
            bad += n
        if stop - end > MAX_LINE:
            end, overlong = stop, True
        buffer[_PAD : _PAD + stop - end] = buffer[end:stop]  # the carry, to the front
        start, stop = _PAD, _PAD + stop - end
    return best, bad, False

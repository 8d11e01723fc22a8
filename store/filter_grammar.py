"""The grammar MLflow's filter strings share: the run filter (`search.py`) and the trace filter
(`trace_search.py`) are both lexed, parsed and their values compared here.

A small lexer follows sqlparse 0.6's token rules where they decide what a filter means (names,
quoted names, numbers, strings, comparison operators, IN / IS / NOT NULL); `Parser` reads
`key comparator value` clauses joined by AND and leaves what a clause means to its subclass
(`build`); `value_test` compares a value as MLflow's file store does, LIKE included, in linear
time.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import FilterError

# -- lexer ---------------------------------------------------------------------------------------
# Token kinds. Rules are tried in sqlparse's order at each position (the order decides e.g. that
# `1e5and` is the number 1e5 then AND, and that `.1` in `metrics.a.1` is a number).
WS, ERR, NAME, SYMBOL, STRING = "ws", "err", "name", "symbol", "string"
INT, FLOAT, KEYWORD, ORDER = "int", "float", "keyword", "order"
COMP, PUNCT, WORD = "comp", "punct", "word"

_L = r"[A-ZÀ-Ü]"  # sqlparse's "letter", matched case-insensitively
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE | re.UNICODE), kind)
    for p, kind in [
        (r"(?:--|# ).*?(?:\r\n|\r|\n|$)", ERR),  # SQL comments
        (r"/\*", ERR),
        (r"\s+", WS),
        (r":=|::|\*", ERR),  # `metrics.a::x`, `metrics.*` keys: deliberately refused
        (r"`(?:``|[^`])*`", NAME),  # backticked name
        (r"´(?:´´|[^´])*´", NAME),
        (r"\?|%(?:\(\w+\))?s|(?<!\w)[$:?]\w+|\\\w+", ERR),  # placeholders, commands
        (r"(?:CASE|IN|VALUES|USING|FROM|AS)\b", KEYWORD),  # keywords even after a "."
        (r"(?:@|##|#)" + _L + r"\w+", ERR),
        (_L + r"\w*(?=\s*\.(?!\d))", NAME),  # a name followed by "."
        (r"(?<=\.)" + _L + r"\w*", NAME),  # a name after "."
        (_L + r"\w*(?=\()", ERR),  # a function call
        (r"-?0x[\dA-F]+", ERR),  # hex numbers are not numbers to MLflow
        (r"-?\d+(?:\.\d+)?E-?\d+", FLOAT),
        (r"(?![_A-ZÀ-Ü])-?(?:\d+\.\d*|\.\d+)(?![_A-ZÀ-Ü])", FLOAT),
        (r"(?![_A-ZÀ-Ü])-?\d+(?![_A-ZÀ-Ü])", INT),
        (r"'(?:''|\\'|[^'])*'", STRING),
        (r'"(?:""|\\"|[^"])*"', SYMBOL),  # double quotes: a quoted name to SQL
        (r'(?:""|".*?[^\\]")', SYMBOL),
        (r"(?<![\w\])])\[[^\]\[]+\]", ERR),  # [bracketed] names: deliberately refused
        (r"NOT\s+NULL\b", KEYWORD),
        (r"(?:ASC|DESC)(?:\s+NULLS\s+(?:FIRST|LAST))?\b", ORDER),
        (r"NULLS\s+(?:FIRST|LAST)\b", KEYWORD),
        (r"(?:NOT\s+)?(?:LIKE|ILIKE|RLIKE)\b", COMP),
        (r"(?:NOT\s+)?REGEXP(?:\s+BINARY)?\b", COMP),
        (r"\w[$#\w]*", WORD),  # a keyword when it is one of _KEYWORDS, else a name
        (r"[;:()\[\],.]", PUNCT),
        (r"->>?|#>>?|@>|<@|\?\|?|\?&|-|#-", ERR),
        (r"[<>=~!]+", COMP),
        (r"[+/@#%^&|-]+", ERR),
    ]
]
#: Words sqlparse calls keywords that matter here. Other SQL keywords lex as names in our
#: lexer; every place a name could stand they are an error either way (not an attribute,
#: not a quoted value), so the difference never changes an outcome.
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IS", "NULL", "IN"})


@dataclass(slots=True)
class Token:
    kind: str
    text: str
    start: int
    end: int

    def is_kw(self, word: str) -> bool:
        return self.kind == KEYWORD and self.text.upper() == word


def _next_token(text: str, pos: int) -> tuple[str, int]:
    """The kind and end of the token starting at `pos`: the first rule that matches there."""
    for rx, kind in _RULES:
        m = rx.match(text, pos)
        if m and m.end() > pos:
            if kind == WORD:
                kind = KEYWORD if m.group().upper() in _KEYWORDS else NAME
            return kind, m.end()
    return ERR, pos + 1


def lex(text: str) -> list[Token]:
    """Tokens of `text` without whitespace; positions index into `text`."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        kind, end = _next_token(text, pos)
        if kind != WS:
            out.append(Token(kind, text[pos:end], pos, end))
        pos = end
    return out


# -- filter parsing ------------------------------------------------------------------------------
#: What a parser makes of each clause: a Clause for runs, a test for traces (trace_search.py).
_C = TypeVar("_C")


class Parser(Generic[_C]):
    def __init__(self, text: str, label: str = "") -> None:
        self.text = text
        self.label = label  # what `text` is, for messages: "" for a filter, "order_by "
        self.tokens = lex(text)
        self.i = 0

    def fail(self, what: str, hint: str = "") -> FilterError:
        """One sentence naming the offending token, the text it is in and what would do."""
        tail = f" ({hint})" if hint else ""
        return FilterError(f'{what} in {self.label}"{self.text}"{tail}.')

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def unexpected(self, tok: Token) -> FilterError:
        if tok.is_kw("OR"):
            return self.fail("Unsupported 'OR'", "MLflow filters join clauses with AND only")
        if tok.text == ";":
            return self.fail("Unexpected ';'", "a filter is one expression")
        if tok.text == "(":
            return self.fail("Unexpected '('", "MLflow filters take no parentheses except IN")
        if tok.kind == STRING:
            return self.fail(f"Unexpected string {tok.text}", "a clause starts with a key")
        return self.fail(f"Unexpected '{tok.text}'")

    # An identifier is a name, a backticked or double-quoted name, or such names joined by "."
    # with no spaces (a single-quoted part may end it: metrics.'loss/train').
    def identifier(self) -> str | None:
        first = self.peek()
        if first is None or first.kind not in (NAME, SYMBOL):
            return None
        self.i += 1
        end = first.end
        while True:
            dot = self.peek()
            if dot is None or dot.text != "." or dot.kind != PUNCT:
                break
            nxt = self.peek(1)
            if dot.start != end or nxt is None or nxt.start != dot.end:
                # MLflow reads `metrics. a` as the metric " a" and `metrics .a` as the bad
                # prefix "metrics ": deliberately refused.
                raise self.fail(
                    f"Unexpected space around '.' after '{self.text[first.start : end]}'"
                )
            if nxt.kind not in (NAME, SYMBOL, STRING):
                raise self.fail(
                    f"Unexpected '{nxt.text}' after '{self.text[first.start : dot.end]}'"
                )
            self.i += 2
            end = nxt.end
            if nxt.kind == STRING:
                break
        return self.text[first.start : end]

    def parse(self) -> list[_C]:
        clauses: list[_C] = []
        prev_form: str | None = None  # form of the previous clause when no AND came between
        while (tok := self.peek()) is not None:
            if tok.is_kw("AND"):
                # MLflow (via sqlparse) ignores stray, leading and doubled ANDs.
                self.i += 1
                prev_form = None
                continue
            start = self.i
            ident = self.identifier()
            if ident is None:
                raise self.unexpected(tok)
            nxt = self.peek()
            if nxt is None:
                raise self.fail(f"Incomplete clause '{ident}'", "expected a comparator")
            form = "cmp" if nxt.kind == COMP else "kw"
            if prev_form is not None and form == "kw" and prev_form != "null":
                # MLflow accepts `a > 1 b > 2` as two clauses, but glues an IN / IS clause onto
                # a preceding comparison (sqlparse's alias grouping): deliberately refused.
                raise self.fail(f"Missing AND before '{self.text[self.tokens[start].start :]}'")
            clause, prev_form = self.clause(ident, nxt)
            clauses.append(clause)
        return clauses

    def clause(self, raw: str, nxt: Token) -> tuple[_C, str]:
        if nxt.kind == COMP:
            self.i += 1
            value = self.value(f"'{raw} {nxt.text}'")
            return self.build(raw, nxt.text.upper(), value), "cmp"
        if nxt.is_kw("IS"):
            self.i += 1
            null = self.peek()
            # sqlparse lexes "NOT NULL" as one keyword; MLflow only knows it spelt with one space.
            if null is not None and (null.is_kw("NULL") or null.is_kw("NOT NULL")):
                self.i += 1
                comparator = "IS NULL" if null.is_kw("NULL") else "IS NOT NULL"
                return self.build(raw, comparator, None), "null"
            shown = null.text if null else "end of filter"
            raise self.fail(f"Expected NULL or NOT NULL after '{raw} IS', found '{shown}'")
        after_not = self.peek(1)
        if nxt.is_kw("IN") or (nxt.is_kw("NOT") and after_not and after_not.is_kw("IN")):
            negated = nxt.is_kw("NOT")
            self.i += 2 if negated else 1
            paren = self.peek()
            if paren is None or paren.text != "(":
                raise self.fail(
                    f"Expected a parenthesised list after '{raw} {'NOT IN' if negated else 'IN'}'"
                )
            value = self.value(raw)
            return self.build(raw, "NOT IN" if negated else "IN", value), "in"
        raise self.fail(f"Invalid comparator '{nxt.text}'", f"after '{raw}'")

    def value(self, after: str) -> Value:
        tok = self.peek()
        if tok is None:
            raise self.fail(f"Missing value after {after}")
        if tok.kind in (STRING, INT, FLOAT):
            self.i += 1
            return Value(tok.kind, tok.text)
        if tok.kind in (NAME, SYMBOL):
            return Value("ident", self.identifier() or "")
        if tok.text == "(":
            return Value("list", self.parenthesised())
        raise self.fail(f"Unexpected '{tok.text}' where a value belongs")

    def parenthesised(self) -> str:
        open_tok = self.take()
        depth = 1
        close = open_tok  # the last token taken: the matching ")" once depth is 0
        while depth:
            tok = self.peek()
            if tok is None:
                raise self.fail("Unclosed '('")
            self.i += 1
            close = tok
            if tok.text == "(" and tok.kind == PUNCT:
                depth += 1
            elif tok.text == ")" and tok.kind == PUNCT:
                depth -= 1
        return self.text[open_tok.start : close.end]

    def build(self, raw: str, comparator: str, value: Value | None) -> _C:
        """The clause `raw comparator value` (`value` None for IS NULL / IS NOT NULL)."""
        raise NotImplementedError


@dataclass(slots=True)
class Value:
    kind: str  # a token kind, "ident" or "list"
    text: str


def is_quoted(text: str, quote: str) -> bool:
    return len(text) >= 2 and text[0] == quote and text[-1] == quote


def strip_key_quotes(key: str) -> str:
    """MLflow's `_trim_backticks(_strip_quotes(key))`: one layer of ' or ", then of `."""
    if is_quoted(key, "'") or is_quoted(key, '"'):
        key = key[1:-1]
    if is_quoted(key, "`"):
        key = key[1:-1]
    return key


def parse_list(text: str, fail: Callable[..., FilterError]) -> tuple[str, ...]:
    """MLflow reads an IN list as a Python literal: ('a', "b") and ('a') both work."""
    try:
        parsed = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise fail(f"Malformed list {text}", "write ('a', 'b')") from None
    items = parsed if isinstance(parsed, tuple) else (parsed,)
    if not items or not all(isinstance(x, str) for x in items):
        raise fail(f"Expected a non-empty list of quoted strings, found {text}")
    return items


# -- comparing values --------------------------------------------------------------------------
def like_matcher(pattern: str, flags: int = 0) -> Callable[[str], bool]:
    """SQL LIKE as MLflow's file store does it, in time linear in the value for each segment.

    MLflow matches `^` + the pattern with `%` as `.*` and `_` as `.` + `$` (the anchors left
    out where the pattern opens or ends with `%`): no escape character, `.` does not cross a
    newline and `$` also matches before a final newline. Run by `re` that backtracks
    exponentially on many `%` (30 s for one 100-character value), so the same language is
    matched here segment by segment: the pattern split at `%` gives fixed-length segments
    (`_` is one character, IGNORECASE folds character by character), each placed leftmost
    after the previous one, which is never worse for the segments after it; the text a `%`
    covers must hold no newline.
    """
    parts = pattern.split("%")
    segments = [re.compile(re.escape(p).replace("_", "."), flags) for p in parts]
    head, tail = segments[0], segments[-1]
    inner = [seg for seg, text in zip(segments[1:-1], parts[1:-1], strict=True) if text]
    tail_length = len(parts[-1])

    def ends_at(value: str, end: int) -> bool:  # `$`: the end, or before a final newline
        return end == len(value) or (end == len(value) - 1 and value[-1] == "\n")

    def like(value: str) -> bool:
        first = head.match(value)
        if first is None:
            return False
        if len(parts) == 1:
            return ends_at(value, first.end())
        pos = first.end()
        for seg in inner:
            found = seg.search(value, pos)
            if found is None or "\n" in value[pos : found.start()]:
                return False
            pos = found.end()
        if not parts[-1]:  # a final `%` with no `$`: whatever follows is left unmatched
            return True
        starts = [len(value) - tail_length]
        if value.endswith("\n"):
            starts.append(len(value) - 1 - tail_length)
        return any(
            start >= pos and "\n" not in value[pos:start] and tail.match(value, start)
            for start in starts
        )

    return like


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "IN": lambda lhs, rhs: lhs in rhs,
    "NOT IN": lambda lhs, rhs: lhs not in rhs,
}


def value_test(comparator: str, value: Any) -> Callable[[Any], bool]:
    """lhs -> bool for one comparator; Python semantics, so NaN only satisfies `!=`."""
    if comparator in ("LIKE", "ILIKE"):
        return like_matcher(value, re.IGNORECASE if comparator == "ILIKE" else 0)
    op = _OPS[comparator]
    return lambda lhs: op(lhs, value)

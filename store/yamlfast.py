"""A fast reader for the flat `meta.yaml` files MLflow writes, exact or not at all.

MLflow dumps its meta files with `yaml.safe_dump(default_flow_style=False, sort_keys=True)`:
one `key: scalar` per line. Parsing those lines by hand is ~20x faster than PyYAML, which
matters when a store holds 10,000 runs. Plain scalars are typed with PyYAML's own implicit
resolvers, so the result is what `yaml.safe_load` gives; anything outside the simple form
(nested blocks, escapes, folded lines, comments, anchors) goes to `yaml.safe_load` with the C
loader instead. Nothing here ever builds arbitrary Python objects.

Every YAML read of a store goes through `loads`, which also refuses an alias bomb: anchors
nested a few deep expand a 615-byte file into billions of nodes, which PyYAML builds as shared
references in no time, but which turning into text (str(), an export) never finishes. The
composed document is counted as if expanded, before anything is built from it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.resolver import Resolver

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    # Another class with the same API; the ignore is unused where types-PyYAML is missing.
    from yaml import SafeLoader as _Loader  # type: ignore[assignment, unused-ignore]

_RESOLVERS = Resolver.yaml_implicit_resolvers
_TAG = "tag:yaml.org,2002:"
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DECIMAL = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")
# First characters that make a plain scalar something other than a plain string.
_INDICATORS = frozenset("[]{}|>&*!%@`#,?:\"'")
# Characters YAML treats specially (line breaks NEL, LS, PS) or refuses (non-printables):
# a file holding one is left to PyYAML, to be read or refused exactly as MLflow would.
_UNUSUAL = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


#: The most nodes a document may hold once its aliases are expanded (MLflow's files hold at
#: most a few hundred; a signature is one JSON string).
MAX_NODES = 100_000


class TooLargeError(yaml.YAMLError):
    """A document holding more than MAX_NODES nodes once its aliases are expanded."""


class _CappedLoader(_Loader):
    """The safe loader, refusing a document that expands to more than MAX_NODES nodes."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return self.construct_document(node)


def _check_expanded_size(root: yaml.Node) -> None:
    """Raise TooLargeError when `root` expands past MAX_NODES; each distinct node is walked once.

    The expanded size of a node is 1 plus that of its children, an aliased node counting each
    time it is used: computed bottom-up over the node graph, without recursion.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done or not children:
            total = 1 + sum(sizes[id(child)] for child in children)
            if total > MAX_NODES:
                raise TooLargeError(
                    f"more than {MAX_NODES:,} values once its aliases are expanded"
                    " (a YAML alias bomb?)"
                )
            sizes[id(node)] = total
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return []


class _NotFlat(Exception):
    """The document is not in the simple flat form; let PyYAML read it."""


def _plain(value: str) -> Any:
    for tag, regexp in _RESOLVERS.get(value[0], ()):
        if regexp.match(value):
            if tag == _TAG + "int" and _DECIMAL.match(value):
                return int(value)
            if tag == _TAG + "null":
                return None
            if tag == _TAG + "bool":
                low = value.lower()
                if low in ("true", "false"):
                    return low == "true"
            raise _NotFlat  # octal, sexagesimal, floats, timestamps, yes/no...: PyYAML decides
    return value


def _scalar(value: str) -> Any:
    first = value[0]
    if first == "'":
        inner = value[1:-1]
        if len(value) < 2 or value[-1] != "'" or "'" in inner.replace("''", ""):
            raise _NotFlat
        return inner.replace("''", "'")
    if first == '"':
        inner = value[1:-1]
        if len(value) < 2 or value[-1] != '"' or '"' in inner or "\\" in inner:
            raise _NotFlat
        return inner
    if value == "[]":
        return []
    if value == "{}":
        return {}
    if first in _INDICATORS or (first == "-" and value[1:2] in ("", " ")):
        raise _NotFlat
    if " #" in value or ": " in value or value[-1] in ": " or first == " ":
        raise _NotFlat
    return _plain(value)


#: Keys known to be plain strings in YAML (not null, bool, int...), so they need no checking.
_PLAIN_KEYS: set[str] = set()


def _parse_flat(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    plain_keys = _PLAIN_KEYS
    for line in text.split("\n"):
        key, sep, value = line.partition(": ")
        if key not in plain_keys:
            if not line:
                continue
            if not sep or not _KEY.match(key) or _plain(key) != key:
                raise _NotFlat  # "key:" opening a nested block, a comment, not a mapping...
            if len(plain_keys) < 1000:
                plain_keys.add(key)
        if not value or key in out or "\t" in value or "\r" in value:
            raise _NotFlat
        # The common cases first: digits (times, status codes) and quoted strings.
        if value.isdigit() and value.isascii() and (value[0] != "0" or value == "0"):
            out[key] = int(value)
        else:
            out[key] = _scalar(value)
    return out


def loads(data: bytes | str) -> Any:
    """Parse a YAML document as `yaml.safe_load` would; fast for MLflow's flat meta files.

    Raises `yaml.YAMLError` (`TooLargeError` for an alias bomb) or `UnicodeDecodeError` on
    malformed input.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if not text.strip():
        return None
    try:
        if _UNUSUAL.search(text):
            raise _NotFlat
        return _parse_flat(text)
    except _NotFlat:
        return yaml.load(text, Loader=_CappedLoader)  # a safe loader: plain data only

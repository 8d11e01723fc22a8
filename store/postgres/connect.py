"""PostgreSQL URIs as `mlflow ui --backend-store-uri` takes them, and connecting to one.

psycopg (3) is imported here, only when a PostgreSQL store is opened. The password comes from
the URI, or from PGPASSWORD or ~/.pgpass as libpq finds it; it never appears in a message or
in `display_uri`'s result.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import NotAStoreError, StoreError

#: SQLAlchemy spells the driver after a "+"; libpq knows only postgresql:// and postgres://.
SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
#: Seconds libpq waits for a server that does not answer (a firewall dropping packets).
CONNECT_TIMEOUT = 10
#: libpq settings that keep a read from hanging, each used unless the URI gives its own: the
#: connect timeout, and TCP keepalives that notice a server gone from the network in ~25 s
#: (the system's default is two hours).
DEFAULTS = {
    "connect_timeout": str(CONNECT_TIMEOUT),
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
}
#: How long a read waits for a lock held by a schema change (a migration) before it fails.
LOCK_TIMEOUT = "10s"


class DatabaseUnreachable(StoreError):
    """No PostgreSQL server answered at that address (refused, unknown host, timed out)."""


class AuthenticationFailed(StoreError):
    """The server refused the user name or password."""


def is_postgres_uri(target: str) -> bool:
    return target.split("://", 1)[0].lower() in SCHEMES if "://" in target else False


def libpq_uri(uri: str) -> str:
    """`uri` with the scheme libpq accepts (SQLAlchemy's `+driver` dropped)."""
    scheme, rest = uri.split("://", 1)
    if scheme.lower() not in SCHEMES:
        raise NotAStoreError(f"{display_uri(uri)} is not a PostgreSQL URI")
    return "postgresql://" + rest


def display_uri(uri: str) -> str:
    """`uri` with any password taken out (of the user part and of the query)."""
    try:
        parts = urlsplit(uri)
        netloc = parts.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}@{host}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # a malformed URI (a bad port): show its scheme and no more
        return uri.split("://", 1)[0] + "://..."


def database_name(uri: str) -> str:
    return urlsplit(uri).path.lstrip("/") or "(the user's default database)"


def _settings(uri: str) -> dict[str, Any]:
    """DEFAULTS with the URI's own query parameters over them."""
    return {**DEFAULTS, **dict(parse_qsl(urlsplit(uri).query))}


def connect(uri: str, *, read_only: bool = True):
    """A psycopg connection for reading only, each transaction one consistent snapshot; or,
    not `read_only`, one in autocommit mode whose writer begins and ends its own transactions
    (store/postgres/registry.py)."""
    import psycopg
    from psycopg.types.string import TextLoader

    try:
        conn = psycopg.connect(libpq_uri(uri), **_settings(uri))
    except psycopg.Error as exc:
        raise connect_error(uri, exc) from None
    except ValueError as exc:  # psycopg's URI parsing (a port that is not a number)
        raise NotAStoreError(f"{display_uri(uri)} is not a valid PostgreSQL URI") from exc
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    conn.commit()
    if read_only:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    else:
        conn.autocommit = True
    # MLflow's json columns as the text SQLite holds, not parsed objects.
    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, TextLoader)
    return conn


#: libpq's words for each failure (its messages are not localised in the C locale; a server's
#: FATAL message may be, so unmatched ones are passed on as they are).
_REASONS = (
    (re.compile(r"password authentication failed|no password supplied|authentication failed"),
     AuthenticationFailed, "the server refused the user name or password (give it in the URI, "
     "PGPASSWORD or ~/.pgpass)"),
    (re.compile(r"database \".*\" does not exist"), NotAStoreError,
     "no database {database} on that server"),
    (re.compile(r"Connection refused"), DatabaseUnreachable,
     "nothing listens at that address (is the server running?)"),
    (re.compile(r"could not translate host name|Name or service not known"), DatabaseUnreachable,
     "the host name is unknown"),
    (re.compile(r"timeout expired|timed out"), DatabaseUnreachable,
     "the server did not answer within {timeout} s"),
    (re.compile(r"invalid (port number|URI|connection option|integer value|sslmode)"),
     NotAStoreError, "the URI is not valid ({detail})"),
)  # fmt: skip


def connect_error(uri: str, exc: Exception) -> StoreError:
    """One sentence for a failed connection; the password is never in it."""
    text = str(exc)
    lines = re.sub(r"^connection (failed|is bad): ", "", text.strip()).splitlines()
    detail = _scrubbed(lines[0] if lines else type(exc).__name__, uri)
    for pattern, kind, reason in _REASONS:
        if pattern.search(text):
            timeout = _settings(uri)["connect_timeout"]
            said = reason.format(database=database_name(uri), timeout=timeout, detail=detail)
            return kind(f"cannot open {display_uri(uri)}: {said}")
    return DatabaseUnreachable(f"cannot open {display_uri(uri)}: {detail}")


def _scrubbed(text: str, uri: str) -> str:
    """`text` with the URI's password, if it has one, replaced."""
    try:
        password = urlsplit(uri).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text

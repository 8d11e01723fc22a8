"""Swapping two paths in one step, where the system can (Linux's renameat2 RENAME_EXCHANGE).

A compare-and-swap on a file that another program replaces without a lock (MLflow's file store
rewrites meta.yaml by renaming a copy over it) has a window between the last comparison and the
rename. `os.replace` loses whatever lands in that window. An exchange does not: afterwards the
other path holds exactly the file that was replaced, so the writer can see whether it was the
one it compared, and put it back if it was not.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from typing import Any

#: renameat2's flag and its "relative to the working folder" descriptor.
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
#: Errors meaning "not on this system or file system": the caller falls back to os.replace.
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM}


@functools.cache
def _function() -> Any:
    """The C library's renameat2, looked up once; None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only when a registry write first needs it

    try:
        found = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a C library older than glibc 2.28
        return None
    found.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    found.restype = ctypes.c_int
    return found


def exchange_paths(a: os.PathLike[str] | str, b: os.PathLike[str] | str) -> bool:
    """Swap the files at `a` and `b` atomically (both must exist, on one file system).

    False, with nothing changed, where the system or the file system has no such swap; an
    OSError for any other failure (a path missing, no permission).
    """
    function = _function()
    if function is None:
        return False
    import ctypes

    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), os.fspath(b))

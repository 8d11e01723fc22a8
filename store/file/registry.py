"""Writing a file store's model registry (`mlruns/models/`) as MLflow's file registry store does:
atomic replaces, compare-and-swap of meta.yaml, folders built under temporary names.

See store/registry/writer.py for the guarantees, which are this module's."""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import yamlfast
from ..errors import StoreError
from ..process import umask
from ..rawread import MAX_FILE_BYTES, check_size, open_regular, read_bytes, read_rest
from ..registry.backend import RegistryBackend, model_versions_tag, nearest_existing, writable
from ..registry.model import (
    TAG_MODEL_VERSIONS,
    InvalidWriteError,
    ModelSnapshot,
    Mutation,
    VersionSnapshot,
    holds_model,
)
from .exchange import exchange_paths

try:
    from yaml import CSafeDumper as _SafeDumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    # Another class with the same API; the ignore is unused where types-PyYAML is missing.
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment, unused-ignore]

# -- file store ------------------------------------------------------------------------------
_TMP_PREFIX = ".mltui-"
#: Our temporary names (see `FileRegistryBackend._tmp_path`): files, version folders being built, and
#: model folders being built or removed at the store's root (`.trash`: MLflow skips those).
_OUR_TMP = re.compile(re.escape(_TMP_PREFIX) + r"[0-9a-f]{32}(\.tmp|\.trash)?")


def _dump_yaml(data: dict[str, Any]) -> str:
    # MLflow's write_yaml: yaml.dump with the C safe dumper, sorted keys, block style, unicode.
    # The pure-Python dumper folds long quoted strings differently, so use the same one.
    return yaml.dump(
        data, Dumper=_SafeDumper, default_flow_style=False, allow_unicode=True, sort_keys=True
    )


# The fields MLflow 3.17.2's entities write (RegisteredModel / FileModelVersion properties
# minus those kept elsewhere); any other key found in a meta.yaml is kept as it is.
_MODEL_KEYS = (
    "creation_timestamp",
    "deployment_job_id",
    "deployment_job_state",
    "description",
    "last_updated_timestamp",
    "name",
    "workspace",
)
_VERSION_KEYS = (
    "creation_timestamp",
    "current_stage",
    "deployment_job_state",
    "description",
    "last_updated_timestamp",
    "model_id",
    "name",
    "run_id",
    "run_link",
    "source",
    "status",
    "status_message",
    "storage_location",
    "user_id",
    "version",
    "workspace",
)
_DEFAULTS = {"workspace": "default", "status": "READY"}
#: Keys every meta.yaml MLflow writes has, sorted among the last: a file without them is being
#: written (or damaged), never a base to rewrite.
_MODEL_REQUIRED = ("name",)
_VERSION_REQUIRED = ("name", "version")


class FileRegistryBackend(RegistryBackend):
    kind = "file"
    #: After changing a description in a meta.yaml, look again this long after (seconds): MLflow
    #: rewrites the model's meta.yaml from a copy read beforehand when it bumps a timestamp.
    VERIFY_DELAYS = (0.02, 0.1, 0.25)
    #: How long to keep putting such a change back while another program goes on rewriting the
    #: file from stale copies: a script registering versions in a loop can revert it again and
    #: again for seconds (5 tries were not enough with 2 busy cores); a person waits at most this.
    REWRITE_SECONDS = 10.0
    #: Times a new version's number is tried again when a concurrent writer takes it.
    CLAIM_ATTEMPTS = 20
    #: Times a compare-and-swap is tried again when another program changed the file meanwhile
    #: (about 1 s of waiting in all).
    SWAP_ATTEMPTS = 20
    #: Our temporary files and folders older than this (seconds) were left by a crashed write.
    STALE_SECONDS = 60.0

    tag_writes_bump_model = True

    def check_model_name(self, name: str) -> None:
        if "%" in name or os.sep in name or (os.altsep and os.altsep in name):
            # The file store keeps each model in a folder named after it.
            raise InvalidWriteError(f"invalid model name {name!r}: the file store refuses '%'")

    def __init__(self, root: Path) -> None:
        self.root = root
        #: Files are read only inside it (see rawread.open_regular).
        self.root_real = os.path.realpath(root)
        self.models = root / "models"
        self._lock = threading.Lock()

    # paths
    def model_dir(self, name: str) -> Path:
        return self.models / name

    def version_dir(self, name: str, version: int) -> Path:
        return self.models / name / f"version-{version}"

    def refusal(self) -> str | None:
        where = self.models if self.models.exists() else self.root
        if not where.is_dir():
            return f"{where} is not a folder"
        if not writable(where):
            return f"{where} is not writable (file permissions); nothing was written"
        return None

    def _touched(self, m: Mutation) -> list[Path]:
        model = self.model_dir(m.name)
        if m.kind == "create_model":
            return [self.root, self.models]  # built at the root, renamed into models/
        if m.kind == "remove_incomplete_model":
            return [self.root, self.models, model]
        if m.kind == "update_model":
            return [model, model / "meta.yaml"]
        if m.kind in ("set_model_tag", "delete_model_tag"):
            return [model, model / "tags" / m.named_key]
        if m.kind in ("set_alias", "delete_alias"):
            return [model, model / "aliases" / m.named_key]
        if m.kind == "create_version":
            return [model]
        if m.kind == "update_version":
            vdir = self.version_dir(m.name, m.named_version)
            return [vdir, vdir / "meta.yaml"]
        if m.kind in ("set_version_tag", "delete_version_tag"):
            vdir = self.version_dir(m.name, m.named_version)
            return [vdir, vdir / "tags" / m.named_key]
        if m.kind == "append_model_version":
            lm = self.root / str(m.value) / "models" / m.named_key
            return [lm, lm / "tags" / TAG_MODEL_VERSIONS]
        return []

    def refusal_for(self, mutations: list[Mutation]) -> str | None:
        for m in mutations:
            for path in self._touched(m):
                target = nearest_existing(path)
                if not writable(target):
                    return f"{target} is not writable (file permissions); nothing was written"
        return None

    # reading
    def _read_meta(self, path: Path, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
        found = self._load_meta(path, required)
        return None if found is None else found[1]

    def _load_meta(
        self, path: Path, required: tuple[str, ...] = ()
    ) -> tuple[_Seen, dict[str, Any]] | None:
        """A meta.yaml as read (for a compare-and-swap) and as data; None if there is none.

        MLflow's writes are not atomic (truncate, then write): an empty file, one that does not
        parse, or one cut short (no final newline, or without the `required` keys, which MLflow's
        sorted dump puts last) may be one being written; look again.
        """
        for delay in (0.0, 0.05, 0.1, 0.2):
            if delay:
                time.sleep(delay)
            try:
                seen = _read_seen(path, self.root_real)
            except OSError as exc:
                raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
            if seen is None:
                return None
            try:
                text = seen.data.decode("utf-8")
                data = yamlfast.loads(text)  # the safe loader, refusing alias bombs
            except (UnicodeDecodeError, yaml.YAMLError):
                continue
            if required and not text.endswith("\n"):
                continue
            if isinstance(data, dict) and all(k in data for k in required):
                return seen, data
        raise StoreError(f"{path} is empty, partial or damaged; not writing over it")

    def _read_files(self, folder: Path) -> dict[str, str]:
        """Tag or alias files under `folder` (keys may hold '/': nested folders)."""
        out: dict[str, str] = {}
        if not folder.is_dir():
            return out
        for dirpath, _dirs, files in os.walk(folder):
            for fname in files:
                if fname.startswith(_TMP_PREFIX):
                    continue
                full = os.path.join(dirpath, fname)
                key = os.path.relpath(full, folder).replace(os.sep, "/")
                try:
                    out[key] = read_bytes(full, self.root_real).decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
        return out

    def snapshot(self, name: str) -> ModelSnapshot:
        model_dir = self.model_dir(name)
        if not name or "/" in name or name in (".", "..") or not model_dir.is_dir():
            return ModelSnapshot(name, exists=False)
        meta = self._read_meta(model_dir / "meta.yaml")
        if meta is None:
            return ModelSnapshot(name, exists=False, leftovers=_files_under(model_dir))
        model = ModelSnapshot(name, exists=True, description=meta.get("description"))
        model.tags = self._read_files(model_dir / "tags")
        for alias, text in self._read_files(model_dir / "aliases").items():
            try:
                model.aliases[alias] = int(text)
            except ValueError:
                continue
        for entry in os.scandir(model_dir):
            if not entry.is_dir() or not entry.name.startswith("version-"):
                continue
            vmeta = self._read_meta(Path(entry.path) / "meta.yaml")
            if vmeta is None:
                continue
            try:
                number = int(vmeta.get("version", entry.name[len("version-") :]))
            except (TypeError, ValueError):
                continue
            model.versions[number] = VersionSnapshot(
                number,
                str(vmeta.get("current_stage") or "None"),
                vmeta.get("description"),
                self._read_files(Path(entry.path) / "tags"),
            )
        return model

    # writing
    def _tmp_path(self, folder: Path, suffix: str = ".tmp") -> Path:
        """A fresh name of ours in `folder`, after clearing what crashed writes left there."""
        self._sweep(folder)
        return folder / f"{_TMP_PREFIX}{uuid.uuid4().hex}{suffix}"

    def _sweep(self, folder: Path) -> None:
        """Remove our temporary files and folders in `folder` that are over a minute old.

        Only names we make (`_OUR_TMP`); the age (last change of content or name) keeps a write
        in progress in another process safe.
        """
        cutoff = time.time() - self.STALE_SECONDS
        try:
            with os.scandir(folder) as it:
                ours = [e for e in it if _OUR_TMP.fullmatch(e.name)]
        except OSError:
            return
        for entry in ours:
            try:
                st = entry.stat(follow_symlinks=False)
                if max(st.st_mtime, st.st_ctime) > cutoff:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue  # gone already, or not ours to remove: the write goes on

    def _write_tmp(self, folder: Path, text: str, mode: int | None) -> Path:
        tmp = self._tmp_path(folder)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            # A new file gets the permissions MLflow's plain open() would give it; a replaced
            # one keeps its own (as MLflow's overwrite_yaml restores them).
            os.chmod(tmp, mode if mode is not None else 0o666 & ~umask())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _replace(self, target: Path, text: str, tmp_folder: Path) -> None:
        """Write `target` atomically; the temporary file lives in `tmp_folder` (same disk)."""
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = None
        tmp = self._write_tmp(tmp_folder, text, mode)
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _write_new(self, target: Path, text: str) -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def _create(self, target: Path, text: str, tmp_folder: Path) -> None:
        """Create `target` with all of `text` at once, failing (FileExistsError) if it exists."""
        tmp = self._write_tmp(tmp_folder, text, None)
        try:
            try:
                os.link(tmp, target)  # atomic, and never replaces an existing file
            except FileExistsError:
                raise
            except OSError:
                self._write_new(target, text)  # no hard links here: exclusive create instead
        finally:
            tmp.unlink(missing_ok=True)

    def _model_meta_text(self, name: str, meta: dict[str, Any]) -> str:
        out = {k: v for k, v in meta.items() if k != "aliases"}
        for key in _MODEL_KEYS:
            out.setdefault(key, _DEFAULTS.get(key))
        if out.get("workspace") is None:
            out["workspace"] = "default"
        # The stale copy of the aliases, refreshed from aliases/ as MLflow does on each rewrite.
        out["aliases"] = self._read_files(self.model_dir(name) / "aliases")
        return _dump_yaml(out)

    @staticmethod
    def _version_meta_text(meta: dict[str, Any]) -> str:
        # 2.x wrote a stale `aliases: []` here; 3.17.2 drops it (aliases live in aliases/).
        out = {k: v for k, v in meta.items() if k not in ("aliases", "tags", "metrics", "params")}
        for key in _VERSION_KEYS:
            out.setdefault(key, _DEFAULTS.get(key))
        if out.get("workspace") is None:
            out["workspace"] = "default"
        return _dump_yaml(out)

    def _swap(self, target: Path, seen: _Seen | None, text: str, tmp_folder: Path) -> bool:
        """Replace `target` by `text` if it is still as `seen` (None: still absent).

        False, with nothing written, when another program changed it since it was read.
        """
        if seen is None:
            try:
                self._create(target, text, tmp_folder)
            except FileExistsError:
                return False
            return True
        tmp = self._write_tmp(tmp_folder, text, seen.mode)
        try:
            if _read_seen(target, self.root_real) != seen:
                return False
            our_inode = os.stat(tmp, follow_symlinks=False).st_ino
            if not exchange_paths(tmp, target):
                # No atomic exchange here: an MLflow write landing between the check above and
                # this rename is lost (the window the module docstring names).
                os.replace(tmp, target)
                return True
            # `tmp` now holds what `target` held at the instant of the swap.
            if _read_seen(tmp, self.root_real) == seen:
                return True
            # Another program's write landed between the check and the swap: put it back (ours
            # is the file at `target` now, unless yet another write replaced it) and start over
            # from it.
            if os.stat(target, follow_symlinks=False).st_ino == our_inode:
                exchange_paths(tmp, target)
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _rewrite(self, target: Path, tmp_folder: Path, change) -> None:
        """Swap `change()`'s text into `target`, reading anew while another program interferes.

        `change()` reads `target` and returns (what it read, the text to write in its place).
        """
        for attempt in range(self.SWAP_ATTEMPTS):
            if attempt:
                time.sleep(0.005 * attempt)  # let the other writer finish
            seen, text = change()
            if self._swap(target, seen, text, tmp_folder):
                return
        raise StoreError(
            f"another program kept rewriting {target} while we wrote; nothing was written there, "
            "try again"
        )

    def _update_meta(self, path: Path, fields: dict[str, Any], render, required) -> None:
        """Set `fields` in a meta.yaml, keeping whatever else it holds as it is when we swap."""

        def change() -> tuple[_Seen, str]:
            found = self._load_meta(path, required)
            if found is None:
                raise InvalidWriteError(f"{path} is gone; another program removed it")
            seen, meta = found
            return seen, render({**meta, **fields})

        self._rewrite(path, path.parent, change)

    def _update_meta_checked(self, path: Path, fields: dict[str, Any], render, required) -> None:
        """Update fields, then make sure a concurrent rewrite did not put the old values back."""
        self._update_meta(path, fields, render, required)
        lasting = {k: v for k, v in fields.items() if not k.endswith("timestamp")}
        if not lasting:
            return
        deadline = time.monotonic() + self.REWRITE_SECONDS
        step = 0
        while step < len(self.VERIFY_DELAYS):
            time.sleep(self.VERIFY_DELAYS[step])
            meta = self._read_meta(path) or {}
            if all(meta.get(k) == v for k, v in lasting.items()):
                step += 1
                continue
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"another program keeps rewriting {path}; the change did not hold, try again"
                )
            self._update_meta(path, fields, render, required)
            step = 0  # watch the whole schedule again after writing again

    def _create_version(self, name: str, first: int, fields: dict[str, Any], now: int) -> int:
        """Create `version-<n>` for the lowest free n >= `first`; returns n.

        The folder is built under a temporary name inside the model folder (MLflow lists only
        `version-*` there) and renamed into place, so no reader ever meets a version folder
        without its meta.yaml; a rename fails on a folder that already holds something, which
        is how a number taken by a concurrent writer is noticed.
        """
        model_dir = self.model_dir(name)
        number = first
        for _ in range(self.CLAIM_ATTEMPTS):
            existing = [
                int(e.name[len("version-") :])
                for e in os.scandir(model_dir)
                if e.is_dir() and e.name[len("version-") :].isdigit()
            ]
            number = max([number - 1, *existing]) + 1
            vdir = self.version_dir(name, number)
            meta = {
                "name": name,
                "version": number,
                "creation_timestamp": now,
                "last_updated_timestamp": now,
                "current_stage": "None",
                "status": "READY",
                "status_message": None,
                "user_id": None,
                "deployment_job_state": None,
                **fields,
            }
            text = self._version_meta_text(meta)
            if not self._place(model_dir, "", vdir, text):
                continue
            if self._still_ours(vdir, text):
                return number
            # MLflow checked for meta.yaml in its empty folder just before our rename and wrote
            # its own over ours: the number is MLflow's; take the next one.
        raise StoreError(f"could not claim a new version number for {name}; try again")

    def _create_model(self, name: str, text: str) -> None:
        """Make `models/<name>/` holding its meta.yaml `text`, in one step for every reader.

        Built at the store's root under a name ending in `.trash` (MLflow's tracking store skips
        those, FileStore._get_active_experiments; its registry lists only models/) and renamed
        into models/: a crash leaves no model folder without its meta.yaml.
        """
        self.models.mkdir(parents=True, exist_ok=True)
        model_dir = self.model_dir(name)
        if not self._place(self.root, ".trash", model_dir, text):
            raise InvalidWriteError(f"registered model {name!r} already exists")
        if not self._still_ours(model_dir, text):
            raise InvalidWriteError(f"registered model {name!r} was created by another program")

    def _place(self, build_in: Path, suffix: str, target: Path, text: str) -> bool:
        """Build a folder holding meta.yaml `text` under a temporary name in `build_in`, then
        rename it to `target`; False (nothing left behind) if `target` holds something already.
        """
        build = self._tmp_path(build_in, suffix)
        os.mkdir(build)
        try:
            self._write_new(build / "meta.yaml", text)
            # Replaces nothing but an empty folder: MLflow's creates make the folder (tolerating
            # an existing one), then write meta.yaml, refusing to write over ours.
            os.rename(build, target)
        except OSError as exc:
            shutil.rmtree(build, ignore_errors=True)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                return False
            raise
        return True

    def _still_ours(self, folder: Path, text: str) -> bool:
        """After a moment, is `folder`'s meta.yaml still ours? MLflow may have found no meta.yaml
        in its empty folder just before our rename and written its own over ours."""
        time.sleep(self.VERIFY_DELAYS[0])
        return _read_or_none(folder / "meta.yaml") == text

    def _remove_incomplete_model(self, name: str) -> None:
        """Take a model folder without meta.yaml out of models/, unless it gains one meanwhile.

        Moved out in one step (to a temporary name at the root), looked at again there, and
        deleted; put back if another program completed it in the meantime.
        """
        model_dir = self.model_dir(name)
        parked = self._tmp_path(self.root, ".trash")
        try:
            os.rename(model_dir, parked)
        except FileNotFoundError:
            raise InvalidWriteError(f"{model_dir} is gone already; nothing removed") from None
        if holds_model(_files_under(parked)):
            try:
                os.rename(parked, model_dir)
            except OSError:
                # Recreated meanwhile: keep it under a name readers skip and our sweep spares.
                kept = self.root / f"{_TMP_PREFIX}kept-{uuid.uuid4().hex}.trash"
                os.rename(parked, kept)
                raise StoreError(
                    f"{model_dir} was completed and recreated while being removed; the "
                    f"completed one is kept as {kept}"
                ) from None
            raise InvalidWriteError(
                f"{model_dir} gained its meta.yaml (another program finished creating it); "
                "nothing removed"
            )
        shutil.rmtree(parked)

    def _append_model_version(self, exp_id: str, model_id: str, name: str, version: int):
        folder = self.root / exp_id / "models" / model_id
        if not folder.is_dir():
            return  # as MLflow: a missing logged model only costs the link
        tag = folder / "tags" / TAG_MODEL_VERSIONS
        tag.parent.mkdir(parents=True, exist_ok=True)

        def change() -> tuple[_Seen | None, str]:
            seen = _read_seen(tag, self.root_real)
            current = None if seen is None else seen.data.decode("utf-8", errors="replace")
            return seen, model_versions_tag(current, name, version)

        self._rewrite(tag, folder, change)

    def run(self, name: str, clock, build) -> tuple[int, int | None]:
        with self._lock:
            now = clock()
            model = self.snapshot(name)
            mutations = build(model, now)
            created: int | None = None
            model_dir = self.model_dir(name)
            meta_path = model_dir / "meta.yaml"
            render_model = lambda meta: self._model_meta_text(name, meta)  # noqa: E731
            for m in mutations:
                if m.kind == "create_model":
                    meta = {
                        "name": name,
                        "creation_timestamp": now,
                        "last_updated_timestamp": now,
                        "description": m.fields.get("description"),
                        "deployment_job_id": None,
                        "deployment_job_state": None,
                        "workspace": "default",
                    }
                    self._create_model(name, render_model(meta))
                elif m.kind == "remove_incomplete_model":
                    self._remove_incomplete_model(name)
                elif m.kind == "update_model":
                    self._update_meta_checked(meta_path, m.fields, render_model, _MODEL_REQUIRED)
                elif m.kind == "set_model_tag":
                    self._write_key(model_dir / "tags", m.key, m.value, model_dir)
                elif m.kind == "delete_model_tag":
                    _remove(model_dir / "tags" / m.key)
                elif m.kind == "set_alias":
                    self._write_key(model_dir / "aliases", m.key, str(m.version), model_dir)
                elif m.kind == "delete_alias":
                    _remove(model_dir / "aliases" / m.key)
                elif m.kind == "create_version":
                    created = self._create_version(name, m.version, m.fields, now)
                elif m.kind == "update_version":
                    vdir = self.version_dir(name, m.version)
                    self._update_meta_checked(
                        vdir / "meta.yaml", m.fields, self._version_meta_text, _VERSION_REQUIRED
                    )
                elif m.kind in ("set_version_tag", "delete_version_tag"):
                    version = created if created is not None else m.version
                    vdir = self.version_dir(name, version)
                    if m.kind == "set_version_tag":
                        self._write_key(vdir / "tags", m.key, m.value, vdir)
                    else:
                        _remove(vdir / "tags" / m.key)
                elif m.kind == "append_model_version":
                    self._append_model_version(str(m.value), m.key, name, created or 0)
                else:  # pragma: no cover
                    raise StoreError(f"unknown change {m.kind}")
            return now, created

    def _write_key(self, folder: Path, key: str, value: str, tmp_folder: Path) -> None:
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Tag and alias files hold the value alone, no trailing newline (FileStore.write_to).
        self._replace(target, value, tmp_folder)


@dataclass(frozen=True)
class _Seen:
    """A file as read: a rewrite based on it may replace it only while it is still so."""

    #: (inode, size, mtime_ns) from before the read: a change during the read shows too.
    identity: tuple[int, int, int]
    mode: int
    data: bytes


def _read_seen(path: Path, root_real: str) -> _Seen | None:
    """A file's bytes and what identifies that version of it; None when there is none. Read as
    the store's readers read (rawread): without blocking, no link out of the store, a sane size."""
    try:
        fd, st = open_regular(str(path), root_real)
    except FileNotFoundError:
        return None
    try:
        check_size(str(path), st.st_size, MAX_FILE_BYTES)
        data = read_rest(fd, 0, st.st_size, MAX_FILE_BYTES)
    finally:
        os.close(fd)
    return _Seen((st.st_ino, st.st_size, st.st_mtime_ns), stat.S_IMODE(st.st_mode), data)


def _files_under(folder: Path) -> tuple[str, ...]:
    """Every file under `folder`, as sorted relative paths."""
    found = []
    for dirpath, dirs, files in os.walk(folder):
        dirs.sort()
        rel = Path(dirpath).relative_to(folder)
        found += [(rel / fname).as_posix() for fname in sorted(files)]
    return tuple(found)


def _read_or_none(path: Path) -> str | None:
    """A file's text; None when it is missing, unreadable or no regular file (a FIFO...)."""
    try:
        return read_bytes(str(path)).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)

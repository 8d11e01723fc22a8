"""Registry writes through a tracking server's REST API, for `RegistryWriter`.

The same plan-and-confirm flow as the local stores: the plan is computed against the
registry as the server holds it now, and each planned change becomes the REST call MLflow's
own client makes. The server keeps its own timestamps. A write is never sent twice unchecked:
when its answer is lost (timeout, dropped connection), the registry is read again, and the
write is sent once more only if its effect is not there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..registry.backend import RegistryBackend
from ..registry.model import ModelSnapshot, Mutation, VersionSnapshot
from .errors import NotFound, ServerTimeout, ServerUnreachable

if TYPE_CHECKING:
    from .store import ServerStore

API = "/api/2.0/mlflow"


class RestBackend(RegistryBackend):
    """The registry backend (store/registry/backend.py) of a tracking server."""

    kind = "server"

    def __init__(self, store: ServerStore) -> None:
        self.store = store
        self.client = store.client

    def refusal(self) -> str | None:
        return None  # the server says what it refuses (401, 403, a permission error)

    def refusal_for(self, mutations: list[Mutation]) -> str | None:
        return None

    # -- reading -----------------------------------------------------------------------------
    def snapshot(self, name: str) -> ModelSnapshot:
        try:
            data = self.client.get_json(f"{API}/registered-models/get", {"name": name})
        except NotFound:
            return ModelSnapshot(name, exists=False)
        model = data.get("registered_model") or {}
        versions = {
            int(v.version): VersionSnapshot(
                int(v.version), v.current_stage, v.description, dict(v.tags)
            )
            for v in self.store.model_versions(name)
            if v.version.isdigit()
        }
        return ModelSnapshot(
            name,
            exists=True,
            description=model.get("description"),
            tags={str(t.get("key")): str(t.get("value", "")) for t in model.get("tags") or ()},
            aliases={
                str(a.get("alias")): int(a.get("version"))
                for a in model.get("aliases") or ()
                if str(a.get("version", "")).isdigit()
            },
            versions=versions,
        )

    # -- writing -----------------------------------------------------------------------------
    def run(
        self,
        name: str,
        clock: Callable[[], int],
        build: Callable[[ModelSnapshot, int], list[Mutation]],
    ) -> tuple[int, int | None]:
        now = clock()
        mutations = build(self.snapshot(name), now)
        created: int | None = None
        # The server numbers a new version itself: later changes go to the number it gave.
        numbers: dict[int, int] = {}
        for m in mutations:
            if m.version is not None:
                m.version = numbers.get(m.version, m.version)
            given = self._send_checked(m)
            if m.kind == "create_version" and given is not None and m.version is not None:
                numbers[m.version] = given
                created = given
        return now, created

    def _send_checked(self, m: Mutation) -> int | None:
        try:
            return self._send(m)
        except (ServerTimeout, ServerUnreachable):
            # The answer was lost, not necessarily the write: look before writing again.
            done = self._done(m)
            if done is not None:
                return done
            return self._send(m)

    def _send(self, m: Mutation) -> int | None:
        """The REST call for one change; the version number for a created version."""
        call = self.client.post_json
        name = m.name
        if m.kind == "create_model":
            body: dict[str, Any] = {"name": name}
            if m.fields.get("description"):
                body["description"] = m.fields["description"]
            call(f"{API}/registered-models/create", body, idempotent=False)
        elif m.kind == "update_model":
            if "description" in m.fields:  # timestamps: the server keeps its own
                body = {"name": name, "description": m.fields["description"] or ""}
                call(f"{API}/registered-models/update", body, idempotent=False, method="PATCH")
        elif m.kind == "set_model_tag":
            body = {"name": name, "key": m.key, "value": m.value}
            call(f"{API}/registered-models/set-tag", body, idempotent=False)
        elif m.kind == "delete_model_tag":
            body = {"name": name, "key": m.key}
            call(f"{API}/registered-models/delete-tag", body, idempotent=False, method="DELETE")
        elif m.kind == "set_alias":
            body = {"name": name, "alias": m.key, "version": str(m.version)}
            call(f"{API}/registered-models/alias", body, idempotent=False)
        elif m.kind == "delete_alias":
            body = {"name": name, "alias": m.key}
            call(f"{API}/registered-models/alias", body, idempotent=False, method="DELETE")
        elif m.kind == "create_version":
            body = {"name": name, **{k: v for k, v in m.fields.items() if v}}
            body.pop("storage_location", None)  # the server records it from the source
            answer = call(f"{API}/model-versions/create", body, idempotent=False)
            return int((answer.get("model_version") or {}).get("version", 0)) or None
        elif m.kind == "update_version":
            self._update_version(m)
        elif m.kind == "set_version_tag":
            body = {"name": name, "version": str(m.version), "key": m.key, "value": m.value}
            call(f"{API}/model-versions/set-tag", body, idempotent=False)
        elif m.kind == "delete_version_tag":
            body = {"name": name, "version": str(m.version), "key": m.key}
            call(f"{API}/model-versions/delete-tag", body, idempotent=False, method="DELETE")
        # append_model_version: a file store's bookkeeping; the server does its own.
        return None

    def _update_version(self, m: Mutation) -> None:
        call = self.client.post_json
        version = str(m.version)
        if "current_stage" in m.fields:
            body = {
                "name": m.name,
                "version": version,
                "stage": m.fields["current_stage"],
                "archive_existing_versions": False,  # planned as changes of their own
            }
            call(f"{API}/model-versions/transition-stage", body, idempotent=False)
        if "description" in m.fields:
            body = {
                "name": m.name,
                "version": version,
                "description": m.fields["description"] or "",
            }
            call(f"{API}/model-versions/update", body, idempotent=False, method="PATCH")

    def _done(self, m: Mutation) -> int | None:
        """Whether the server holds the change already: the version number for a created
        version, 0 for any other change, None when it is not there."""
        model = self.snapshot(m.name)
        version = model.versions.get(m.version) if m.version is not None else None
        effects: dict[str, Callable[[], bool]] = {
            "create_model": lambda: model.exists,
            "update_model": lambda: (
                model.description == m.fields.get("description", model.description)
            ),
            "set_model_tag": lambda: model.tags.get(m.key or "") == m.value,
            "delete_model_tag": lambda: m.key not in model.tags,
            "set_alias": lambda: model.aliases.get(m.key or "") == m.version,
            "delete_alias": lambda: m.key not in model.aliases,
            "set_version_tag": lambda: (
                version is not None and version.tags.get(m.key or "") == m.value
            ),
            "delete_version_tag": lambda: version is not None and m.key not in version.tags,
            "update_version": lambda: (
                version is not None
                and version.stage == m.fields.get("current_stage", version.stage)
                and version.description == m.fields.get("description", version.description)
            ),
        }
        if m.kind == "create_version":
            source = m.fields.get("source")
            fresh = [
                v
                for v in self.store.model_versions(m.name)
                if v.source == source and v.version.isdigit() and int(v.version) >= (m.version or 0)
            ]
            return int(fresh[0].version) if fresh and fresh[0].version.isdigit() else None
        check = effects.get(m.kind)
        return 0 if check is None or check() else None

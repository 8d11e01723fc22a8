"""Reading models from an MLflow database: MLflow 3's logged models, and the model registry
(registered models, their versions, tags and aliases), keyed by workspace and name."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ..entities import (
    ACTIVE,
    STAGE_DELETED_INTERNAL,
    LoggedModel,
    LoggedModelMetric,
    ModelVersion,
    RegisteredModel,
    is_prompt,
)
from .database import SqlDatabase, int_ids

#: mlflow/entities/logged_model_status.py `LoggedModelStatus.from_int`.
_LOGGED_MODEL_STATUS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}
_NAN = float("nan")


class ModelReading(SqlDatabase):
    """Logged models and the model registry, as MLflow's SQLAlchemy stores read them."""

    def logged_models(
        self, experiment_ids: Iterable[str] | None = None, include_deleted: bool = False
    ) -> list[LoggedModel]:
        """MLflow 3 logged models with params, tags and metrics; deleted ones hidden by default."""
        if not self.has("logged_models"):
            return []
        t = "logged_models"
        c = self.col
        where: list[str] = []
        args: list = []
        if experiment_ids is not None:
            ids = int_ids(experiment_ids)
            if not ids:
                return []
            where.append(f"experiment_id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        stage = c(t, "lifecycle_stage", repr(ACTIVE))
        if not include_deleted:
            # search_logged_models filters lifecycle_stage != 'deleted'.
            where.append(f"COALESCE({stage}, 'active') != 'deleted'")
        sql = (
            f"SELECT model_id, experiment_id, name, artifact_location, "
            f"{c(t, 'creation_timestamp_ms')}, {c(t, 'last_updated_timestamp_ms')}, "
            f"{c(t, 'model_type')}, {c(t, 'source_run_id')}, {c(t, 'status', '0')}, "
            f"{c(t, 'status_message')}, {stage} FROM logged_models"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {c(t, 'creation_timestamp_ms', '0')} DESC, model_id"

        def read(conn: sqlite3.Connection) -> list[LoggedModel]:
            models: dict[str, LoggedModel] = {}
            for row in conn.execute(sql, args):
                mid, eid, name, location, created, updated, mtype, run_id, status, msg, st = row
                label = _LOGGED_MODEL_STATUS.get(status)
                if label is None:
                    self.warnings.add(f"logged model {mid} has an unknown status {status!r}")
                    label = str(status)
                models[mid] = LoggedModel(
                    model_id=mid,
                    experiment_id=str(eid),
                    name=name,
                    artifact_location=location,
                    creation_timestamp=created,
                    last_updated_timestamp=updated,
                    model_type=mtype,
                    source_run_id=run_id,
                    status=label,
                    status_message=msg,
                    lifecycle_stage=st or ACTIVE,
                )
            if not models:
                return []
            for part, marks in self.id_chunks(list(models)):
                if self.has("logged_model_params"):
                    for mid, key, value in conn.execute(
                        "SELECT model_id, param_key, param_value FROM logged_model_params "
                        f"WHERE model_id IN ({marks})",
                        part,
                    ):
                        models[mid].params[key] = value
                if self.has("logged_model_tags"):
                    for mid, key, value in conn.execute(
                        "SELECT model_id, tag_key, tag_value FROM logged_model_tags "
                        f"WHERE model_id IN ({marks})",
                        part,
                    ):
                        models[mid].tags[key] = value
                if self.has("logged_model_metrics"):
                    m = "logged_model_metrics"
                    for mid, key, ts, step, value, name, digest, run_id in conn.execute(
                        "SELECT model_id, metric_name, metric_timestamp_ms, metric_step, "
                        f"metric_value, {c(m, 'dataset_name')}, {c(m, 'dataset_digest')}, "
                        f"{c(m, 'run_id')} FROM {m} WHERE model_id IN ({marks}) "
                        "ORDER BY metric_timestamp_ms, metric_step",
                        part,
                    ):
                        # The table has no is_nan column: MLflow stores NaN as 0.0 there and
                        # reads it back so; a NULL value is what we cannot show as a number.
                        models[mid].metrics.append(
                            LoggedModelMetric(
                                key,
                                _NAN if value is None else value,
                                ts,
                                step or 0,
                                name,
                                digest,
                                run_id,
                            )
                        )
            return list(models.values())

        return self.read(read)

    def _version_columns(self) -> str:
        c = self.col
        t = "model_versions"
        return ", ".join(
            (
                "name",
                "version",
                c(t, "creation_time"),
                c(t, "last_updated_time"),
                c(t, "current_stage", "'None'"),
                c(t, "description"),
                c(t, "source"),
                c(t, "run_id"),
                c(t, "status", "'READY'"),
                c(t, "status_message"),
                c(t, "user_id"),
                c(t, "run_link"),
                c(t, "storage_location"),
                c(t, "workspace", "'default'"),
            )
        )

    @staticmethod
    def _version_of(row) -> ModelVersion:
        name, version, created, updated, stage, desc, source, run_id = row[:8]
        status, message, user, link, storage = row[8:13]
        model_id = None
        # A version registered from an MLflow 3 logged model has source models:/<model id>.
        if isinstance(source, str) and source.startswith("models:/m-"):
            model_id = source[len("models:/") :]
        return ModelVersion(
            name=name,
            version=str(version),
            creation_timestamp=created,
            last_updated_timestamp=updated,
            current_stage=stage,
            description=desc,
            source=source,
            run_id=run_id,
            status=status,
            status_message=message,
            user_id=user,
            run_link=link,
            storage_location=storage,
            model_id=model_id,
        )

    def _registry_tags(self, conn, table: str, with_version: bool) -> dict[tuple, dict[str, str]]:
        out: dict[tuple, dict[str, str]] = {}
        if not self.has(table):
            return out
        ws = self.col(table, "workspace", "'default'")
        cols = "name, version" if with_version else "name"
        for row in conn.execute(f"SELECT {ws}, {cols}, key, value FROM {table}"):
            *ident, key, value = row
            if with_version:
                ident[2] = str(ident[2])
            out.setdefault(tuple(ident), {})[key] = value
        return out

    def _aliases(self, conn) -> dict[tuple[str, str], dict[str, str]]:
        """(workspace, model name) -> {alias: version}; empty before MLflow 2.3."""
        out: dict[tuple[str, str], dict[str, str]] = {}
        t = "registered_model_aliases"
        if not self.has(t):
            return out
        ws = self.col(t, "workspace", "'default'")
        for w, name, alias, version in conn.execute(
            f"SELECT {ws}, name, alias, version FROM {t} ORDER BY alias"
        ):
            out.setdefault((w, name), {})[alias] = str(version)
        return out

    def _versions(
        self, conn, name: str | None = None, workspace: str | None = None
    ) -> list[tuple[str, ModelVersion]]:
        """(workspace, version) for versions that are not deleted, newest first per model."""
        sql = (
            f"SELECT {self._version_columns()} FROM model_versions "
            f"WHERE {self.col('model_versions', 'current_stage', repr('None'))} "
            f"IS NOT '{STAGE_DELETED_INTERNAL}'"
        )
        args: tuple = ()
        if name is not None:
            sql += " AND name = ?"
            args = (name,)
        if workspace is not None:
            sql += f" AND {self.col('model_versions', 'workspace', repr('default'))} = ?"
            args = (*args, workspace)
        sql += " ORDER BY name, version DESC"
        versions = []
        tags = self._registry_tags(conn, "model_version_tags", with_version=True)
        aliases = self._aliases(conn)
        for row in conn.execute(sql, args):
            mv = self._version_of(row)
            ws = row[13]
            mv.tags = tags.get((ws, mv.name, mv.version), {})
            mv.aliases = sorted(
                a for a, v in aliases.get((ws, mv.name), {}).items() if v == mv.version
            )
            versions.append((ws, mv))
        return versions

    def registered_models(self, include_prompts: bool = False) -> list[RegisteredModel]:
        """Registered models with tags, aliases and latest versions per stage, by name.

        Prompts (tag mlflow.prompt.is_prompt = 'true') are left out, as MLflow's
        search_registered_models leaves them out unless asked for.
        """
        if not self.has("registered_models") or not self.has("model_versions"):
            return []
        t = "registered_models"
        c = self.col
        sql = (
            f"SELECT {c(t, 'workspace', repr('default'))}, name, {c(t, 'creation_time')}, "
            f"{c(t, 'last_updated_time')}, {c(t, 'description')} FROM {t} ORDER BY name, 1"
        )

        def read(conn: sqlite3.Connection) -> list[RegisteredModel]:
            tags = self._registry_tags(conn, "registered_model_tags", with_version=False)
            aliases = self._aliases(conn)
            latest: dict[tuple[str, str], dict[str, ModelVersion]] = {}
            for ws, mv in self._versions(conn):
                # SqlRegisteredModel.to_mlflow_entity: the highest version in each stage.
                per_stage = latest.setdefault((ws, mv.name), {})
                if mv.current_stage not in per_stage:  # versions come newest first
                    per_stage[mv.current_stage] = mv
            models = []
            for ws, name, created, updated, desc in conn.execute(sql):
                model_tags = tags.get((ws, name), {})
                if not include_prompts and is_prompt(model_tags):
                    continue
                models.append(
                    RegisteredModel(
                        name=name,
                        creation_timestamp=created,
                        last_updated_timestamp=updated,
                        description=desc,
                        tags=model_tags,
                        aliases=aliases.get((ws, name), {}),
                        latest_versions=list(latest.get((ws, name), {}).values()),
                        workspace=ws,
                    )
                )
            return models

        return self.read(read)

    def model_versions(self, name: str, workspace: str | None = None) -> list[ModelVersion]:
        """Versions of one registered model, deleted ones left out, newest first.

        MLflow 3.12+ keys models by (workspace, name): `workspace` picks that one's versions."""
        if not self.has("model_versions"):
            return []
        return self.read(lambda conn: [mv for _, mv in self._versions(conn, name, workspace)])

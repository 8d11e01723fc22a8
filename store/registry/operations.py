"""The registry write operations: each checks a write against a model's snapshot, describes it
line by line, and lists the mutations a backend makes."""

from __future__ import annotations

from collections.abc import Callable

from .model import (
    TAG_MODEL_VERSIONS,
    Computed,
    InvalidWriteError,
    ModelSnapshot,
    Mutation,
    bump,
    holds_model,
    show_value,
    validate_alias,
    validate_model_name,
    validate_tag,
)


# -- the operations: check, describe, list the mutations -----------------------------------
def _need_model(model: ModelSnapshot) -> None:
    if not model.exists:
        raise InvalidWriteError(f"there is no registered model {model.name!r}")


def _need_no_folder(model: ModelSnapshot) -> None:
    if model.incomplete:
        raise InvalidWriteError(
            f"models/{model.name} is a half-created registered model (a folder without "
            "meta.yaml, left by an interrupted create); remove it first"
        )


def _op_create_registered_model(w, model, now, *, description, tags):
    validate_model_name(model.name, w.kind)
    if model.exists:
        raise InvalidWriteError(f"registered model {model.name!r} already exists")
    _need_no_folder(model)
    for key, value in tags.items():
        validate_tag(key, value, model_tag=True)
    lines = [f"new registered model {model.name!r}, created now"]
    if description:
        lines.append(f"description: {show_value(description)}")
    lines += [f"tag {k} = {show_value(v)}" for k, v in tags.items()]
    muts = [Mutation("create_model", model.name, fields={"description": description})]
    muts += [Mutation("set_model_tag", model.name, key=k, value=v) for k, v in tags.items()]
    return Computed(f"Create registered model {model.name!r}", lines, muts)


def _op_update_model_description(w, model, now, *, description):
    _need_model(model)
    fields = {"description": description, "last_updated_timestamp": now}
    lines = [
        f"{model.name}: description {show_value(model.description)} → {show_value(description)}",
        f"{model.name}: last updated time → now",
    ]
    return Computed(
        f"Change the description of {model.name}",
        lines,
        [Mutation("update_model", model.name, fields=fields)],
    )


def _op_set_model_tag(w, model, now, *, key, value):
    _need_model(model)
    validate_tag(key, value, model_tag=True)
    old = model.tags.get(key)
    line = f"{model.name}: tag {key} " + (
        f"{show_value(old)} → {show_value(value)}"
        if old is not None
        else f"= {show_value(value)} (new)"
    )
    muts = [Mutation("set_model_tag", model.name, key=key, value=value)]
    lines = [line]
    if w.kind == "file":  # FileStore.set_registered_model_tag bumps the model; SQL does not
        muts += bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return Computed(f"Set tag {key!r} of {model.name}", lines, muts)


def _op_delete_model_tag(w, model, now, *, key):
    _need_model(model)
    if key not in model.tags:
        raise InvalidWriteError(f"there is no tag {key!r} on {model.name}")
    muts = [Mutation("delete_model_tag", model.name, key=key)]
    lines = [f"{model.name}: remove tag {key} (was {show_value(model.tags[key])})"]
    if w.kind == "file":
        muts += bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return Computed(f"Delete tag {key!r} of {model.name}", lines, muts)


def _op_set_alias(w, model, now, *, alias, version):
    validate_alias(alias, setting=True)
    _need_model(model)
    model.live_version(version)
    old = model.aliases.get(alias)
    if old is None:
        line = f"{model.name}: alias @{alias} → version {version} (new)"
    else:
        line = f"{model.name}: alias @{alias} version {old} → version {version}"
    muts = [Mutation("set_alias", model.name, key=alias, version=version)]
    lines = [line]
    if w.kind == "file":
        muts += bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return Computed(f"Point alias @{alias} of {model.name} at version {version}", lines, muts)


def _op_delete_alias(w, model, now, *, alias):
    validate_alias(alias, setting=False)
    _need_model(model)
    if alias not in model.aliases:
        raise InvalidWriteError(f"there is no alias {alias!r} on {model.name}")
    muts = [Mutation("delete_alias", model.name, key=alias)]
    lines = [f"{model.name}: remove alias @{alias} (was version {model.aliases[alias]})"]
    if w.kind == "file":
        muts += bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return Computed(f"Delete alias @{alias} of {model.name}", lines, muts)


def _op_create_model_version(
    w,
    model,
    now,
    *,
    source,
    run_id,
    description,
    tags,
    run_link,
    model_id,
    storage_location,
    create_model,
    logged_model,
):
    validate_model_name(model.name, w.kind)
    for key, value in tags.items():
        validate_tag(key, value, model_tag=False)
    muts: list[Mutation] = []
    lines: list[str] = []
    if not model.exists:
        if not create_model:
            raise InvalidWriteError(f"there is no registered model {model.name!r}")
        _need_no_folder(model)
        muts.append(Mutation("create_model", model.name, fields={"description": None}))
        lines.append(f"new registered model {model.name!r}, created now")
    version = model.next_version()
    fields = {
        "source": source,
        "run_id": run_id,
        "run_link": run_link,
        "description": description,
        "storage_location": storage_location,
        "model_id": model_id,
    }
    muts.append(Mutation("create_version", model.name, version=version, fields=fields))
    muts += [
        Mutation("set_version_tag", model.name, version=version, key=k, value=v)
        for k, v in tags.items()
    ]
    muts += bump(model.name, now)
    lines.append(f"{model.name}: new version {version}, stage None, source {source}")
    if run_id:
        lines.append(f"version {version}: run {run_id}")
    if storage_location and storage_location != source:
        lines.append(f"version {version}: storage location {storage_location}")
    if description:
        lines.append(f"version {version}: description {show_value(description)}")
    lines += [f"version {version}: tag {k} = {show_value(v)}" for k, v in tags.items()]
    if model.exists:
        lines.append(f"{model.name}: last updated time → now")
    if logged_model is not None:
        mid, exp_id = logged_model
        muts.append(Mutation("append_model_version", model.name, key=mid, value=exp_id))
        lines.append(f"logged model {mid}: version {version} added to its {TAG_MODEL_VERSIONS} tag")
    summary = f"Register version {version} of {model.name}" + (
        " (a new registered model)" if not model.exists else ""
    )
    return Computed(summary, lines, muts)


def _op_transition_stage(w, model, now, *, version, stage, archive_existing_versions):
    _need_model(model)
    target = model.live_version(version)
    if archive_existing_versions and stage not in ("Staging", "Production"):
        raise InvalidWriteError(
            f"archiving the other versions only works when moving to Staging or Production, "
            f"not {stage}"
        )
    muts: list[Mutation] = []
    lines: list[str] = []
    if archive_existing_versions:
        for other in sorted(model.versions.values(), key=lambda v: v.version):
            if other.version != version and other.stage == stage:
                muts.append(
                    Mutation(
                        "update_version",
                        model.name,
                        version=other.version,
                        fields={"current_stage": "Archived", "last_updated_timestamp": now},
                    )
                )
                lines.append(f"{model.name} version {other.version}: stage {stage} → Archived")
    muts.append(
        Mutation(
            "update_version",
            model.name,
            version=version,
            fields={"current_stage": stage, "last_updated_timestamp": now},
        )
    )
    muts += bump(model.name, now)
    if target.stage == stage:
        lines.insert(0, f"{model.name} version {version}: stays in {stage}")
    else:
        lines.insert(0, f"{model.name} version {version}: stage {target.stage} → {stage}")
    lines.append(
        f"{model.name}: last updated time → now (version {version}"
        + (" and the archived versions" if len(muts) > 2 else "")
        + " too)"
    )
    return Computed(
        f"Move {model.name} version {version} from {target.stage} to {stage}", lines, muts
    )


def _op_update_version_description(w, model, now, *, version, description):
    _need_model(model)
    mv = model.live_version(version)
    fields = {"description": description, "last_updated_timestamp": now}
    lines = [
        f"{model.name} version {version}: description {show_value(mv.description)} → "
        f"{show_value(description)}",
        f"{model.name} version {version}: last updated time → now",
    ]
    return Computed(
        f"Change the description of {model.name} version {version}",
        lines,
        [Mutation("update_version", model.name, version=version, fields=fields)],
    )


def _op_set_version_tag(w, model, now, *, version, key, value):
    _need_model(model)
    validate_tag(key, value, model_tag=False)
    mv = model.live_version(version)
    old = mv.tags.get(key)
    line = f"{model.name} version {version}: tag {key} " + (
        f"{show_value(old)} → {show_value(value)}"
        if old is not None
        else f"= {show_value(value)} (new)"
    )
    muts = [Mutation("set_version_tag", model.name, version=version, key=key, value=value)]
    lines = [line]
    if w.kind == "file":  # FileStore.set_model_version_tag bumps the registered model
        muts += bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return Computed(f"Set tag {key!r} of {model.name} version {version}", lines, muts)


def _op_delete_version_tag(w, model, now, *, version, key):
    _need_model(model)
    mv = model.live_version(version)
    if key not in mv.tags:
        raise InvalidWriteError(f"there is no tag {key!r} on {model.name} version {version}")
    muts = [Mutation("delete_version_tag", model.name, version=version, key=key)]
    lines = [f"{model.name} version {version}: remove tag {key} (was {show_value(mv.tags[key])})"]
    if w.kind == "file":
        muts += bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return Computed(f"Delete tag {key!r} of {model.name} version {version}", lines, muts)


def _op_remove_incomplete_model(w, model, now):
    if model.exists:
        raise InvalidWriteError(f"{model.name} is a registered model (it has its meta.yaml)")
    if not model.incomplete:
        raise InvalidWriteError(f"there is no half-created model folder {model.name!r}")
    if holds_model(model.leftovers):
        raise InvalidWriteError(
            f"models/{model.name} holds model versions: more than a half-created model; "
            "nothing removed"
        )
    lines = [f"remove the folder models/{model.name} (no meta.yaml: an interrupted create)"]
    lines += [f"with its file {path}" for path in model.leftovers[:8]] or ["the folder is empty"]
    if len(model.leftovers) > 8:
        lines.append(f"with {len(model.leftovers) - 8} more files")
    return Computed(
        f"Remove the half-created model folder {model.name!r}",
        lines,
        [Mutation("remove_incomplete_model", model.name)],
    )


_OPS: dict[str, Callable[..., Computed]] = {
    "create_registered_model": _op_create_registered_model,
    "update_model_description": _op_update_model_description,
    "set_model_tag": _op_set_model_tag,
    "delete_model_tag": _op_delete_model_tag,
    "set_alias": _op_set_alias,
    "delete_alias": _op_delete_alias,
    "create_model_version": _op_create_model_version,
    "transition_stage": _op_transition_stage,
    "update_version_description": _op_update_version_description,
    "set_version_tag": _op_set_version_tag,
    "delete_version_tag": _op_delete_version_tag,
    "remove_incomplete_model": _op_remove_incomplete_model,
}

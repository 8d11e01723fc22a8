"""Traces of the file store (MLflow 3, `<exp>/traces/<trace_id>/`): their infos, tags,
request metadata, assessments and spans."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from .. import yamlfast
from ..rawread import read_bytes
from ..traces import (
    Assessment,
    Span,
    Trace,
    TraceInfo,
    assessment_from_dict,
    sorted_assessments,
    spans_from_dicts,
    trace_info_from_dict,
    without_location,
)
from .folder import StoreFolder, child_dirs, child_files, safe_name


class TracesReader(StoreFolder):
    """The traces of an `mlruns/` folder."""

    # -- traces ---------------------------------------------------------------------------
    def traces(self, experiment_ids: Iterable[str]) -> list[TraceInfo]:
        """Trace infos of `<exp>/traces/<trace_id>/`, oldest first (MLflow's search order)."""
        out = []
        for exp_id, exp_path in self._selected_experiments(list(experiment_ids), True):
            traces_dir = os.path.join(exp_path, "traces")
            for name in child_dirs(traces_dir):
                info = self._read_trace_info(os.path.join(traces_dir, name), exp_id, False)
                if info is not None:
                    out.append(info)
        out.sort(key=lambda t: (t.request_time or 0, t.trace_id))
        return out

    def trace(self, trace_id: str) -> Trace | None:
        trace_dir = self._find_trace_dir(trace_id)
        if trace_dir is None:
            return None
        exp_id = os.path.basename(os.path.dirname(os.path.dirname(trace_dir)))
        info = self._read_trace_info(trace_dir, exp_id)
        if info is None:
            return None
        path = os.path.join(trace_dir, "artifacts", "traces.json")
        return Trace(info, self._read_spans(path))

    def _find_trace_dir(self, trace_id: str) -> str | None:
        if not safe_name(trace_id):
            return None
        for _, exp_path in self._selected_experiments(None, True):
            trace_dir = os.path.join(exp_path, "traces", trace_id)
            if os.path.isdir(trace_dir):
                return trace_dir
        return None

    def _read_trace_info(
        self, trace_dir: str, exp_id: str, with_assessments: bool = True
    ) -> TraceInfo | None:
        meta_path = os.path.join(trace_dir, "trace_info.yaml")
        meta = self._read_yaml(
            meta_path, "trace", nested=frozenset({"trace_location"}), prepare=without_location
        )
        if meta is None:
            return None
        info = trace_info_from_dict(meta, os.path.basename(trace_dir), exp_id)
        info.tags = self._read_values(os.path.join(trace_dir, "tags"))
        info.metadata = self._read_values(os.path.join(trace_dir, "request_metadata"))
        folder = os.path.join(trace_dir, "assessments")
        if with_assessments:
            info.assessments = self._read_assessments(folder)
            info.assessments_count = len(info.assessments)
        else:  # one YAML file each: counted, not parsed (a list of 10,000 traces reads 2/3 less)
            info.assessments_count = sum(n.endswith(".yaml") for n in child_files(folder))
        return info

    def _read_assessments(self, folder: str) -> list[Assessment]:
        out = []
        for _, path, data in self._read_folder(folder):
            try:
                d = yamlfast.loads(data)
                out.append(assessment_from_dict(d))
            except Exception as exc:  # yaml.YAMLError, a non-mapping, a wrong-typed field
                self._warn(f"{path}: not an assessment ({type(exc).__name__}); skipped")
        return sorted_assessments(out)

    def _read_spans(self, path: str) -> list[Span]:
        try:
            data = read_bytes(path, self.root_real)
            spans = json.loads(data)["spans"]
        except FileNotFoundError:
            return []  # still being written, or spans kept elsewhere
        except OSError as exc:
            self._warn(f"{path}: cannot be read ({exc.strerror or exc}); no spans shown")
            return []
        except (ValueError, KeyError, TypeError) as exc:
            self._warn(f"{path}: not a spans file ({type(exc).__name__}); no spans shown")
            return []
        if not isinstance(spans, list):
            self._warn(f"{path}: spans is not a list; no spans shown")
            return []
        return spans_from_dicts(spans, path, self._warn)

"""Great Expectations (1.x) on the data files: suite generation, per-file runs, findings, Data Docs (core).

* :func:`build_feature_suite` turns the dataset's features (plus stats.json and the task/episode
  counts) into an ExpectationSuite in GX's JSON form, so it can be shipped to Dask workers as plain data.
* :func:`run_gx_file` validates one data file (pandas batch, ephemeral context) against several suites
  and returns the results as JSON dicts; it is a pure function of its arguments (picklable, no @task).
* :func:`gx_findings` turns failed expectations into findings; :func:`write_data_docs` renders the
  results as a Data Docs site in a chosen folder.

Vector features are flattened to one column per dimension (``action_0``, ``action_1``, ...), and a
derived column ``__timestamp_step`` (timestamp minus the previous frame's, null on an episode's first
frame) lets a plain GX expectation check that timestamps increase within episodes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from robopipe.errors import ConfigError
from robopipe.format.features import FeatureSpec
from robopipe.validate.bounds import FeatureBounds
from robopipe.validate.columns import flat_names, to_matrix
from robopipe.validate.findings import FindingCollector, Severity

log = logging.getLogger(__name__)

GENERATED_SUITE = "robopipe_features"
TS_STEP = "__timestamp_step"
INDEX_COLUMNS = ["episode_index", "frame_index"]
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    "unexpected_index_column_names": INDEX_COLUMNS,
    "partial_unexpected_count": 5,
}
MAX_IN_SET = 20_000  # beyond this many episodes, a range check replaces the value set


def flatten_frame(path: Path, features: Mapping[str, FeatureSpec]) -> pd.DataFrame:
    """Read one data file as a flat pandas frame: scalars as is, vectors one column per dimension."""
    table = pq.read_table(path)
    cols: dict[str, Any] = {}
    for name in table.column_names:
        spec = features.get(name)
        col = table.column(name)
        if spec is None or spec.is_image or spec.is_language:
            continue  # undeclared columns are reported by RP304; images are bytes; language rows: RP3xx
        if spec.is_string:
            cols[name] = col.to_pandas()
            continue
        m = to_matrix(col, spec)
        if m is None:
            continue  # ragged lists: RP305
        for i, flat in enumerate(flat_names(name, spec)):
            cols[flat] = m[:, i]
    df = pd.DataFrame(cols)
    if "timestamp" in df and "episode_index" in df:
        step = df["timestamp"].astype("float64").diff()
        step[df["episode_index"].ne(df["episode_index"].shift())] = np.nan
        df[TS_STEP] = step
    return df


def expected_columns(features: Mapping[str, FeatureSpec]) -> list[str]:
    cols: list[str] = []
    for key, spec in features.items():
        if spec.is_video or spec.is_image or spec.is_language:
            continue
        cols += [key] if spec.is_string else flat_names(key, spec)
    if "timestamp" in features and "episode_index" in features:
        cols.append(TS_STEP)
    return cols


def build_feature_suite(
    features: Mapping[str, FeatureSpec],
    *,
    total_tasks: int | None,
    total_episodes: int | None,
    stats: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    bounds: Mapping[str, FeatureBounds] | None = None,
) -> dict[str, Any]:
    """The generated ExpectationSuite (GX JSON form) for a dataset's data files."""
    exps: list[dict[str, Any]] = []

    def add(kind: str, severity: str = "critical", **kwargs: Any) -> None:
        exps.append({"type": kind, "kwargs": kwargs, "meta": {}, "severity": severity})

    add("expect_table_columns_to_match_set", column_set=expected_columns(features), exact_match=True)
    for key, spec in features.items():
        if spec.is_video or spec.is_image or spec.is_language:
            continue
        if spec.is_string:
            add("expect_column_values_to_not_be_null", column=key)
            continue
        names = flat_names(key, spec)
        dtype = np.dtype(spec.dtype).name
        st = (stats or {}).get(key, {})
        lo, hi = _stat_range(st, len(names))
        blo, bhi = bounds[key].arrays(len(names)) if bounds and key in bounds else (None, None)
        for i, col in enumerate(names):
            add("expect_column_values_to_not_be_null", column=col)
            add("expect_column_values_to_be_of_type", column=col, type_=dtype)
            if (
                spec.dtype != "bool"
                and lo is not None
                and hi is not None
                and np.isfinite([lo[i], hi[i]]).all()
            ):
                pad = 1e-6 * max(1.0, abs(lo[i]), abs(hi[i]))
                add(
                    "expect_column_values_to_be_between",
                    column=col,
                    min_value=float(lo[i] - pad),
                    max_value=float(hi[i] + pad),
                    meta_source="stats.json min/max",
                )
            if blo is not None and bhi is not None:
                add(
                    "expect_column_values_to_be_between",
                    column=col,
                    min_value=None if np.isneginf(blo[i]) else float(blo[i]),
                    max_value=None if np.isposinf(bhi[i]) else float(bhi[i]),
                    meta_source="bounds",
                )
    for col in ("timestamp", "frame_index", "index"):
        if col in features:
            add("expect_column_values_to_be_between", column=col, min_value=0)
    if all(c in features for c in INDEX_COLUMNS):
        add("expect_compound_columns_to_be_unique", column_list=INDEX_COLUMNS)
    if "timestamp" in features and "episode_index" in features:
        add("expect_column_values_to_be_between", column=TS_STEP, min_value=0, strict_min=True)
    if "task_index" in features and total_tasks is not None:
        add("expect_column_values_to_be_in_set", column="task_index", value_set=list(range(total_tasks)))
    if "episode_index" in features and total_episodes is not None:
        if total_episodes <= MAX_IN_SET:
            add(
                "expect_column_values_to_be_in_set",
                column="episode_index",
                value_set=list(range(total_episodes)),
            )
        else:
            add(
                "expect_column_values_to_be_between",
                column="episode_index",
                min_value=0,
                max_value=total_episodes - 1,
            )
    for e in exps:  # "meta_source" is ours: move it into meta where GX keeps free-form notes
        src = e["kwargs"].pop("meta_source", None)
        if src:
            e["meta"]["source"] = src
    return {"name": GENERATED_SUITE, "expectations": exps, "meta": {"generated_by": "robopipe"}}


def _stat_range(st: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    lo, hi = st.get("min"), st.get("max")
    if lo is None or hi is None or np.asarray(lo).size != n or np.asarray(hi).size != n:
        return None, None
    return np.asarray(lo, dtype=np.float64).reshape(-1), np.asarray(hi, dtype=np.float64).reshape(-1)


def load_user_suite(path: str | Path) -> dict[str, Any]:
    """Read a GX ExpectationSuite JSON file and check GX can build it; raises :class:`ConfigError`."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the expectation suite: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        raise ConfigError(f"{p}: expected GX ExpectationSuite JSON {{'name': ..., 'expectations': [...]}}")
    raw.setdefault("name", p.stem)
    try:
        suite = _suite_from_json(raw)
    except Exception as exc:  # GX raises many unrelated types for a bad suite; report them as config errors
        raise ConfigError(f"{p}: not a valid GX expectation suite: {exc}") from exc
    if len(suite.expectations) != len(raw["expectations"]):  # GX logs and drops unknown expectation types
        known = {e.expectation_type for e in suite.expectations}
        bad = [
            e.get("type") for e in raw["expectations"] if isinstance(e, dict) and e.get("type") not in known
        ]
        raise ConfigError(f"{p}: not a valid GX expectation suite: unknown or invalid expectations {bad}")
    return raw


def _suite_from_json(raw: Mapping[str, Any]) -> Any:
    import great_expectations as gx

    allowed = ("name", "expectations", "meta", "notes", "suite_parameters", "id")
    return gx.ExpectationSuite(**{k: v for k, v in raw.items() if k in allowed})


_GX_STATE: dict[str, Any] = {}


def _batch_definition() -> Any:
    """One ephemeral context per process (GX setup is cheap, importing it is not)."""
    if "bd" not in _GX_STATE:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        asset = ctx.data_sources.add_pandas("robopipe").add_dataframe_asset("frames")
        _GX_STATE["bd"] = asset.add_batch_definition_whole_dataframe("whole-file")
    return _GX_STATE["bd"]


Progress = Callable[[int], None]  # called with the number of expectations just evaluated
CHUNK = 25  # expectations per GX call when progress is reported (GX's cost is per expectation)


def count_expectations(suites: Sequence[Mapping[str, Any]]) -> int:
    return sum(len(s.get("expectations", [])) for s in suites)


def run_gx_file(
    path: str,
    rel: str,
    features_json: Mapping[str, Any],
    suites: Sequence[Mapping[str, Any]],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Validate one data file against ``suites``; returns ``{"file", "rows", "results", "error"}`` (JSON).

    With ``progress``, expectations run in chunks and each finished chunk is reported.
    """
    features = {k: FeatureSpec.model_validate(v) for k, v in features_json.items()}
    try:
        df = flatten_frame(Path(path), features)
    except OSError as exc:
        _report(progress, count_expectations(suites))
        return {"file": rel, "rows": 0, "results": [], "error": f"unreadable: {exc}"}
    except Exception as exc:  # pyarrow raises ArrowInvalid & co.; the hand-written rules report details
        _report(progress, count_expectations(suites))
        return {"file": rel, "rows": 0, "results": [], "error": f"unreadable: {exc}"}
    bd = _batch_definition()
    wide = _widened(df)
    batch = bd.get_batch(batch_parameters={"dataframe": wide})
    # dtype expectations look at the stored dtypes; a column's dtype is the same on one row
    typed = (
        bd.get_batch(batch_parameters={"dataframe": df.head(1) if len(df) else df})
        if wide is not df
        else batch
    )
    fmt = dict(RESULT_FORMAT)
    if not all(c in df.columns for c in INDEX_COLUMNS):
        fmt.pop("unexpected_index_column_names")
    results = []
    for raw in suites:
        exps = list(raw.get("expectations", []))
        groups = [
            (typed, [e for e in exps if _expectation_type(e) in TYPE_EXPECTATIONS]),
            (batch, [e for e in exps if _expectation_type(e) not in TYPE_EXPECTATIONS]),
        ]
        if typed is batch or not groups[0][1]:
            groups = [(batch, exps)]  # one GX call for the whole suite
        parts = []
        for target, group in groups:
            size = CHUNK if progress is not None else max(1, len(group))
            for start in range(0, len(group), size):
                chunk = group[start : start + size]
                res = target.validate(_suite_from_json({**raw, "expectations": chunk}), result_format=fmt)
                parts.append(res.to_json_dict())
                _report(progress, len(chunk))
        if not parts:  # an empty suite still has a result
            parts.append(batch.validate(_suite_from_json(raw), result_format=fmt).to_json_dict())
        results.append(parts[0] if len(parts) == 1 else _combined(parts))
    return {"file": rel, "rows": len(df), "results": results, "error": None}


def _report(progress: Progress | None, n: int) -> None:
    if progress is not None and n:
        progress(n)


TYPE_EXPECTATIONS = frozenset(
    {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}
)


def _expectation_type(e: Mapping[str, Any]) -> str:
    return str(e.get("type") or e.get("expectation_type") or "")


def _widened(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with float64/int64 columns (``df`` itself when nothing changes).

    GX's pandas range checks are vectorised only for those two dtypes and otherwise call a Python
    function per value: with float32 state/action, validate of a 50-episode dataset took minutes.
    Widening is exact, so range and set expectations see the same values.
    """
    casts: dict[str, Any] = {}
    for col, dtype in df.dtypes.items():
        if not isinstance(dtype, np.dtype):
            continue
        if dtype.kind == "f" and dtype != np.float64:
            casts[str(col)] = np.float64
        elif (dtype.kind == "i" and dtype != np.int64) or (dtype.kind == "u" and dtype.itemsize < 8):
            casts[str(col)] = np.int64
    return df.astype(casts) if casts else df


def _combined(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Two GX suite results of one suite (range checks, dtype checks) as one result."""
    out = dict(parts[0])
    results = [r for p in parts for r in p.get("results", [])]
    ok = sum(1 for r in results if r.get("success"))
    out["results"] = results
    out["success"] = ok == len(results)
    out["statistics"] = {
        **dict(parts[0].get("statistics") or {}),
        "evaluated_expectations": len(results),
        "successful_expectations": ok,
        "unsuccessful_expectations": len(results) - ok,
        "success_percent": 100.0 * ok / len(results) if results else None,
    }
    return out


def gx_findings(
    file_results: Sequence[Mapping[str, Any]], out: FindingCollector, skip_files: Iterable[str] = ()
) -> tuple[int, int]:
    """Failed expectations -> findings; returns (evaluated, failed).

    Files in ``skip_files`` (already reported unreadable by the hand-written rules) add no GX findings.
    """
    evaluated = failed = 0
    skip = set(skip_files)
    for fr in file_results:
        rel = fr["file"]
        if rel in skip:
            continue
        if fr.get("error"):
            out.add("RP603", f"GX could not run on the file: {fr['error']}", file=rel)
            continue
        for suite_res in fr["results"]:
            suite = suite_res.get("suite_name", "?")
            generated = suite == GENERATED_SUITE
            for r in suite_res.get("results", []):
                evaluated += 1
                if r.get("success"):
                    continue
                failed += 1
                cfg = r.get("expectation_config", {})
                kind = cfg.get("type", "?")
                kwargs = {k: v for k, v in cfg.get("kwargs", {}).items() if k != "batch_id"}
                column = kwargs.get("column")
                raised = _raised(r.get("exception_info") or {})
                if raised is not None:
                    out.add(
                        "RP603",
                        f"{suite}: {kind} raised: {raised}",
                        file=rel,
                        feature=column,
                        expected=_short(kwargs),
                    )
                    continue
                res = r.get("result", {})
                first = (res.get("partial_unexpected_index_list") or [None])[0]
                episode = frame = None
                if isinstance(first, dict):
                    episode, frame = first.get("episode_index"), first.get("frame_index")
                if "unexpected_count" in res:
                    actual = f"{res['unexpected_count']} of {res.get('element_count')} rows unexpected"
                    if res.get("partial_unexpected_list"):
                        actual += f", e.g. {res['partial_unexpected_list'][:3]}"
                else:
                    actual = _short(res.get("observed_value"))
                    if res.get("details"):
                        actual += f" ({_short(res['details'])})"
                sev = Severity.ERROR if generated else _severity(cfg.get("severity"))
                out.add(
                    "RP601" if generated else "RP602",
                    f"{suite}: {kind} failed",
                    severity=sev,
                    file=rel,
                    episode=episode,
                    frame=frame,
                    feature=column or _short(kwargs.get("column_list")),
                    expected=_short(kwargs),
                    actual=actual,
                    count=int(res.get("unexpected_count") or 1),
                )
    return evaluated, failed


def _raised(info: Mapping[str, Any]) -> str | None:
    """Exception message of a result's ``exception_info`` (flat, or keyed by metric id), else None."""
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for v in info.values():
        if isinstance(v, dict) and v.get("raised_exception"):
            return str(v.get("exception_message"))
    return None


def _severity(s: Any) -> Severity:
    return {"warning": Severity.WARNING, "info": Severity.INFO}.get(str(s).lower(), Severity.ERROR)


def _short(v: Any, limit: int = 200) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return s if len(s) <= limit else s[: limit - 3] + "..."


def write_data_docs(file_results: Sequence[Mapping[str, Any]], report_dir: Path) -> Path | None:
    """Render every suite result as a GX Data Docs site in ``report_dir/data_docs``; returns index.html."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    site_dir = Path(report_dir).absolute() / "data_docs"  # GX's store wants an absolute base_directory
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.add_data_docs_site(
        "robopipe",
        {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,  # type: ignore[typeddict-unknown-key]
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    schema = ExpectationSuiteValidationResultSchema()
    n = 0
    for fr in file_results:
        for res in fr.get("results", []):
            name = fr["file"].replace("/", "__")
            key = ValidationResultIdentifier(
                ExpectationSuiteIdentifier(name=res.get("suite_name", "suite")),
                RunIdentifier(run_name=name, run_time=res.get("meta", {}).get("validation_time")),
                batch_identifier=name,
            )
            meta = dict(res.get("meta") or {})  # name the run and the asset after the file in the pages
            meta["run_id"] = {"run_name": fr["file"], "run_time": meta.get("validation_time")}
            abd = dict(meta.get("active_batch_definition") or {})
            abd["data_asset_name"] = fr["file"]
            meta["active_batch_definition"] = abd
            ctx.validation_results_store.set(key, schema.load({**res, "meta": meta}))
            n += 1
    if n == 0:
        return None
    ctx.build_data_docs(site_names=["robopipe"])
    return site_dir / "index.html"

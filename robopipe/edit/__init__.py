"""Merge and edit LeRobotDataset v3.0 datasets without re-encoding video (core layer).

Plan first (:func:`plan_edit`: every output episode placed in an output (chunk, file) per stream, from
metadata only), then write each output file once (:func:`execute_data_file`, :func:`execute_video_file`,
independent of each other, so they run in parallel), then the metadata and an atomic commit.
High-level entry points: :func:`merge` (``MergeRequest``) and :func:`edit` (``EditRequest``).
"""

from robopipe.edit.execute import execute_data_file, execute_video_file, output_jobs
from robopipe.edit.finish import commit_output, write_metadata
from robopipe.edit.leftovers import stage_dir_for
from robopipe.edit.models import (
    EditReport,
    EditRequest,
    MergeRequest,
    OutputSummary,
    SizeLimits,
    parse_episode_list,
    parse_renames,
    parse_splits,
)
from robopipe.edit.ops import (
    build_output,
    edit,
    load_sources,
    merge,
    run_job,
    split_episodes,
)
from robopipe.edit.plan import EditPlan, Selection, check_compatible, plan_edit
from robopipe.edit.sources import Source, load_source

__all__ = [
    "EditPlan",
    "EditReport",
    "EditRequest",
    "MergeRequest",
    "OutputSummary",
    "Selection",
    "SizeLimits",
    "Source",
    "build_output",
    "check_compatible",
    "commit_output",
    "edit",
    "execute_data_file",
    "execute_video_file",
    "load_source",
    "load_sources",
    "merge",
    "output_jobs",
    "parse_episode_list",
    "parse_renames",
    "parse_splits",
    "plan_edit",
    "run_job",
    "split_episodes",
    "stage_dir_for",
    "write_metadata",
]

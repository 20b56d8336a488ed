"""Dataset validation: rules that collect findings into one report, plus Great Expectations suites.

Entry points: :func:`validate_dataset` (keyword arguments) and :func:`validate` (a
:class:`ValidateRequest`, what the CLI and the Prefect flow build). See ``findings.RULES`` for codes.
"""

from robopipe.validate.engine import validate, validate_dataset
from robopipe.validate.findings import (
    RULES,
    DatasetSummary,
    Finding,
    GxSummary,
    Severity,
    ValidateRequest,
    ValidationReport,
)

__all__ = [
    "RULES",
    "DatasetSummary",
    "Finding",
    "GxSummary",
    "Severity",
    "ValidateRequest",
    "ValidationReport",
    "validate",
    "validate_dataset",
]

"""Porting campaigns: a catalogue of external datasets, each converted, validated and published (core layer).

:func:`run_campaign` is the one campaign recipe: ``robopipe campaign CATALOG.yaml`` and the ``campaign`` flow
both call it, the first with a bounded thread executor over the datasets, the second with one subflow per
dataset. A ledger in the campaign's state directory makes re-runs resumable.
"""

from robopipe.campaign.models import (
    CampaignReport,
    Catalog,
    CatalogEntry,
    DatasetOutcome,
    load_catalog,
)
from robopipe.campaign.run import Ledger, port_dataset, run_campaign

__all__ = [
    "CampaignReport",
    "Catalog",
    "CatalogEntry",
    "DatasetOutcome",
    "Ledger",
    "load_catalog",
    "port_dataset",
    "run_campaign",
]

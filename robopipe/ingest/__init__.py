"""Ingest bookkeeping in the core: which recorded sessions are still pending, and the master swap."""

from robopipe.ingest.ledger import MERGED, mark_merged, pending_sessions
from robopipe.ingest.master import promote_master, repair_master

__all__ = ["MERGED", "mark_merged", "pending_sessions", "promote_master", "repair_master"]

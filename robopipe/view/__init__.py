"""The dataset viewer: a local page with episodes, quality badges, synced cameras and plots (core layer)."""

from robopipe.view.server import export_site, make_server, serve

__all__ = ["export_site", "make_server", "serve"]

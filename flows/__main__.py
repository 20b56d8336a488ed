"""``python -m flows`` runs the robopipe CLI."""

import sys

from flows.cli import main

sys.exit(main())

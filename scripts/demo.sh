#!/usr/bin/env bash
# Run robopipe's main job on its embedded defaults: a simulated robot, a local Prefect (ephemeral
# SQLite server), a local Dask cluster and the local publish registry. Creates/updates .venv first.
# Extra arguments go to `robopipe demo` (see `robopipe demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "rlds"
exec "${ROBOPIPE_VENV:-.venv}/bin/robopipe" demo "$@"

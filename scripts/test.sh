#!/usr/bin/env bash
# Run the whole robopipe test suite: creates/updates .venv, builds the LeRobot reference interpreter
# (for the compatibility tests) when ../shared/lerobot-reference is present, then runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k writer -x).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "dev,rlds"
if [ -z "${LEROBOT_PYTHON:-}" ] && [ -f ../shared/lerobot-reference/setup.sh ]; then
  echo ">> building the LeRobot 0.4.4 reference interpreter (cached in ~/.cache/lerobot-ref)" >&2
  LEROBOT_PYTHON="$(bash ../shared/lerobot-reference/setup.sh | tail -n 1)" || LEROBOT_PYTHON=""
  export LEROBOT_PYTHON
fi
[ -n "${LEROBOT_PYTHON:-}" ] && echo ">> LEROBOT_PYTHON=$LEROBOT_PYTHON" >&2 || echo ">> LeRobot reference absent: compatibility tests will skip" >&2
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing (exit code 5 must not pass silently)" >&2
  exit 1
fi
exit "$rc"

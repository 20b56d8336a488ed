#!/usr/bin/env bash
# Run the whole robopipe test suite: creates/updates .venv (ROBOPIPE_VENV), builds the LeRobot reference
# interpreters 0.4.4 and 0.6.1 (for the compatibility tests) when ../shared/lerobot-reference is present and
# installs robopipe into the 0.6.1 one's environment (scripts/lerobot061_env.sh), then runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k writer -x). ROBOPIPE_SKIP_REFERENCES=1 skips the builds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "dev,rlds,ros,zarr"
# The viewer's browser test drives Debian's Chromium (no browser download); install it when missing.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo ">> installing Debian's chromium for the viewer's browser test" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
    || echo ">> chromium could not be installed: the browser test will skip" >&2
fi
VENV="${ROBOPIPE_VENV:-.venv}"
REF=../shared/lerobot-reference
if [ -z "${ROBOPIPE_SKIP_REFERENCES:-}" ]; then
  if [ -z "${LEROBOT_PYTHON:-}" ] && [ -f "$REF/setup.sh" ]; then
    echo ">> building the LeRobot 0.4.4 reference interpreter (cached in ~/.cache/lerobot-ref)" >&2
    LEROBOT_PYTHON="$(bash "$REF/setup.sh" | tail -n 1)" || LEROBOT_PYTHON=""
    export LEROBOT_PYTHON
  fi
  if [ -z "${LEROBOT061_PYTHON:-}" ] && [ -f "$REF/setup-0.6.1.sh" ]; then
    echo ">> building the LeRobot 0.6.1 reference interpreter (cached in ~/.cache/lerobot-061)" >&2
    LEROBOT061_PYTHON="$(bash "$REF/setup-0.6.1.sh" | tail -n 1)" || LEROBOT061_PYTHON=""
    export LEROBOT061_PYTHON
  fi
  if [ -z "${ROBOPIPE_LEROBOT061_ENV:-}" ] && [ -n "${LEROBOT061_PYTHON:-}" ]; then
    echo ">> installing robopipe into a venv layered on LeRobot 0.6.1 (~/.cache/robopipe-on-lerobot061)" >&2
    ROBOPIPE_LEROBOT061_ENV="$(bash scripts/lerobot061_env.sh | tail -n 1)" || ROBOPIPE_LEROBOT061_ENV=""
    export ROBOPIPE_LEROBOT061_ENV
  fi
fi
for var in LEROBOT_PYTHON LEROBOT061_PYTHON ROBOPIPE_LEROBOT061_ENV; do
  [ -n "${!var:-}" ] && echo ">> $var=${!var}" >&2 || echo ">> $var absent: the tests needing it will skip" >&2
done
set +e
"$VENV/bin/python" -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing (exit code 5 must not pass silently)" >&2
  exit 1
fi
exit "$rc"

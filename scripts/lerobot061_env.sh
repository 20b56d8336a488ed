#!/usr/bin/env bash
# Installs robopipe (with the [rlds] extra) "into" the LeRobot 0.6.1 environment, the way a LeRobot user would,
# without touching that 5 GB environment: a venv from the same base interpreter whose site-packages chains to the
# LeRobot env's through a .pth file, so pip sees every LeRobot package as installed and adds only what is missing.
# Fails if pip would replace a package LeRobot requires or `pip check` complains. Prints the interpreter last.
#
#   usage: scripts/lerobot061_env.sh [DIR]   (default DIR: $ROBOPIPE_LEROBOT061_ENV_DIR or
#                                             ~/.cache/robopipe-on-lerobot061)
#   env:   LEROBOT061_PYTHON  the LeRobot 0.6.1 interpreter (../shared/lerobot-reference/setup-0.6.1.sh prints it)
#          EXTRAS             robopipe extras to install (default: rlds)
#
# tests/test_lerobot061_env.py (markers lerobot, slow) uses the result through ROBOPIPE_LEROBOT061_ENV.
set -euo pipefail
cd "$(dirname "$0")/.."
LR="${LEROBOT061_PYTHON:?set LEROBOT061_PYTHON (../shared/lerobot-reference/setup-0.6.1.sh prints it)}"
DIR="${1:-${ROBOPIPE_LEROBOT061_ENV_DIR:-$HOME/.cache/robopipe-on-lerobot061}}"
EXTRAS="${EXTRAS-rlds}"
PY="$DIR/bin/python"
PIP=("$PY" -m pip -q --disable-pip-version-check)

purelib() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
LR_SITE="$(purelib "$LR")"
BASE="$("$LR" -c 'import sys; print(sys._base_executable)')"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)-$EXTRAS-$LR_SITE"
stamp="$DIR/.robopipe-installed"
if [ -x "$PY" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && "$PY" -m pip check >/dev/null 2>&1; then
  echo "$PY"; exit 0
fi

rm -rf "$DIR"
"$BASE" -m venv "$DIR"
echo "$LR_SITE" > "$(purelib "$PY")/_lerobot061.pth"
spec="."
[ -n "$EXTRAS" ] && spec=".[$EXTRAS]"

# What would pip change in the LeRobot env itself? (dry run: nothing is written there). A package LeRobot
# requires (any extra) must stay as it is; others replaced in the layer (prefect pins python-dateutil<3, the
# 0.6.1 env has 4.0) are reported.
report="$DIR/dry-run.json"
"$LR" -m pip install -q --disable-pip-version-check --dry-run --report "$report" "$spec" >/dev/null
"$LR" - "$report" <<'PYEOF'
import json, re, sys
from importlib.metadata import distributions, requires
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
have = {norm(d.metadata["Name"]): d.version for d in distributions()}
pinned = {norm(re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0]) for r in requires("lerobot") or []}
changed = {}
for item in json.load(open(sys.argv[1]))["install"]:
    name = norm(item["metadata"]["name"])
    if name in have and name != "robopipe":
        changed[name] = f"{name} {have[name]} -> {item['metadata']['version']}"
bad = [v for k, v in sorted(changed.items()) if k in pinned]
if bad:
    sys.exit("installing robopipe would replace packages LeRobot 0.6.1 requires: " + ", ".join(bad))
for k, v in sorted(changed.items()):
    print(f"note: robopipe's dependencies replace {v} in the layer (not a LeRobot requirement)", file=sys.stderr)
PYEOF

"${PIP[@]}" install "$spec"
"$PY" -m pip check
echo "$want" > "$stamp"
echo "$PY"

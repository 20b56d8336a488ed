#!/usr/bin/env bash
# Installs robopipe (with the [rlds] extra) "into" the LeRobot 0.6.1 environment, the way a LeRobot user would,
# without touching that 5 GB environment: a venv from the same base interpreter whose site-packages chains to the
# LeRobot env's through a .pth file, so pip sees every LeRobot package as installed and adds only what is missing.
# Fails if pip replaced a package LeRobot requires or `pip check` complains. Prints the interpreter last.
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

"${PIP[@]}" install "$spec"
"$PY" -m pip check
# What pip put into the layer that the LeRobot env also has shadows it: a package LeRobot requires (any extra)
# must not be among them; others (prefect pins python-dateutil<3, the 0.6.1 env has 4.0) are reported.
"$PY" - "$LR_SITE" <<'PYEOF'
import re, sys, sysconfig
from importlib.metadata import distributions, requires
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
names = lambda path: {norm(d.metadata["Name"]): d.version for d in distributions(path=[path])}
own, theirs = names(sysconfig.get_paths()["purelib"]), names(sys.argv[1])
pinned = {norm(re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0]) for r in requires("lerobot") or []}
shadowed = sorted(set(own) & set(theirs) - {"pip", "setuptools", "wheel"})
bad = [f"{n} {theirs[n]} -> {own[n]}" for n in shadowed if n in pinned]
if bad:
    sys.exit("installing robopipe replaced packages LeRobot 0.6.1 requires: " + ", ".join(bad))
for n in shadowed:
    print(f"note: robopipe's dependencies replace {n} {theirs[n]} -> {own[n]} in the layer (not a LeRobot requirement)",
          file=sys.stderr)
PYEOF
echo "$want" > "$stamp"
echo "$PY"

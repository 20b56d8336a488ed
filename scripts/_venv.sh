# Sourced by scripts/demo.sh and scripts/test.sh: create/update .venv with the given extras.
# Usage: ensure_venv "dev,rlds"
ensure_venv() {
  local extras="$1"
  local py="${ROBOPIPE_PYTHON:-}"
  if [ -z "$py" ]; then
    for cand in python3.11 python3; do
      if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        py="$cand"; break
      fi
    done
  fi
  [ -n "$py" ] || { echo "robopipe needs Python 3.11 (set ROBOPIPE_PYTHON)" >&2; exit 2; }
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv 2>/dev/null || {
      echo "python venv module missing: installing python3-venv" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$py" -m venv .venv
    }
  fi
  # Reinstall only when pyproject.toml or the extras changed.
  local stamp=".venv/.robopipe-installed"
  local want
  want="$(sha256sum pyproject.toml | cut -c1-16)-$extras"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo ">> installing robopipe[$extras] into .venv (cached wheels make re-runs fast)" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
    echo "$want" > "$stamp"
  fi
  # Video decoding for the LeRobot reference (torchcodec) and git for the local registry need system packages.
  if ! command -v git >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null
  fi
}

# Sourced by scripts/demo.sh, scripts/test.sh and .ci/run: create/update a venv with the given extras.
# Usage: ensure_venv "dev,rlds"
#   ROBOPIPE_PYTHON  interpreter to build the venv with (default: the newest supported one found, see below)
#   ROBOPIPE_VENV    venv folder (default .venv); an existing venv on a supported Python is kept as it is
SUPPORTED_PYTHONS="3.13 3.12 3.11"   # newest first; requires-python in pyproject.toml says the same

# find_python 3.12 -> an interpreter of exactly that version (PATH, then pyenv's versions), or nothing.
find_python() {
  local want="$1" cand
  local cands=("python$want" python3)
  if command -v pyenv >/dev/null 2>&1; then   # pyenv shims fail without a selected version: use the binaries
    for cand in "$(pyenv root)"/versions/"$want".*/bin/python; do [ -x "$cand" ] && cands+=("$cand"); done
  fi
  for cand in "${cands[@]}"; do
    if command -v "$cand" >/dev/null 2>&1 &&
      "$cand" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null &&
      "$cand" -c "import venv, ensurepip" 2>/dev/null; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}

# extras_union "dev,rlds" "rlds,zarr" -> dev,rlds,zarr (sorted, no duplicates)
extras_union() {
  printf '%s\n' "$1" "$2" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -
}

ensure_venv() {
  local extras="$1"
  local venv="${ROBOPIPE_VENV:-.venv}"
  local py="${ROBOPIPE_PYTHON:-}" v
  if [ -x "$venv/bin/python" ] && [ -z "$py" ]; then
    "$venv/bin/python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' || {
      echo "$venv is on an unsupported Python: remove it or set ROBOPIPE_PYTHON" >&2; exit 2; }
  elif [ -z "$py" ]; then
    for v in $SUPPORTED_PYTHONS; do
      py="$(find_python "$v")" && break
    done
    [ -n "$py" ] || {
      # Debian's python3 without its venv module: install it, then look again.
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || true
      for v in $SUPPORTED_PYTHONS; do py="$(find_python "$v")" && break; done
    }
    [ -n "$py" ] || { echo "robopipe needs Python 3.11, 3.12 or 3.13 (set ROBOPIPE_PYTHON)" >&2; exit 2; }
  fi
  if [ ! -x "$venv/bin/python" ]; then
    echo ">> creating $venv with $py ($("$py" -c 'import platform; print(platform.python_version())'))" >&2
    "$py" -m venv "$venv"
  fi
  # Reinstall only when pyproject.toml changed or an extra is missing (demo.sh after test.sh installs nothing).
  local stamp="$venv/.robopipe-installed"
  local hash had
  hash="$(sha256sum pyproject.toml | cut -c1-16)"
  had="$(cat "$stamp" 2>/dev/null || true)"
  if [ "${had%%-*}" = "$hash" ]; then
    extras="$(extras_union "${had#*-}" "$extras")"   # keep what is installed; add what is asked
  fi
  if [ "$had" != "$hash-$extras" ]; then
    echo ">> installing robopipe[$extras] into $venv (cached wheels make re-runs fast)" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
    echo "$hash-$extras" > "$stamp"
  fi
  # Video decoding for the LeRobot reference (torchcodec) and git for the local registry need system packages.
  if ! command -v git >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null
  fi
}

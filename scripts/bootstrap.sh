#!/usr/bin/env bash
# Create .venv with Python 3.10 and install Haven's pinned dependencies.
# Idempotent: re-installs only when constraints.txt or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# `bootstrap.sh --cluster`: make sure HAProxy (Debian package haproxy) is there for `haven cluster`.
if [ "${1:-}" = "--cluster" ]; then
  if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then exit 0; fi
  sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
    echo "==> installing haproxy (apt-get)"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq haproxy && exit 0
  fi
  echo "error: haven cluster needs HAProxy and it could not be installed here." >&2
  echo "  Install the 'haproxy' package (Debian/Ubuntu: apt-get install haproxy; macOS: brew install haproxy)." >&2
  exit 1
fi

find_python() {
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    command -v python3.10; return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local root; root=$(pyenv root)
    for p in "$root"/versions/3.10.*/bin/python3.10; do
      [ -x "$p" ] && { echo "$p"; return 0; }
    done
  fi
  for p in "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -x "$p" ] && { echo "$p"; return 0; }
  done
  return 1
}

stamp=.venv/.haven-installed
want=$(cat constraints.txt pyproject.toml | sha256sum | cut -c1-16)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  if ! PY=$(find_python); then
    echo "error: Haven needs Python 3.10 (Rasa 3.6 supports 3.8-3.10 only)." >&2
    echo "  No python3.10 on PATH or under pyenv. Install one, e.g. 'pyenv install 3.10.13'." >&2
    exit 1
  fi
  echo "==> creating .venv with $PY"
  "$PY" -m venv .venv
fi
echo "==> installing pinned dependencies (first time: a few minutes)"
# pip's notes about absent local mirror folders are noise; real errors still show and fail.
pipq() { .venv/bin/python -m pip "$@" 2> >(grep -v "^WARNING: Location" >&2); }
pipq install -q -c constraints.txt -r requirements.in
pipq install -q --no-deps -e .
.venv/bin/python -c 'import rasa, rasa_sdk, telegram, twilio, sqlalchemy, alembic, lingua' \
  || { echo "error: dependency install failed; see pip output above" >&2; exit 1; }
echo "$want" > "$stamp"

#!/usr/bin/env bash
# The project's test command: bash tests/run.sh [pytest arguments...]
#
# On a bare Debian machine it first installs what the tests need: the Debian
# packages of the real servers the tests start (PostgreSQL, Dovecot, Chromium)
# and this project with its [test] extra. Then it runs pytest.
#
# TANYA_SKIP_INSTALL=1 skips the pip step (quicker local re-runs).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

log() { printf 'tests/run.sh: %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
missing=()
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    missing+=(postgresql)
fi
if [ ! -x /usr/sbin/dovecot ] || [ ! -e /usr/lib/dovecot/imap ]; then
    missing+=(dovecot-imapd)
fi
if [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
fi

python=python3
use_venv=0
if ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
    use_venv=1
elif python3 -c 'import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
         and sys.prefix == sys.base_prefix else 1)'; then
    # A Debian system Python refuses pip installs (PEP 668): use a venv.
    use_venv=1
    if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q 'ok installed'; then
        missing+=(python3-venv)
    fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        log "missing Debian packages: ${missing[*]}"
        log "install them as root, then run this again:"
        log "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing packages ${missing[*]} and no apt-get: install them by hand"
        exit 1
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# --- Python packages ---------------------------------------------------------
if [ "$use_venv" -eq 1 ]; then
    if [ ! -x .venv/bin/python ]; then
        log "system Python is externally managed: creating .venv"
        python3 -m venv .venv
    fi
    python="$repo_root/.venv/bin/python"
fi

if [ "${TANYA_SKIP_INSTALL:-0}" != "1" ]; then
    log "installing the project with its test extra"
    PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check -e '.[test]'
fi

# --- tests -------------------------------------------------------------------
status=0
"$python" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    log "no tests were collected"
    exit 0
fi
exit "$status"

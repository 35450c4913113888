# Shared by scripts/test and scripts/demo: OS packages and the venv. Source it, don't run it.
# The venv is built on the system Python (/usr/bin/python3) so that other users (the deploy
# users the tests create) can run it; it lives in the checkout when other users can reach
# that path, else under /var/tmp.

gd_need_packages() {  # gd_need_packages PKG... : apt-get install them (root only)
    [ $# -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "missing: $* (run as root to install them with apt)" >&2
        return 0
    fi
    echo "installing $* ..." >&2
    # Nothing may start during the install: this is a build machine, not a server.
    local policy=/usr/sbin/policy-rc.d made=
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; made=1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$@" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
    local status=$?
    [ -n "$made" ] && rm -f "$policy"
    return $status
}

gd_python() {
    if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi
}

gd_venv() {  # gd_venv EXTRAS : create/refresh the venv, install gitdeploy; prints its path
    local here venv python extras=$1
    here=$(pwd)
    python=$(gd_python)
    "$python" -c 'import ensurepip, venv' 2>/dev/null || gd_need_packages python3-venv
    venv=${GITDEPLOY_VENV:-$here/.venv}
    if [ -z "${GITDEPLOY_VENV:-}" ] && [ "$(id -u)" = 0 ] \
        && ! runuser -u nobody -- test -x "$here" 2>/dev/null; then
        venv=/var/tmp/gitdeploy-venv-$(printf '%s' "$here" | md5sum | cut -c1-12)
    fi
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv" >&2
    # Editable when the venv sits in the checkout (so edits need no reinstall); a wheel when
    # it had to go elsewhere because other users cannot reach the checkout.
    local editable=-e
    case "$venv" in "$here"/*) ;; *) editable= ;; esac
    "$venv/bin/python" -m pip install -q --disable-pip-version-check $editable ".$extras" >&2
    chmod -R a+rX "$venv"
    echo "$venv"
}

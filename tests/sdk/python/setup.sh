#!/usr/bin/env bash
# Creates the Python venvs used by the SDK fidelity check and the side-by-side benchmark, inside the cargo
# target dir (never committed):
#   target/sdk-venv      requirements.txt              (current SDK: everything but legacy web chat)
#   target/sdk-venv-263  requirements-legacy-chat.txt  (last SDK with legacy web chat)
# Idempotent: existing venvs are reused and pip only installs what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
python="${PYTHON:-python3}"

make_venv() {
    local venv="$1" requirements="$2"
    if [ ! -x "$venv/bin/python" ]; then
        echo "creating $venv"
        mkdir -p "$target"
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    local version
    version="$("$venv/bin/python" -m pip show PureCloudPlatformClientV2 | sed -n 's/^Version: //p')"
    echo "ready: $venv/bin/python (PureCloudPlatformClientV2 $version)"
}

make_venv "$target/sdk-venv" "$here/requirements.txt"
make_venv "$target/sdk-venv-263" "$here/requirements-legacy-chat.txt"

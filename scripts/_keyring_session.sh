#!/usr/bin/env bash
# Inside a private D-Bus session: start an unlocked gnome-keyring in a throw-away data folder, run "$@".
set -euo pipefail
export XDG_DATA_HOME="$(mktemp -d)"
trap 'rm -rf "$XDG_DATA_HOME"' EXIT
eval "$(printf 'flexstudio-test\n' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)" || true
"$@"

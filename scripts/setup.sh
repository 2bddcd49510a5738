#!/usr/bin/env bash
# Idempotent set-up: system libraries Qt and the keyring need, a .venv, and FlexStudio in it.
# Usage: bash scripts/setup.sh [--test]   (--test also installs the test tools and keyring daemon)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

pkgs=(libglib2.0-0 libegl1 libgl1 libfontconfig1 libxkbcommon0 libdbus-1-3
      xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
      libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 fonts-dejavu-core)
[ $want_test = 1 ] && pkgs+=(gnome-keyring dbus-x11 dbus libimage-exiftool-perl)  # exiftool checks our exports
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || pkgs+=(python3-venv)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.flexstudio-installed
extra=""; [ $want_test = 1 ] && extra="[test]"
sig="$(cat pyproject.toml | sha256sum | cut -c1-16)$extra"
if [ ! -f "$stamp" ] || ! grep -qxF "$sig" "$stamp"; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".$extra"
  echo "$sig" >> "$stamp"
fi

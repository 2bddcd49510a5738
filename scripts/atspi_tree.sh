#!/usr/bin/env bash
# Open the real window on a virtual screen with the accessibility bus (AT-SPI, as Orca uses it) in a
# private D-Bus session, and read it as a screen reader would (scripts/atspi_tree.py). Offline sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
missing=()
for p in at-spi2-core python3-pyatspi dbus xvfb; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- bash -c '
  /usr/libexec/at-spi-bus-launcher --launch-immediately & launcher=$!
  trap "kill $launcher 2>/dev/null" EXIT
  /usr/bin/python3 scripts/atspi_tree.py "$@"' atspi_tree "$@"

#!/usr/bin/env bash
# Set everything up and open the FlexStudio window (offline sandbox by default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_API=pyside6
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: opening FlexStudio on a virtual screen (Xvfb, 1280x800)."
  exec xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" .venv/bin/flexstudio "$@"
fi
exec .venv/bin/flexstudio "$@"

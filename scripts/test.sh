#!/usr/bin/env bash
# Set everything up and run the whole test suite offscreen, against a real Secret Service
# (gnome-keyring in a private D-Bus session). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export QT_QPA_PLATFORM=offscreen QT_API=pyside6 PYTHONDONTWRITEBYTECODE=1
.venv/bin/ruff check flexstudio tests bench
.venv/bin/lint-imports --no-cache
set +e
timeout -k 10 1500 dbus-run-session -- bash scripts/_keyring_session.sh .venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ $rc = 5 ]; then echo "test.sh: pytest collected no tests — failing"; exit 1; fi
if [ $rc = 124 ] || [ $rc = 137 ]; then echo "test.sh: the test run timed out"; fi
exit $rc

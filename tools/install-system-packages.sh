#!/usr/bin/env bash
# Debian packages the tests drive, installed only when their command is missing (fast when present):
#   chromium        headless browser for tests/test_web_ui.py (Playwright's own download fails here)
#   docker-compose  offline validation of docker-compose.yml (there is no Docker engine here)
#   fonts-wqy-microhei  a CJK font (1.6 MB), so the browser shows the playbooks' Chinese names (二级响应)
#                   in the Web UI screenshots of docs/operators.md instead of empty boxes, and in the
#                   case bundle's PDF report
#   libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0  what WeasyPrint (the PDF report of
#                   `crisis case export`) loads at run time; not only for tests: install them where the
#                   API and the CLI run (the Dockerfile does)
# Usage: tools/install-system-packages.sh [package ...]   (default: all of the above)
set -euo pipefail

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(chromium docker-compose fonts-wqy-microhei libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
present() {  # a font is a package, not a command
    case "$1" in
        fonts-*|lib*) dpkg -s "$1" >/dev/null 2>&1 ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}
missing=()
for package in "${wanted[@]}"; do
    present "$package" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages present: ${wanted[*]}"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "missing ${missing[*]} and not root (no sudo): install them as root" >&2; exit 1; }
    SUDO=sudo
fi
echo "installing ${missing[*]} from Debian (about a minute on a fresh machine)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends "${missing[@]}"
for package in "${missing[@]}"; do
    present "$package" || { echo "apt-get finished but \`$package\` is still missing" >&2; exit 1; }
done

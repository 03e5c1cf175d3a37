#!/bin/sh
# Debian packages the platform needs: the MariaDB client headers and pkg-config (to build
# mysqlclient), gettext (translations), Chromium and a CJK font (browser tests), and venv.
set -e
missing=""
dpkg -s libmariadb-dev >/dev/null 2>&1 || missing="$missing libmariadb-dev"
dpkg -s pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
command -v msgfmt >/dev/null 2>&1 || missing="$missing gettext"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing="$missing python3-venv"
dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || missing="$missing fonts-wqy-zenhei"
[ -z "$missing" ] && exit 0
echo "Installing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null

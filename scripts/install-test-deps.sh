#!/usr/bin/env bash
# System packages the test suite needs (run as root on Debian; skipped where already present):
# inotify-tools for the watcher tests; Ceph's monitor, OSD and RADOS Gateway (~270 MB) for the
# real S3 tier (tests/servers/ceph.py starts them per test session); curl for its start script;
# systemd-analyze for the daemon's unit files; Chromium and its driver for the dashboard's
# browser tests; a C compiler (and Python's headers, for a Debian Python) for the optional polling extension,
# which `make check` requires to be built.
set -euo pipefail
need=()
command -v inotifywait >/dev/null || need+=(inotify-tools)
command -v curl >/dev/null || need+=(curl)
command -v radosgw >/dev/null || need+=(radosgw)
command -v ceph-mon >/dev/null || need+=(ceph-mon)
command -v ceph-osd >/dev/null || need+=(ceph-osd)
# systemd-analyze, which checks the daemon's unit files.
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
# A stock Debian python3 has no ensurepip (python3-venv): `make` builds a venv with it.
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || need+=(python3-dev)
if ((${#need[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-test-deps: need root to install: ${need[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Azurite, Microsoft's Azure Storage emulator, for the az:// tier (tests/servers/azurite.py starts
# it once per test session). Pinned: 3.35 is the last release that runs on Node 20. Installed
# outside the repository, into FSREPLICA_TEST_DIR (default /opt/fsreplica-test).
AZURITE_VERSION=3.35.0
azurite_dir="${FSREPLICA_TEST_DIR:-/opt/fsreplica-test}/azurite"
if ! grep -qs "\"version\": \"$AZURITE_VERSION\"" "$azurite_dir/node_modules/azurite/package.json"; then
    command -v npm >/dev/null || { echo "install-test-deps: npm is needed for azurite" >&2; exit 1; }
    mkdir -p "$azurite_dir"
    npm install --prefix "$azurite_dir" --no-audit --no-fund --loglevel=error \
        "azurite@$AZURITE_VERSION" >/dev/null
fi

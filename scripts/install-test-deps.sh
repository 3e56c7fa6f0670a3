#!/usr/bin/env bash
# System packages the test suite needs (run as root on Debian; skipped where already present):
# inotify-tools for the watcher tests; Ceph's monitor, OSD and RADOS Gateway (~270 MB) for the
# real S3 tier (tests/servers/ceph.py starts them per test session); curl for its start script;
# systemd-analyze for the daemon's unit files; a C compiler (and Python's headers, for a Debian Python) for the optional polling extension,
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

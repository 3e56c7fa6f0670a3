#!/usr/bin/env bash
# System packages the test suite needs (run as root on Debian; skipped where already present):
# inotify-tools for the watcher tests; Ceph's monitor, OSD and RADOS Gateway (~270 MB) for the
# real S3 tier (tests/servers/ceph.py starts them per test session); curl for its start script.
set -euo pipefail
need=()
command -v inotifywait >/dev/null || need+=(inotify-tools)
command -v curl >/dev/null || need+=(curl)
command -v radosgw >/dev/null || need+=(radosgw)
command -v ceph-mon >/dev/null || need+=(ceph-mon)
command -v ceph-osd >/dev/null || need+=(ceph-osd)
if ((${#need[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-test-deps: need root to install: ${need[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

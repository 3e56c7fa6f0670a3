#!/usr/bin/env bash
# System packages the test suite needs (run as root on Debian; skipped where already present).
set -euo pipefail
need=()
command -v inotifywait >/dev/null || need+=(inotify-tools)
if ((${#need[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-test-deps: need root to install: ${need[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

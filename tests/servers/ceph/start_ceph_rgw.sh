#!/bin/bash
# Minimal single-node Ceph (Debian 12 pacific 16.2.x) for an S3 endpoint on 127.0.0.1:${RGW_PORT:-7480}:
#   1 ceph-mon + 1 ceph-osd (objectstore: ${OSD_STORE:-memstore}) + radosgw (beast). No mgr, no cephx, no systemd.
# Needs: apt-get install --no-install-recommends radosgw ceph-mon ceph-osd   (ceph-common comes along)
# Usage: start_ceph_rgw.sh [DIR]  -> prints PIDs, timings, and the S3 credentials; stop with stop_ceph_rgw.sh DIR
# Used by tests/servers/ceph.py (the pytest side) and benchmarks/s3_bench.py; adapted from the
# measured recipe: a clear error when Ceph is not installed, ports from the environment.
set -euo pipefail
for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
  command -v "$bin" >/dev/null || { echo "start_ceph_rgw: $bin not found (install: apt-get install --no-install-recommends radosgw ceph-mon ceph-osd curl, or run scripts/install-test-deps.sh)" >&2; exit 3; }
done
D=${1:-/tmp/fsreplica-ceph}
PORT=${RGW_PORT:-7480}
STORE=${OSD_STORE:-memstore}            # memstore | bluestore (bluestore on a sparse file)
AK=${S3_ACCESS_KEY:-fsreplicaaccess}
SK=${S3_SECRET_KEY:-fsreplicasecret}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# wait_for SECONDS WHAT CMD...: poll CMD every 0.1 s, fail loudly after SECONDS
wait_for() { local n=$(( $1 * 10 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do n=$((n-1)); [ $n -gt 0 ] || { echo "timeout waiting for $what (logs: $D/log)" >&2; exit 1; }; sleep 0.1; done; }
T0=$(ms)
rm -rf "$D"; mkdir -p "$D"/{mon,osd,run,log,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:${MON_PORT:-3300}
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
auth allow insecure global id reclaim = true
mon warn on insecure global id reclaim allowed = false
ms bind ipv4 = true
ms bind ipv6 = false
public network = 127.0.0.1/32
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
keyring = $D/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon data avail warn = 1
mon data avail crit = 0
[mon]
# the default 1 s paxos batching makes every pool creation cost ~1-2 s
paxos propose interval = 0.01
paxos min wait = 0.001
mon osd reporter subtree level = osd
mon data = $D/mon/\$name
mon cluster log file = $D/log/cluster.log
[osd]
osd data = $D/osd/\$name
osd objectstore = $STORE
memstore device bytes = ${MEMSTORE_BYTES:-8589934592}
bluestore block path = $D/osd/\$name/block.file
bluestore block size = ${BLUESTORE_BYTES:-10737418240}
bluestore block create = true
bluestore fsck on mount = false
osd memory target = ${OSD_MEMORY_TARGET:-1073741824}
osd op num shards = 1
osd op num threads per shard = 2
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $D/rgw
rgw dns name = localhost
rgw thread pool size = 64
CONF
C="-c $D/ceph.conf"
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --add a v2:127.0.0.1:${MON_PORT:-3300} --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon $C --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
ceph-mon $C -i a
T_MON=$(ms)
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph $C osd new "$OSD_UUID")
mkdir -p "$D/osd/osd.$OSD_ID"
ceph-osd $C -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>"$D/log/osd-mkfs.err"
ceph-osd $C -i "$OSD_ID"
wait_for 60 "osd.$OSD_ID up" sh -c "ceph $C osd dump | grep -q '^osd.$OSD_ID up'"
T_OSD=$(ms)
# one ceph CLI process reading commands from stdin (each separate CLI start costs ~0.2 s)
for p in .rgw.root default.rgw.log default.rgw.control default.rgw.meta default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
  echo "osd pool create $p 8 8"; echo "osd pool application enable $p rgw"
done | ceph $C >/dev/null 2>&1
T_POOLS=$(ms)
radosgw $C -n client.rgw.a
wait_for 60 "radosgw on :$PORT" curl -s -o /dev/null "http://127.0.0.1:$PORT/"
T_RGW=$(ms)
radosgw-admin $C user create --uid=fsreplica --display-name=fsreplica --access-key="$AK" --secret-key="$SK" >/dev/null
T_USER=$(ms)
echo "dir=$D store=$STORE endpoint=http://127.0.0.1:$PORT access_key=$AK secret_key=$SK"
echo "pids mon=$(cat $D/run/mon.a.pid) osd=$(cat $D/run/osd.$OSD_ID.pid) rgw=$(cat $D/run/client.rgw.a.pid)"
echo "ms mon=$((T_MON-T0)) osd=$((T_OSD-T_MON)) pools=$((T_POOLS-T_OSD)) rgw=$((T_RGW-T_POOLS)) user=$((T_USER-T_RGW)) total=$((T_USER-T0))"

#!/bin/bash
# A throwaway single-node Ceph (Debian 12: Ceph 16.2 "pacific") with the real RGW S3 gateway on 127.0.0.1, for the
# S3 provider's tests and benchmarks: 1 mon + 1 OSD (bluestore on a sparse file, or memstore = RAM) + radosgw (beast),
# auth none, no mgr. Everything (config, data, logs, pid files, sockets) lives under $CEPH_RGW_DIR; stop deletes it.
# usage: ceph-rgw.sh install | start | stop | status | env
#   install  apt-get install radosgw ceph-mon ceph-osd ceph-common (start does it when radosgw is missing)
#   start    build a fresh cluster under $CEPH_RGW_DIR on free ports (fails if one is already running there) and
#            write $CEPH_RGW_DIR/env: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (random per cluster), S3_REGION
#   stop     kill the daemons this script started (by pid file) and delete $CEPH_RGW_DIR
#   env      print $CEPH_RGW_DIR/env
#   rgw-stop / rgw-start   stop or start only the gateway (tests of an S3 outage); the cluster and its data stay
# env: CEPH_RGW_DIR (/tmp/ceph-rgw) CEPH_RGW_PORT, CEPH_MON_PORT (free ports) CEPH_OSD_PORTS (a free range of 100)
#      CEPH_OSD_STORE (bluestore: ~6 s start, RSS bounded | memstore: ~3 s start, the data sits in the OSD's RAM)
#      CEPH_STORE_BYTES (10 GiB: bluestore sparse file size / memstore cap)
#      S3_ACCESS_KEY (cephtest) S3_SECRET_KEY (cephtestsecret)
# SDK notes (AWSSDK.S3 4.x): ForcePathStyle=true and RequestChecksumCalculation=WHEN_REQUIRED are REQUIRED
# (RGW 16 rejects the default aws-chunked trailer uploads with 400 XAmzContentSHA256Mismatch).
set -euo pipefail
D=$(realpath -m "${CEPH_RGW_DIR:-/tmp/ceph-rgw}")
free_port() {
  local port
  for _ in $(seq 200); do
    port=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  echo "no free port found" >&2; return 1
}
RGW_PORT=${CEPH_RGW_PORT:-}
MON_PORT=${CEPH_MON_PORT:-}
OSD_PORTS=${CEPH_OSD_PORTS:-}
STORE=${CEPH_OSD_STORE:-bluestore}
STORE_BYTES=${CEPH_STORE_BYTES:-10737418240}
ACCESS=${S3_ACCESS_KEY:-hmtest$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')}
SECRET=${S3_SECRET_KEY:-$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)}
case "$D" in /|/tmp|/var|/root|/home|"$HOME") echo "ceph-rgw: CEPH_RGW_DIR=$D would be deleted on stop; use a dedicated folder" >&2; exit 2;; esac
CONF=$D/ceph.conf
PY=/usr/bin/python3   # the distro python has the rados module (a pyenv/venv python does not)
DAEMONS="client.rgw osd.0 mon.a"   # stop order

T0=$(date +%s%N)
say() { printf '[%5.1fs] %s\n' "$(( ($(date +%s%N) - T0) / 1000000 ))e-3" "$*"; }
die() { echo "ceph-rgw: $*" >&2; for f in "$D"/log/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done; exit 1; }
ceph_() { timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@"; }
alive() { local p; p=$(cat "$D/run/$1.pid" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -qF -- "$CONF" "/proc/$p/cmdline" 2>/dev/null; }

install() {
  command -v radosgw >/dev/null && command -v ceph-osd >/dev/null && command -v ceph-mon >/dev/null && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends radosgw ceph-mon ceph-osd ceph-common >/dev/null
  echo "installed: $(ceph --version)"
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT]
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = ${OSD_PORTS%-*}
ms bind port max = ${OSD_PORTS#*-}
auth cluster required = none
auth service required = none
auth client required = none
# radosgw defaults ms_mon_client_mode to "secure", which cannot work with auth none -> hangs in AUTH_CONNECTING (-13)
ms mon client mode = crc secure
run dir = $D/run
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
mon cluster log file = $D/log/mon-cluster.log
crash dir = $D/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.1
[mon]
mon data = $D/\$name
admin socket = $D/run/\$name.asok
[osd]
osd data = $D/\$name
admin socket = $D/run/\$name.asok
osd objectstore = $STORE
memstore device bytes = $STORE_BYTES
bluestore block size = $STORE_BYTES
bluestore block create = true
bluestore cache autotune = false
bluestore cache size = 268435456
osd memory target = 939524096
[client.rgw]
admin socket = $D/run/\$name.asok
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $D/rgw
rgw init timeout = 60
rgw thread pool size = 64
# deleted/overwritten data is reclaimed by RGW's GC; default waits 2 h (memstore keeps it in RAM until then)
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
}

start() {
  for n in $DAEMONS; do alive "$n" && { echo "already running ($n, $D); run stop first"; return 1; }; done
  install
  [ -n "$RGW_PORT" ] || RGW_PORT=$(free_port)
  [ -n "$MON_PORT" ] || MON_PORT=$(free_port)
  if [ -z "$OSD_PORTS" ]; then local base; base=$(free_port); OSD_PORTS="$base-$((base + 100))"; fi
  rm -rf "$D"; mkdir -p "$D"/{mon.a,osd.0,log,run,rgw}
  local fsid uuid id
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"
  # --- monitor
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon -c "$CONF" -i a --mkfs --monmap "$D/monmap" --keyring "$D/mon.keyring" 2>>"$D/log/mkfs.log" || die "ceph-mon --mkfs failed"
  ceph-mon -c "$CONF" -i a || die "ceph-mon did not start"
  ceph_ mon stat >/dev/null || die "mon not answering on 127.0.0.1:$MON_PORT"
  say "mon up (127.0.0.1:$MON_PORT)"
  # --- one OSD
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph_ osd new "$uuid") || die "osd new failed"
  [ "$id" = 0 ] || die "unexpected osd id $id"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >>"$D/log/mkfs.log" 2>&1 || die "ceph-osd --mkfs ($STORE) failed"
  ceph-osd -c "$CONF" -i 0 2>>"$D/log/mkfs.log" || die "ceph-osd did not start"
  # --- RGW's pools, made up front in one librados session (RGW would otherwise create them lazily: ~2 s each, on the first requests)
  $PY - "$CONF" <<'PYEOF' || die "pool creation failed"
import json, sys, time, rados
c = rados.Rados(conffile=sys.argv[1]); c.connect(timeout=20)
def cmd(**kw):
    r, out, err = c.mon_command(json.dumps(kw), b'', timeout=30)
    if r != 0: raise SystemExit(f"{kw}: {r} {err}")
    return out
deadline = time.time() + 60
while json.loads(cmd(prefix="osd stat", format="json"))["num_up_osds"] < 1:
    if time.time() > deadline: raise SystemExit("osd.0 not up after 60 s")
    time.sleep(0.1)
pools = [".rgw.root"] + ["default.rgw." + p for p in ("control", "meta", "log", "buckets.index", "buckets.data", "buckets.non-ec")]
for p in pools:
    cmd(prefix="osd pool create", pool=p, pg_num=8, pgp_num=8, autoscale_mode="off")
    cmd(prefix="osd pool application enable", pool=p, app="rgw", yes_i_really_mean_it=True)
for p in pools:  # one write per pool blocks until its PGs are created and active
    io = c.open_ioctx(p); io.write_full("ceph-rgw-probe", b"x"); io.remove_object("ceph-rgw-probe"); io.close()
c.shutdown()
PYEOF
  say "osd.0 up ($STORE), 7 rgw pools created"
  # --- gateway
  radosgw -c "$CONF" -n client.rgw || die "radosgw did not start"
  local i
  for i in $(seq 600); do
    curl -sf "http://127.0.0.1:$RGW_PORT/" 2>/dev/null | grep -q ListAllMyBucketsResult && alive client.rgw && break
    alive client.rgw || die "radosgw exited (port $RGW_PORT taken?)"
    [ "$i" = 600 ] && die "radosgw not answering on 127.0.0.1:$RGW_PORT after 60 s"
    sleep 0.1
  done
  say "radosgw answering"
  timeout 60 radosgw-admin -c "$CONF" user create --uid=test --display-name=test \
    --access-key="$ACCESS" --secret-key="$SECRET" >"$D/user.json" 2>>"$D/log/radosgw-admin.log" || die "user create failed"
  for i in $(seq 300); do  # a signed ListBuckets must answer as user test (and not some other server on the port)
    curl -sf --aws-sigv4 aws:amz:us-east-1:s3 --user "$ACCESS:$SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
      "http://127.0.0.1:$RGW_PORT/" 2>/dev/null | grep -q '<ID>test</ID>' && alive client.rgw && break
    alive client.rgw || die "radosgw exited (port $RGW_PORT taken?)"
    [ "$i" = 300 ] && die "signed ListBuckets as $ACCESS does not answer 200 after 30 s"
    sleep 0.1
  done
  printf '%s\n' "S3_ENDPOINT=http://127.0.0.1:$RGW_PORT" "S3_ACCESS_KEY=$ACCESS" "S3_SECRET_KEY=$SECRET" "S3_REGION=us-east-1" >"$D/env"
  chmod 600 "$D/env"
  say "ready: http://127.0.0.1:$RGW_PORT (path-style, any region); connection in $D/env"
}

stop() {
  local n p k pids=""
  for n in $DAEMONS; do  # only pids from our pid files whose command line names our ceph.conf
    alive "$n" && { p=$(cat "$D/run/$n.pid"); kill "$p" 2>/dev/null && pids="$pids $p"; }
  done
  for k in $(seq 30); do  # ~2 s each to exit on SIGTERM (the OSD waits longer once the mon is gone); then SIGKILL: all is deleted anyway
    local left=""; for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
    pids=$left; [ -z "$pids" ] && break; sleep 0.1
  done
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  for k in $(seq 20); do [ -z "$pids" ] && break; local left=""; for p in $pids; do [ -d "/proc/$p" ] && left="$left $p"; done; pids=$left; sleep 0.1; done
  rm -rf "$D"
  echo "stopped; $D removed"
}

status() {
  local n p rc=0
  for n in mon.a osd.0 client.rgw; do
    if alive "$n"; then p=$(cat "$D/run/$n.pid"); echo "$n running pid $p rss $(( $(awk '/VmRSS/{print $2}' /proc/$p/status) / 1024 )) MiB"
    else echo "$n not running"; rc=1; fi
  done
  local endpoint; endpoint=$(sed -n 's/^S3_ENDPOINT=//p' "$D/env" 2>/dev/null)
  [ -n "$endpoint" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$endpoint/" 2>/dev/null)" = 200 ] \
    && echo "S3 endpoint $endpoint answers" || { echo "S3 endpoint ${endpoint:-?} not answering"; rc=1; }
  return $rc
}

rgw_stop() {
  alive client.rgw || return 0
  local p; p=$(cat "$D/run/client.rgw.pid"); kill "$p"
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
}

rgw_start() {
  alive client.rgw && return 0
  local endpoint; endpoint=$(sed -n 's/^S3_ENDPOINT=//p' "$D/env")
  radosgw -c "$CONF" -n client.rgw || die "radosgw did not start"
  for _ in $(seq 600); do
    curl -sf "$endpoint/" 2>/dev/null | grep -q ListAllMyBucketsResult && return 0
    alive client.rgw || die "radosgw exited"
    sleep 0.1
  done
  die "radosgw not answering at $endpoint after 60 s"
}

envvars() {
  cat "$D/env"
}

case "${1:-}" in
  install) install ;; start) start ;; stop) stop ;; status) status ;; env) envvars ;;
  rgw-stop) rgw_stop ;; rgw-start) rgw_start ;;
  *) sed -n '2,17p' "$0"; exit 2 ;;
esac

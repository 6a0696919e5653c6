#!/usr/bin/env bash
# Installs what the test suite needs from Debian's packages: the stock tools the interop tests run
# (zstd, gzip, tar, sha256sum, bsdtar) and PostgreSQL 15 (server and client tools; the tests start their own
# throwaway cluster with scripts/postgres.sh, never the package's), and Ceph's RGW (radosgw, ceph-mon, ceph-osd,
# ceph-common: scripts/ceph-rgw.sh starts a throwaway single-node cluster for the S3 tests), and tzdata (the
# schedule tests run cron times in Europe/Berlin across daylight-saving changes), and strace (the durability tests
# record which files a restore flushes to disk).
# Idempotent: installs only what is missing; runs apt-get update at most once.
set -euo pipefail

need=()
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v gzip >/dev/null 2>&1 || need+=(gzip)
command -v tar >/dev/null 2>&1 || need+=(tar)
command -v sha256sum >/dev/null 2>&1 || need+=(coreutils)
command -v bsdtar >/dev/null 2>&1 || need+=(libarchive-tools)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v radosgw >/dev/null 2>&1 && command -v ceph-mon >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1 || need+=(radosgw ceph-mon ceph-osd ceph-common)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v strace >/dev/null 2>&1 || need+=(strace)
[ -f /usr/share/zoneinfo/Europe/Berlin ] || need+=(tzdata)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-test-deps: everything present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-test-deps: need root (or sudo) to install: ${need[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "install-test-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"

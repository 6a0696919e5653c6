#!/usr/bin/env bash
# Builds a reproducible "real files" corpus for the end-to-end benchmark: a seeded random sample of regular files
# from /usr/share and /usr/lib (sum of sizes capped at BYTES), written as OUTDIR/files.tar and unpacked as OUTDIR/files/.
# The seed is a fixed keystream, so the same machine image gives the same sample.
# usage: scripts/make-file-corpus.sh [OUTDIR=/tmp/hm-corpus] [BYTES=1073741824]
set -euo pipefail
out=${1:-/tmp/hm-corpus}
cap=${2:-1073741824}
mkdir -p "$out"
cd "$out"
if [ -f files.tar ] && [ -f list.txt ] && [ -d files ]; then
  echo "corpus already present: $(wc -l < list.txt) files, tar $(stat -c %s files.tar) bytes in $out"
  exit 0
fi
find /usr/share /usr/lib -type f -readable -printf '%s\t%p\n' 2>/dev/null > all.tsv
# head closes the pipe early on purpose; openssl's SIGPIPE is expected.
(set +o pipefail; openssl enc -aes-256-ctr -pass pass:seed42 -nosalt </dev/zero 2>/dev/null | head -c 10000000 > seed.bin)
shuf --random-source=seed.bin all.tsv | awk -F'\t' -v cap="$cap" '{ if (t + $1 > cap) next; t += $1; print $2 }' > list.txt
tar --no-recursion -cf files.tar -T list.txt 2>/dev/null || true
rm -rf files && mkdir files && tar -xf files.tar -C files
echo "$(wc -l < list.txt) files, tar $(stat -c %s files.tar) bytes in $out"

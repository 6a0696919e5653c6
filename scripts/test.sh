#!/usr/bin/env bash
# Runs every test: installs the stock tools the tests use, builds in Release, runs the whole suite.
# This is the README's test command, and .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rm -rf tests/HealthMate.Backup.Tests/bin/Release/net10.0/fault-counts
status=0
dotnet test HealthMate.Backup.sln -c Release --nologo 2>&1 | tee "$log" || status=$?

# One closing summary line across test assemblies: "N passed, N failed, N skipped".
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "no tests ran" >&2
  status=1
fi
# What the fault-injection suite injected and what it lost (docs/reliability.md quotes these).
counts=tests/HealthMate.Backup.Tests/bin/Release/net10.0/fault-counts
if [ -d "$counts" ]; then
  echo "fault injection:"
  cat "$counts"/*.txt | sed 's/^/  /'
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"

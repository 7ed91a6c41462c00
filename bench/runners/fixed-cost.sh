#!/usr/bin/env bash
# Fixed cost of one deflake run per test framework: the exact command each runner starts (one at a time, results
# file), on a 30-test suite of empty tests, rounds interleaved so that every framework sees the same machine load.
# Usage: bench/runners/fixed-cost.sh SUITES_DIR DEFLAKE_BIN_DIR [ROUNDS]
#   SUITES_DIR holds v3/, x2/, nu/, ms/: 3 classes x 10 empty tests each (xunit.v3 3.2.2, xunit 2.9.3,
#   NUnit 4.4.0 + NUnit3TestAdapter 6.3.1 with EnableNUnitRunner, MSTest 4.5.3 with EnableMSTestRunner), built.
set -euo pipefail
suites=$1; bin=$2; rounds=${3:-7}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '<RunSettings><NUnit><NumberOfTestWorkers>0</NumberOfTestWorkers></NUnit></RunSettings>\n' > "$out/nunit.runsettings"
printf '<RunSettings><RunConfiguration><DisableParallelization>true</DisableParallelization></RunConfiguration><MSTest><Parallelize><Workers>1</Workers></Parallelize></MSTest></RunSettings>\n' > "$out/mstest.runsettings"
d=net10.0
declare -A cmd=(
  [xunit-v3]="dotnet $suites/v3/bin/Debug/$d/v3.dll :7 -parallel none -noLogo -noColor -xml $out/v3.xml"
  [xunit-v2-console]="dotnet $bin/xunit2/xunit.console.dll $suites/x2/bin/Debug/$d/x2.dll -nologo -nocolor -noautoreporters -parallel none -xml $out/x2.xml"
  [xunit-v2-vstest]="dotnet test $suites/x2/bin/Debug/$d/x2.dll --logger trx;LogFileName=$out/x2.trx"
  [nunit-mtp]="dotnet $suites/nu/bin/Debug/$d/nu.dll --no-ansi --progress off --results-directory $out --report-trx --report-trx-filename nu.trx --settings $out/nunit.runsettings"
  [mstest-mtp]="dotnet $suites/ms/bin/Debug/$d/ms.dll --no-ansi --progress off --results-directory $out --report-trx --report-trx-filename ms.trx --settings $out/mstest.runsettings"
)
names=(xunit-v3 xunit-v2-console xunit-v2-vstest nunit-mtp mstest-mtp)
uptime
for round in $(seq 1 "$rounds"); do
  for i in "${!names[@]}"; do
    name=${names[$(( (i + round) % ${#names[@]} ))]}
    start=$(date +%s.%N)
    ${cmd[$name]} > /dev/null 2>&1 || true
    echo "$name $(echo "$(date +%s.%N) - $start" | bc)"
  done
done | sort | awk '{ v[$1] = v[$1] " " $2 } END { for (n in v) { split(substr(v[n], 2), a, " "); asort(a); printf "%-18s median %.2f s  min %.2f s  (%s)\n", n, a[int((length(a) + 1) / 2)], a[1], substr(v[n], 2) } }'
uptime

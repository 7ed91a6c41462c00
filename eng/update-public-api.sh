#!/usr/bin/env bash
# Usage: eng/update-public-api.sh src/PROJECT — adds RS0016 symbols to PublicAPI.Unshipped.txt and removes RS0017 ones, until the build is clean.
set -u
p=$1; name=$(basename $p)
for i in 1 2 3; do
  out=$(dotnet build $p/$name.csproj -v q -nologo -p:TreatWarningsAsErrors=false 2>&1); built=$?
  add=$(echo "$out" | grep "error RS0016\|warning RS0016" | grep -o "Symbol '[^']*'" | sed "s/^Symbol '//; s/'$//" | sort -u)
  del=$(echo "$out" | grep "RS0017" | grep -o "Symbol '[^']*'" | sed "s/^Symbol '//; s/'$//" | sort -u)
  if [ -z "$add$del" ]; then
    [ $built -eq 0 ] && { echo "$name: clean"; exit 0; }
    echo "$out" | grep -E " error " | sort -u | head -20; echo "$name: the build fails for another reason"; exit 1
  fi
  f=$p/PublicAPI.Unshipped.txt
  python3 - "$f" "$add" "$del" <<'PY'
import sys
f,add,dele=sys.argv[1],sys.argv[2],sys.argv[3]
lines=[l for l in open(f).read().splitlines() if l.strip()]
head=[l for l in lines if l.startswith('#')]; body=[l for l in lines if not l.startswith('#')]
d=set(x for x in dele.splitlines() if x)
body=[l for l in body if l not in d]
body=sorted(set(body+[x for x in add.splitlines() if x]), key=lambda s: s.lower())
open(f,'w').write('\n'.join(head+body)+'\n')
PY
  echo "$name: +$(echo "$add" | grep -c .) -$(echo "$del" | grep -c .)"
done

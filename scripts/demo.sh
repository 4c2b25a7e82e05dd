#!/usr/bin/env bash
# The demo: generate a private internet of N domains, bring it up, scan it, print a few
# domains' findings and where the Parquet dataset is.
set -euo pipefail
uptake=$1 domains=$2 dir=$3
mkdir -p "$dir"
rm -rf "$dir/dataset"   # a demo run replaces the previous one
"$uptake" testbed generate --domains "$domains" --seed 1 --out "$dir/testbed"
"$uptake" testbed run "$dir/testbed" -- sh -c "
  set -e
  '$uptake' scan --targets '$dir/testbed/targets.csv' --out '$dir/dataset' --scan-id demo
  for d in \$(sed -n '2p;3p;4p' '$dir/testbed/targets.csv' | cut -d, -f1); do
    '$uptake' check \"\$d\"
    echo
  done
"
echo "demo: the dataset is in $dir/dataset/scan=demo (open it with duckdb or pyarrow); truth in $dir/testbed/truth.csv"

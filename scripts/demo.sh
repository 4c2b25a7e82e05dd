#!/usr/bin/env bash
# The demo: the demo pipeline (pipelines/demo.toml) end to end on a private internet of N
# domains: generate it (once), bring it up, scan every check, aggregate, write the report, and
# print where the report is. Rerunning the same day does nothing more than print the path;
# DEMO_DATE=YYYY-MM-DD runs another date (a second point on the trend lines).
set -euo pipefail
uptake=$1 domains=$2 dir=$3
[ "$dir" = out/demo ] || { echo "demo: pipelines/demo.toml expects out/demo" >&2; exit 2; }
if [ ! -f "$dir/testbed/testbed.json" ] || [ "$(cat "$dir/testbed/.domains" 2>/dev/null)" != "$domains" ]; then
  rm -rf "$dir"
  "$uptake" testbed generate --domains "$domains" --seed 1 --out "$dir/testbed"
  echo "$domains" > "$dir/testbed/.domains"
fi
"$uptake" validate pipelines/demo.toml
"$uptake" testbed run "$dir/testbed" -- "$uptake" run pipelines/demo.toml ${DEMO_DATE:+--date "$DEMO_DATE"}
echo "demo: open $dir/reports/latest/report/index.html (dataset: $dir/dataset, truth: $dir/testbed/truth.csv)"

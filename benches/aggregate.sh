#!/bin/sh
# Aggregation benchmark: uptake aggregate vs DuckDB running the generated metrics.sql on the
# same synthetic Parquet files (real schema), grouped by country, sector and country x sector.
#
#   benches/aggregate.sh [ROWS] [DIR]      (default 10000000 rows in /tmp/uptake-aggbench)
#
# Needs the test venv (scripts/setup.sh makes .venv with duckdb). The dataset is generated
# once (by crates/aggregate/examples/synthetic.rs, one writer process per core) and reused
# while ROWS stays the same. Prints wall time and peak RSS of each engine; both outputs are
# compared count for count. Not part of `make test`.
set -eu
ROWS=${1:-10000000}
DIR=${2:-/tmp/uptake-aggbench}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
JOBS=$(nproc)

cargo build --release -q -p uptake-cli -p uptake-aggregate --example synthetic --manifest-path "$ROOT/Cargo.toml"
UPTAKE=$TARGET/release/uptake
GEN=$TARGET/release/examples/synthetic

DATA=$DIR/data-$ROWS
if [ ! -f "$DATA/.complete" ]; then
    rm -rf "$DATA"
    echo "generating $ROWS rows in $DATA with $JOBS writers"
    k=0
    while [ $k -lt "$JOBS" ]; do
        "$GEN" "$DATA" "$ROWS" bench "$k/$JOBS" &
        k=$((k + 1))
    done
    wait
    touch "$DATA/.complete"
fi
du -sh "$DATA/scan=bench" | sed 's/^/dataset size: /'

OUT=$DIR/out
rm -rf "$OUT"
measure() { # label, command...
    label=$1; shift
    /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null
    read -r secs kb < "$DIR/time.txt"
    echo "$label: ${secs}s wall, peak RSS $((kb / 1024)) MiB"
}
measure "uptake aggregate" "$UPTAKE" aggregate "$DATA" --by country --by sector --by country,sector --out "$OUT" --quiet
cat > "$DIR/duck.py" <<PYEOF
import duckdb, sys, csv
sql = open("$OUT/metrics.sql").read()
con = duckdb.connect()
con.execute("SET threads = $JOBS")
stmts = [s for s in sql.split(";\n") if any(l.strip() and not l.startswith("--") for l in s.splitlines())]
for s in stmts[:-1]:
    con.execute(s)
res = con.execute(stmts[-1])
cols = [d[0] for d in res.description]
with open("$DIR/duckdb.csv", "w", newline="") as f:
    w = csv.writer(f)
    for row in res.fetchall():
        d = dict(zip(cols, row))
        for c in cols:
            if c.endswith("_applicable"):
                m = c[: -len("_applicable")]
                w.writerow([d["scan"], d["grouping"], d["grp"], m, d[c], d[m + "_adopted"], d[m + "_errors"]])
PYEOF
measure "duckdb metrics.sql" "$PY" "$DIR/duck.py"
"$PY" - "$OUT/adoption.csv" "$DIR/duckdb.csv" <<'PYEOF'
import csv, sys
ours = {(r["scan"], r["grouping"], r["group"], r["metric"]): (r["applicable"], r["adopted"], r["errors"])
        for r in csv.DictReader(open(sys.argv[1]))}
theirs = {tuple(r[:4]): tuple(r[4:]) for r in csv.reader(open(sys.argv[2]))}
print("counts equal:", ours == theirs, f"({len(ours)} rows)")
sys.exit(0 if ours == theirs else 1)
PYEOF

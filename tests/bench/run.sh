#!/usr/bin/env bash
# `make bench`: the import benchmark of BENCHMARKS.md.
#   tests/bench/run.sh BUILD_DIR        (N=100000 by default; N=... to change)
# Generates a bundle of N events, measures the single-core Ed25519
# verification rate in the same run, then times `watchmesh import` of the
# bundle into a fresh node, pinned to one core and then free to use both.
set -euo pipefail
build=${1:-build}
n=${N:-100000}
wm=$build/node/cli/watchmesh
gen=$build/tests/bench/bench_import
for f in "$wm" "$gen"; do
	[ -x "$f" ] || { echo "bench: $f is not built (run make first)" >&2; exit 1; }
done
pin=""
if command -v taskset >/dev/null; then pin="taskset -c 0"; fi
dir=$(mktemp -d /tmp/wm-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

echo "generating $n events and measuring Ed25519 verification on one core..."
$pin "$gen" "$dir" "$n" > "$dir/ref.txt"
verify=$(awk '$1=="verify_per_s"{print $2}' "$dir/ref.txt")
decode=$(awk '$1=="decode_verify_per_s"{print $2}' "$dir/ref.txt")
size=$(stat -c %s "$dir/bench.wmb")

run_import() { # $1 = label, rest = prefix command
	local label=$1; shift
	rm -rf "$dir/node"
	"$wm" init "$dir/node" --network "$dir/bench.network" --name bench >/dev/null
	local t0 t1
	t0=$(date +%s.%N)
	"$@" "$wm" import --dir "$dir/node" "$dir/bench.wmb" > "$dir/import.out" 2> "$dir/import.err"
	t1=$(date +%s.%N)
	local stored
	stored=$(grep -o '[0-9]* stored' "$dir/import.out" | awk '{print $1}')
	awk -v l="$label" -v s="$stored" -v a="$t0" -v b="$t1" -v v="$verify" \
		'BEGIN { r = s / (b - a); printf "| %-28s | %8d | %7.2f s | %8.0f /s | %5.1f%% |\n", l, s, b - a, r, 100 * r / v }'
	[ "$stored" = "$n" ] || { echo "bench: expected $n stored; import said:"; cat "$dir/import.out" "$dir/import.err"; exit 1; }
}

echo
echo "bundle: $n events, $size bytes; machine: $(nproc) cores, $(uname -m)"
echo
echo "| what                         |   events |    time  |     rate    | of verify |"
echo "|------------------------------|----------|----------|-------------|-----------|"
printf "| %-28s | %8d |          | %8.0f /s |  100.0%% |\n" "Ed25519 verify only, 1 core" "$n" "$verify"
printf "| %-28s | %8d |          | %8.0f /s | %5.1f%% |\n" "SHA-256+verify+decode, 1 core" "$n" "$decode" \
	"$(awk -v d="$decode" -v v="$verify" 'BEGIN{print 100*d/v}')"
if [ -n "$pin" ]; then run_import "watchmesh import, 1 core" $pin; fi
run_import "watchmesh import, all cores" env

#!/usr/bin/env bash
# Reads of a large store (issue 11, BENCHMARKS.md "reads"): the feed's and
# the search's commands on stores of N events, for one build or two side
# by side (a reference, such as main, measured in the same run).
#
#   tests/bench/bench_reads.sh BUILD [REFERENCE_BUILD]
#
# For each N in $NS (default "100000 1000000"): a bundle of N events (the
# import benchmark's mix, made by BUILD's bench_import), imported by each
# build into a node of its own; then each query RUNS times (default 5) per
# build, printing the fastest, the median and the slowest wall time of the
# whole command and its peak RSS (`feed --limit 1` first: the least a
# query command on that store costs, the reference), and the instructions
# of one more run under callgrind when valgrind is there (a figure the
# machine's other load does not move; INSTR=0 leaves it out); the load
# average before each store's queries; the store's bytes per event (the file and its
# WAL; per table when the sqlite3 shell is there); then BUILD's
# bench_reads (the queries alone, in one process, on a reader).
# WORK=DIR keeps the bundles and the nodes there and reuses them when run
# again (a 1M bundle takes ~4 min to make, an import ~1.5 min); without
# WORK they go to a temporary directory removed at the end.
set -euo pipefail
build=${1:?usage: bench_reads.sh BUILD [REFERENCE_BUILD]}
ref=${2:-}
ns=${NS:-100000 1000000}
runs=${RUNS:-5}
instr=${INSTR:-1}
command -v valgrind >/dev/null || instr=0
for f in "$build/node/cli/watchmesh" "$build/tests/bench/bench_import" "$build/tests/bench/bench_reads" \
	${ref:+"$ref/node/cli/watchmesh"}; do
	[ -x "$f" ] || { echo "bench_reads: $f is not built (run ninja -C ${f%%/*} first)" >&2; exit 1; }
done
if [ -n "${WORK:-}" ]; then
	work=$WORK
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/wm-reads.XXXXXX)
	trap 'rm -rf "$work"' EXIT
fi
builds=("$build")
labels=("this build")
if [ -n "$ref" ]; then
	builds=("$ref" "$build")
	labels=("reference ($ref)" "this build ($build)")
fi
queries=("feed --limit 1" "feed --group gaobu.dongfeng --limit 50" "feed --kind bulletin" "search 诈骗" "search 电信诈骗" "search 骗")

# ms_and_rss CMD...: run once; prints "<wall ms> <peak RSS KB>"
ms_and_rss() {
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000 )) $(cat "$work/rss")"
}

# instructions CMD...: the instructions of one run, in millions
instructions() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
		awk '/Collected :/ { printf "%.1f M", $NF / 1e6 }'
}

echo "machine: $(nproc) cores, $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for n in $ns; do
	data=$work/data$n
	if [ ! -s "$data/bench.wmb" ]; then
		mkdir -p "$data"
		echo "generating $n events..."
		"$build/tests/bench/bench_import" "$data" "$n" > "$data/ref.txt"
	fi
	event_bytes=$(( $(stat -c %s "$data/bench.wmb") / n ))
	for i in "${!builds[@]}"; do
		node=$work/node$n-$i
		if [ ! -s "$node/store.db" ] || [ "$(cat "$node/built-by" 2>/dev/null)" != "${builds[$i]}" ]; then
			rm -rf "$node"
			"${builds[$i]}/node/cli/watchmesh" init "$node" --network "$data/bench.network" --name bench >/dev/null
			echo "importing $n events with ${labels[$i]}..."
			"${builds[$i]}/node/cli/watchmesh" import --dir "$node" "$data/bench.wmb" >/dev/null 2>&1
			echo "${builds[$i]}" > "$node/built-by"
		fi
	done

	echo
	echo "### $n events ($event_bytes bytes an event on the wire)"
	echo
	echo "load average $(cut -d' ' -f1-3 /proc/loadavg) before the queries"
	echo
	header="| command, $runs runs |"
	rule="|---|"
	for l in "${labels[@]}"; do
		header="$header $l: min / median / max | peak RSS |"
		rule="$rule---|---|"
		[ "$instr" = 0 ] || { header="$header instructions |"; rule="$rule---|"; }
	done
	echo "$header"
	echo "$rule"
	for q in "${queries[@]}"; do
		row="| \`$q\` |"
		for i in "${!builds[@]}"; do
			: > "$work/times"
			rss=0
			for r in $(seq "$runs"); do
				# shellcheck disable=SC2086 # the query is words
				read -r us kb < <(ms_and_rss "${builds[$i]}/node/cli/watchmesh" $q --dir "$work/node$n-$i")
				echo "$us" >> "$work/times"
				[ "$kb" -gt "$rss" ] && rss=$kb
			done
			row="$row $(sort -n "$work/times" | awk '{ v[NR] = $1 } END { printf "%.1f / %.1f / %.1f ms", v[1] / 1000, v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }') | $(( rss / 1024 )) MB |"
			# shellcheck disable=SC2086 # the query is words
			[ "$instr" = 0 ] || row="$row $(instructions "${builds[$i]}/node/cli/watchmesh" $q --dir "$work/node$n-$i") |"
		done
		echo "$row"
	done
	echo
	for i in "${!builds[@]}"; do
		node=$work/node$n-$i
		bytes=$(stat -c %s "$node"/store.db* | awk '{ s += $1 } END { print s }')
		echo "store of ${labels[$i]}: $(( bytes / n )) bytes an event ($(awk -v b="$bytes" -v n="$n" -v e="$event_bytes" 'BEGIN { printf "%.2f", b / n / e }') x the event)"
		if command -v sqlite3 >/dev/null; then
			sqlite3 "$node/store.db" "SELECT '  ' || name || ': ' || (sum(pgsize) / $n) || ' B' FROM dbstat
				GROUP BY name HAVING sum(pgsize) >= $n ORDER BY sum(pgsize) DESC" | paste -sd ';' -
		fi
	done
	echo
	"$build/tests/bench/bench_reads" "$work/node$n-$(( ${#builds[@]} - 1 ))/store.db"
done

#!/usr/bin/env bash
# Runs the example scripts (examples/demo.sh is what `make demo` runs) in a
# temporary directory against the built binary; keeps their output and the
# directory when one fails.
#   usage: run_examples.sh PATH/TO/watchmesh SOURCE_ROOT
set -uo pipefail
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
src="$2"
dir="$(mktemp -d /tmp/wm-examples-XXXXXX)"
cd "$dir" || exit 1
for ex in demo.sh usb-stick.sh; do
	if ! "$src/examples/$ex" "$bin" > "$ex.log" 2>&1; then
		cat "$ex.log"
		echo "examples/$ex failed; its directory is kept: $dir" >&2
		exit 1
	fi
done
grep -q "refused" demo.sh.log || { cat demo.sh.log; echo "demo: no refusal shown" >&2; exit 1; }
grep -q "0 refused" demo.sh.log || { cat demo.sh.log; echo "demo: import refused events" >&2; exit 1; }
rm -rf "$dir"
echo "examples: ok"

#!/bin/sh
# Runs negentropy.test.js against the harness given as $1; exit 77 (meson's
# "skipped") when Node.js or the npm packages are missing.
case "$0" in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
if ! command -v node >/dev/null 2>&1; then
	echo "SKIP: node (Node.js >= 20.19) not found"
	exit 77
fi
if [ ! -f "$here/node_modules/nostr-tools/package.json" ]; then
	echo "SKIP: nostr-tools not installed; run: npm ci --prefix tests/interop"
	exit 77
fi
exec node "$here/negentropy.test.js" "$@"

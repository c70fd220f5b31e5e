#!/bin/sh
# The binary's size and the node's memory at idle (`make arm64` runs it for
# both builds): a fresh node of a network of its own, on loopback, started
# and left alone for SECONDS, then its VmRSS.  Under qemu-user (WRAPPER) the
# process measured is qemu's, so its RSS includes the emulator's own.
# usage: dist/idle.sh WATCHMESH [SECONDS [WRAPPER [STRIP]]]
set -eu
wm=$1
secs=${2:-30}
wrap=${3:-}
strip=${4:-strip}
t=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$t"' EXIT
pid=
# a cheap Argon2id for the network's root key: this is no network to keep
export WATCHMESH_TEST_FAST_KDF=1
echo 'idle measure passphrase' > "$t/pass"
$wrap "$wm" network create --name idle --out "$t/idle.network" --passphrase-file "$t/pass" >/dev/null
$wrap "$wm" init "$t/node" --network "$t/idle.network" --name idle >/dev/null
# the kernel picks the ports, so nothing on the machine is in the way
sed -i -e 's/^listen = .*/listen = 127.0.0.1:0/' -e 's/^http = .*/http = 127.0.0.1:0/' \
	-e 's/^https = .*/https = off/' "$t/node/watchmesh.conf"
$wrap "$wm" run "$t/node" 2>"$t/log" &
pid=$!
sleep "$secs"
rss=$(sed -n "s/^VmRSS:[[:space:]]*//p" /proc/$pid/status)
cp "$wm" "$t/stripped" && $strip "$t/stripped"
echo "$(basename "$wm") $($wrap "$wm" --version | head -1): $(stat -c %s "$wm") bytes, $(stat -c %s "$t/stripped") stripped; idle ${secs} s${wrap:+ under $wrap}: VmRSS $rss"
kill -TERM $pid && wait $pid

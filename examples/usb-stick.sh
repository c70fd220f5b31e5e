#!/usr/bin/env bash
# Three villages with no network between them, and an officer's laptop that
# is never online: events travel as bundle files on a USB stick.  Shows that
# a bundle's order does not matter (certificates are taken first), that
# importing twice is harmless, and that a revocation carried on the stick
# takes effect in every village it reaches.
#
#   usage: examples/usb-stick.sh PATH/TO/watchmesh        (works in ./usb-demo)
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 PATH/TO/watchmesh" >&2
	exit 2
fi
WM="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
step() { printf '\n== %s\n' "$*"; }
show() { printf '$ watchmesh %s\n' "$*" >&2; "$WM" "$@"; }

rm -rf usb-demo
mkdir usb-demo
cd usb-demo
umask 077
echo "root secret phrase" > root.pass
echo "station secret phrase" > station.pass
echo "officer secret phrase" > officer.pass

step "The station: network, root key, its own key and an officer's, on the offline laptop"
show network create --name hillside --out hillside.network --passphrase-file root.pass
show key new --out station.key --passphrase-file station.pass
show key new --out zhao.key --passphrase-file officer.pass
for v in east west north; do
	show init "$v" --network hillside.network --name "$v-village"
done

step "Certificates and a bulletin are signed on the laptop into stick.wmb (no node involved)"
show cert issue --issuer hillside.network.root.key --passphrase-file root.pass \
	--subject station.key --role station --name 山边派出所 --groups '*' --out stick.wmb --network hillside.network
show cert issue --issuer station.key --passphrase-file station.pass \
	--subject zhao.key --role officer --name 赵警官 --groups '*' --out stick.wmb --network hillside.network
show post bulletin --key zhao.key --passphrase-file officer.pass --group hillside.all \
	--category weather --title 暴雨预警 --text "今晚有暴雨，请远离河道，检查排水。" --out stick.wmb --network hillside.network

step "The stick goes round the villages"
for v in east west north; do
	show import --dir "$v" stick.wmb
done

step "East village gets a resident's lead; it travels back on the stick"
show key new --out wu.key --no-passphrase
ALERT=$(show post alert --key zhao.key --passphrase-file officer.pass --dir east \
	--group hillside.all --headline 河道水位上涨 --text "东桥已封闭，请绕行西桥。" --area 东桥 --expires 6h)
show post reply --key wu.key --dir east --group hillside.all --ref "$ALERT" --text "西桥也开始积水了。"
show export --dir east --out east.wmb
show import --dir west east.wmb
show import --dir west east.wmb        # again: only duplicates

step "Officer Zhao's key is lost: the station revokes it, keeping what East holds of his, and a forged bulletin fails everywhere"
show cert revoke --issuer station.key --passphrase-file station.pass \
	--subject zhao.key --reason "钥匙遗失" --dir east --yes --out revoke.wmb
sleep 0.01
show post bulletin --key zhao.key --passphrase-file officer.pass --group hillside.all \
	--category notice --title 假通知 --text "请把存款转到以下账户。" --out forged.wmb --network hillside.network
cat forged.wmb revoke.wmb > stick2.wmb    # the forgery first: order does not matter
show import --dir north stick2.wmb || true

step "North village's feed: the weather bulletin, no forgery"
show feed --dir north

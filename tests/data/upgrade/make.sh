#!/bin/sh
# Makes tests/data/upgrade/schema-N.tar.xz: a small world (network, root,
# station, officer and resident keys, one node) whose store was written by
# the watchmesh of store schema N, with events of several kinds in it and
# ids.txt, the ids its own feed listed.  test_upgrade.py opens each with
# the current watchmesh.
#
#   usage: tests/data/upgrade/make.sh N COMMIT [WATCHMESH]   (from the repository's top)
#
# WATCHMESH, if given, is that commit's binary, built already (a debug
# build: the suite's cheap KDF); else the commit is built in a worktree.
#
# COMMIT is the last one whose store is schema N: the parent of the commit
# that moved STORE_SCHEMA_VERSION past N (git log -G'define STORE_SCHEMA_VERSION').
# Made so far:  6 f04d4a8   7 0afc732   8 f8d6277   9 6f1157e   10 a9d69fa   11 f101194   12 745c63f
#               13 056fd96
# A new schema version M: make schema-(M-1) with the parent of M's commit.
set -eu
n=$1
commit=$2
top=$(pwd)
out=$top/tests/data/upgrade/schema-$n.tar.xz
work=$(mktemp -d /tmp/wm-upgrade-world.XXXXXX)
if [ $# -ge 3 ]; then
	wm=$(realpath "$3")
	trap 'rm -rf "$work"' EXIT
else
	src=$(mktemp -d /tmp/wm-upgrade-src.XXXXXX)
	trap 'git -C "$top" worktree remove --force "$src"; rm -rf "$work"' EXIT
	git worktree add --force --detach "$src" "$commit"
	meson setup "$src/build" "$src" >/dev/null
	ninja -C "$src/build" node/cli/watchmesh >/dev/null
	wm="$src/build/node/cli/watchmesh"
fi
# a test build: keys sealed with a cheap KDF, as the suite makes them
export WATCHMESH_TEST_FAST_KDF=1 TZ=Asia/Shanghai
cd "$work"
echo "correct horse battery staple" >pass.txt
p="--passphrase-file pass.txt"
g=gaobu.xinhua
$wm network create --name upgrade-$n --out net $p >/dev/null
$wm init village --network net --name village >/dev/null
$wm key new --out station.key $p >/dev/null
$wm key new --out officer.key $p >/dev/null
$wm key new --out res1.key --no-passphrase >/dev/null
$wm cert issue --issuer net.root.key $p --subject station.key --role station --name 高埔派出所 --groups '*' --dir village >/dev/null
$wm cert issue --issuer station.key $p --subject officer.key --role officer --name 王警官 --groups $g --dir village >/dev/null
$wm cert issue --issuer station.key $p --subject res1.key --role resident --name 李阿姨 --groups $g --dir village >/dev/null
$wm post bulletin --dir village --key officer.key $p --group $g --title 防诈骗提醒 \
	--text "近期有人冒充公安来电，要求转账到安全账户，请勿相信。" --category fraud >/dev/null
$wm post bulletin --dir village --key officer.key $p --group $g --title 停水通知 \
	--text "明天上午9点到12点，3栋和5栋停水。" >/dev/null
$wm post alert --dir village --key officer.key $p --group $g --headline 寻找走失老人 \
	--text "78岁男性，身穿蓝色外套，于新华村口走失。" --area 新华村 --expires 8760h >/dev/null
req=$($wm post request --dir village --key res1.key --group $g --text "楼下电动车被偷了，请派人来看看。")
$wm post reply --dir village --key officer.key $p --group $g --reply-to "$req" --text "已收到，马上派人。" >/dev/null
$wm post status --dir village --key officer.key $p --group $g --ref "$req" --state acknowledged >/dev/null
$wm feed --dir village --json --all --limit 0 | /usr/bin/python3 -c \
	'import json, sys; print("\n".join(sorted(e["id"] for e in json.load(sys.stdin))))' >ids.txt
echo "$n" >schema.txt
rm -f village/daemon.lock
tar -cJf "$out" --owner=0 --group=0 --sort=name .
echo "$out: $(wc -l <ids.txt) events"

#!/usr/bin/env bash
# watchmesh demo: what `make demo` runs.  Builds a small world in ./demo — a
# network, its root key, a police station, an officer, two residents and a
# village node — then walks through a day: an anti-fraud bulletin, a
# missing-person alert with a photo, a private help request, the officer's
# answer, a refused forgery, the feed, and a bundle for the next village.
#
# Then the mesh: three nodes on this machine's loopback — the police
# station, the village and a company park, in a line — run as daemons
# (`watchmesh run`, logs in demo/logs/).  An alert crosses from the station
# to the park; the village goes offline, both sides post, the village comes
# back and repair brings everyone level; then a clean shutdown.  The script
# stops its daemons however it ends.
#
#   usage: examples/demo.sh PATH/TO/watchmesh
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 PATH/TO/watchmesh" >&2
	exit 2
fi
WM="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
# the command goes to stderr, so $(show ...) captures only its output
show() { printf '$ watchmesh %s\n' "$*" >&2; "$WM" "$@"; }

rm -rf demo
mkdir -p demo/secrets
chmod 700 demo/secrets
cd demo
GROUP=gaobu.xinhua-village

step "1. The police station creates the network (root key encrypted, passphrase from a file)"
echo "root passphrase: keep it in a safe" > secrets/root.pass
echo "station passphrase" > secrets/station.pass
echo "officer passphrase" > secrets/officer.pass
show network create --name gaobu-district --out gaobu.network \
	--root-key secrets/root.key --passphrase-file secrets/root.pass

step "2. The Xinhua village community centre sets up its node"
show init xinhua --network gaobu.network --name xinhua-village
echo "(xinhua/ holds node.key, network, watchmesh.conf, store.db)"

step "3. Keys: a station, an officer (both encrypted), two residents (plain)"
show key new --out secrets/station.key --passphrase-file secrets/station.pass
show key new --out secrets/officer.key --passphrase-file secrets/officer.pass
show key new --out li.key --no-passphrase
show key new --out chen.key --no-passphrase

step "4. Certificates: root -> station -> officer and residents"
show cert issue --issuer secrets/root.key --passphrase-file secrets/root.pass \
	--subject "$("$WM" key show secrets/station.key)" --role station --name 高埔派出所 \
	--groups '*' --dir xinhua
show cert issue --issuer secrets/station.key --passphrase-file secrets/station.pass \
	--subject secrets/officer.key --role officer --name 王警官 --groups "$GROUP" --dir xinhua
show cert issue --issuer secrets/station.key --passphrase-file secrets/station.pass \
	--subject li.key --role resident --name 李阿姨 --groups "$GROUP" --dir xinhua
show cert issue --issuer secrets/station.key --passphrase-file secrets/station.pass \
	--subject chen.key --role resident --name 陈先生 --groups "$GROUP" --dir xinhua

OFFICER=(--key secrets/officer.key --passphrase-file secrets/officer.pass --dir xinhua --group "$GROUP")

step "5. The officer drafts an anti-fraud bulletin; the first draft still names the victim's phone"
if show post bulletin "${OFFICER[@]}" --category fraud --title "警惕冒充公检法诈骗" \
	--text "11月28日，居民张某（手机13812345678）接到自称公安局的电话，被要求把存款转入\"安全账户\"，损失5万元。"; then
	echo "unexpected: the draft with a phone number was accepted" >&2
	exit 1
fi
echo "(refused, as it should be: the phone number is personal data)"

step "6. The redacted bulletin is signed and stored"
show post bulletin "${OFFICER[@]}" --category fraud --title "警惕冒充公检法诈骗" \
	--text "11月28日，一位居民接到自称公安局的电话，被要求把存款转入\"安全账户\"，损失5万元。公检法机关不会通过电话要求转账。遇到此类诈骗请拨打110。"

step "7. A missing-person alert with a small photo"
# a 1x1 PNG; a real photo would be a small JPEG (at most 48 KiB)
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0bIDATx\xdac`\x00\x02\x00\x00\x05\x00\x01\xe9\xfa\xdc\xd8\x00\x00\x00\x00IEND\xaeB`\x82' > photo.png
ALERT=$(show post alert "${OFFICER[@]}" --headline "寻找走失老人 刘大爷" \
	--text "刘大爷，78岁，身高约1米65，穿蓝色外套，今天下午3点在新华村口走失，有轻度认知障碍。" \
	--area "新华村及周边" --circle 22.5431,114.0579,3000 \
	--instruction "见到请陪同他并联系派出所，不要让他独自离开。" --contact "高埔派出所值班室" \
	--photo photo.png --expires 12h | tail -n 1)
echo "alert id: $ALERT"

step "8. Li asks for help, privately: only the officer (and she) can read it"
OFFICER_PUB=$("$WM" key show secrets/officer.key)
REQ=$(show post request --key li.key --dir xinhua --group "$GROUP" --topic police \
	--text "楼下有陌生人连续三晚撬车门，我不敢出面，请派人看看。" --to "$OFFICER_PUB" | tail -n 1)
echo "request id: $REQ"

step "9. The officer answers and marks the request assigned"
show post reply "${OFFICER[@]}" --reply-to "${REQ:0:8}" --text "收到，今晚安排巡逻，请放心。"
show post status "${OFFICER[@]}" --ref "${REQ:0:8}" --state assigned --note "今晚巡逻组负责"

step "10. Chen saw the missing man: an ack and a lead on the alert"
show post ack --key chen.key --dir xinhua --group "$GROUP" --ref "${ALERT:0:8}" --what helping
show post reply --key chen.key --dir xinhua --group "$GROUP" --ref "${ALERT:0:8}" \
	--text "半小时前在菜市场门口见到一位穿蓝外套的老人。"

step "11. Chen tries to publish an \"official\" bulletin: refused, only officers may"
if show post bulletin --key chen.key --dir xinhua --group "$GROUP" --category notice \
	--title "紧急通知" --text "派出所通知：明天全村停电。"; then
	echo "unexpected: a resident's bulletin was accepted" >&2
	exit 1
fi
echo "(refused, as it should be)"

step "12. The feed, as a resident sees it"
show feed --dir xinhua

step "13. The officer's view of the private request"
show show "${REQ:0:8}" --dir xinhua --key secrets/officer.key --passphrase-file secrets/officer.pass

step "14. Search (Chinese words work, even two characters)"
show search 诈骗 --dir xinhua
show search 走失 --dir xinhua

step "15. A bundle for the next village, on a USB stick"
show export --dir xinhua --out xinhua.wmb

step "16. The independent Python check of every event in the bundle"
if [ -f "$SRC/tests/independent/check_events.py" ]; then
	echo "\$ check_events.py --bundle xinhua.wmb"
	"$PY" "$SRC/tests/independent/check_events.py" --bundle xinhua.wmb
else
	echo "(tests/independent/check_events.py not present; skipped)"
fi

step "17. The next village imports it"
show init dongfeng --network gaobu.network --name dongfeng-village
show import --dir dongfeng xinhua.wmb
show feed --dir dongfeng --kind alert

# --- part two: the mesh ------------------------------------------------------------

PIDS=()
cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ $rc -ne 0 ] && [ -d logs ]; then
		for f in logs/*.log; do
			echo "---- $f" >&2
			tail -n 20 "$f" >&2
		done
	fi
}
trap cleanup EXIT

ms() { echo $(( $(date +%s%N) / 1000000 )); }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for WHAT SECONDS COMMAND...: poll until COMMAND succeeds
wait_for() {
	local what=$1 end=$(( $(date +%s) + $2 ))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "timed out waiting for: $what" >&2
			return 1
		fi
		sleep 0.1
	done
}
# settings for the demo: loopback, no LAN beacons, quick repair
configure() {   # DIR PORT PEERS
	grep -vE '^(listen|peers|beacons|repair_interval|backoff_max|http) *=' "$1/watchmesh.conf" > "$1/conf.tmp"
	printf 'listen = 127.0.0.1:%s\npeers = %s\nbeacons = off\nrepair_interval = 10\nbackoff_max = 2\nhttp = off\n' \
		"$2" "$3" >> "$1/conf.tmp"
	mv "$1/conf.tmp" "$1/watchmesh.conf"
}
start() {       # DIR
	"$WM" run "$1" 2>> "logs/$1.log" &
	PIDS+=($!)
	eval "PID_$1=$!"
	echo "started: watchmesh run $1 (pid $!, log demo/logs/$1.log)"
}
stop() {        # DIR: SIGTERM, and the daemon must exit 0
	local pid rc=0
	pid=$(eval echo "\$PID_$1")
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	if [ $rc -ne 0 ]; then
		echo "watchmesh run $1 exited $rc" >&2
		return 1
	fi
	echo "stopped: $1 (exit 0)"
}
peers_up() {    # DIR N: at least N peers up
	"$WM" status --dir "$1" --json | "$PY" -c 'import json,sys
s=json.load(sys.stdin); sys.exit(0 if sum(p["state"]=="up" for p in s.get("peers",[])) >= int(sys.argv[1]) else 1)' "$2"
}
ids() { "$WM" feed --dir "$1" --json --all --limit 0 | "$PY" -c 'import json,sys
print("\n".join(sorted(e["id"] for e in json.load(sys.stdin))))'; }
same_events() { [ "$(ids station)" = "$(ids xinhua)" ] && [ "$(ids xinhua)" = "$(ids park)" ]; }

step "18. The mesh: the station and a company park set up nodes; with the village, a line"
show init station --network gaobu.network --name gaobu-station
show init park --network gaobu.network --name keji-park
P_STATION=$(free_port); P_VILLAGE=$(free_port); P_PARK=$(free_port)
configure station "$P_STATION" ""
configure xinhua "$P_VILLAGE" "127.0.0.1:$P_STATION"
configure park "$P_PARK" "127.0.0.1:$P_VILLAGE"
echo "station 127.0.0.1:$P_STATION  <-  village 127.0.0.1:$P_VILLAGE  <-  park 127.0.0.1:$P_PARK"
mkdir -p logs
start station
start xinhua
start park
wait_for "the village to have both neighbours up" 30 peers_up xinhua 2
T0=$(ms)
wait_for "repair to bring the village's events to the station and the park" 60 same_events
echo "repair: station and park hold the village's $(ids xinhua | wc -l) events, $(( $(ms) - T0 )) ms after the links came up"

step "19. An alert posted at the station crosses the village to the park"
T0=$(ms)
ALERT2=$(show post alert --key secrets/officer.key --passphrase-file secrets/officer.pass \
	--dir station --group "$GROUP" --headline "暴雨红色预警" --text "今晚有特大暴雨，低洼地带居民请转移。" \
	--area "高埔全区" --expires 6h --category Met --urgency Immediate --severity Extreme | tail -n 1)
T1=$(ms)
wait_for "the alert to reach the park" 30 "$WM" show "$ALERT2" --dir park
T2=$(ms)
echo "alert ${ALERT2:0:16}: signed and stored at the station in $(( T1 - T0 )) ms (passphrase included),"
echo "in the park's store $(( T2 - T1 )) ms later, two hops away"
show status --dir xinhua

step "20. The village goes offline; both sides keep posting"
stop xinhua
B1=$(show post bulletin --key secrets/officer.key --passphrase-file secrets/officer.pass \
	--dir station --group "$GROUP" --category safety --title "夜间巡逻加强" \
	--text "本周起每晚增加两班巡逻。" | tail -n 1)
R1=$(show post request --key li.key --dir park --group "$GROUP" --topic lost-found \
	--text "在园区门口捡到一串钥匙。" | tail -n 1)
echo "posted at the station: ${B1:0:16}; at the park: ${R1:0:16}"

step "21. The village comes back; repair brings all three level"
T0=$(ms)
start xinhua
wait_for "the three nodes to hold the same events" 60 same_events
echo "converged $(( $(ms) - T0 )) ms after the village restarted: $(ids xinhua | wc -l) events on each node"
show feed --dir xinhua --limit 3

step "22. Clean shutdown"
stop park
stop xinhua
stop station

step "Done. Everything is in ./demo; try: $WM feed --dir demo/xinhua --json"

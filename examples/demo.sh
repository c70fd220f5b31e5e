#!/usr/bin/env bash
# watchmesh demo: what `make demo` runs.  Builds a small world in ./demo — a
# network, its root key, a police station, an officer, two residents and a
# village node — then walks through a day: an anti-fraud bulletin, a
# missing-person alert with a photo, a private help request, the officer's
# answer, a refused forgery, the feed, and a bundle for the next village.
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
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc`\x00\x00\x00\x02\x00\x01T\xa2O]\x00\x00\x00\x00IEND\xaeB`\x82' > photo.png
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

step "Done. Everything is in ./demo; try: $WM feed --dir demo/xinhua --json"

/* See mix.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "mix.h"
#include "netfile.h"

int mix_write_network(const char *dir, const struct key *root, char why[WM_WHY_LEN])
{
	struct network nw;
	char path[4096], *net = NULL;
	size_t netlen = 0;
	int rc;

	memset(&nw, 0, sizeof nw);         /* nw.id all zeros, as fx_draft's events carry */
	snprintf(nw.name, sizeof nw.name, "bench");
	memcpy(nw.root, root->pub, WM_PUB_LEN);
	wmc_random(nw.secret, sizeof nw.secret);
	snprintf(path, sizeof path, "%s/bench.network", dir);
	if ((rc = network_encode(&nw, &net, &netlen)) != 0)
		snprintf(why, WM_WHY_LEN, "cannot encode the network file");
	else
		rc = files_write_atomic(path, net, netlen, 0600, 0, why);
	if (net != NULL) {
		wmc_wipe(net, netlen);
		free(net);
	}
	wmc_wipe(nw.secret, sizeof nw.secret);
	return rc;
}

const char *const mix_groups[5] = { "gaobu.xinhua-village", "gaobu.dongfeng", "gaobu.park-3",
                                    "gaobu.station", "gaobu.riverside" };

static const char *const texts[4] = {
	"近期我辖区发生多起冒充客服退款的电信诈骗案件，骗子以商品质量问题为由诱导下载会议软件并共享屏幕。",
	"提醒：公检法机关不会通过电话要求转账到安全账户，遇到此类情况请立即挂断并拨打110。",
	"今晚八点起新华村口道路施工，请绕行东风路，注意安全。",
	"有居民反映停车场有陌生人连续几晚试拉车门，请大家锁好车辆，发现可疑情况及时报警。",
};

int mix_draft(struct event_draft *d, unsigned r, size_t i, unsigned text, const uint8_t *ref,
              char title[64])
{
	switch (r) {
	case 0: case 1:
		d->kind = KIND_BULLETIN;
		snprintf(title, 64, "反诈提醒 第%zu期", i);
		draft_str(d, "title", title);
		draft_str(d, "text", texts[text % 4]);
		draft_str(d, "category", "fraud");
		return 1;
	case 2: case 3: case 4: case 5: case 6:
		d->kind = KIND_REQUEST;
		draft_str(d, "topic", "police");
		draft_str(d, "text", texts[3]);
		return 0;
	case 7: case 8:
		d->kind = KIND_REPLY;
		d->nrefs = 1;
		memcpy(d->refs[0], ref, WM_ID_LEN);
		draft_str(d, "text", "收到，已通知巡逻组，谢谢提供线索。");
		return 0;
	default:
		d->kind = KIND_ACK;
		d->nrefs = 1;
		memcpy(d->refs[0], ref, WM_ID_LEN);
		draft_str(d, "what", "seen");
		return 0;
	}
}

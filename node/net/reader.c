/*
 * node/net/reader: cutting a link's bytes into handshake messages, the
 * stream header and frames (reader.h).  A frame's body is copied only when
 * it spans reads.
 */
#include <stdlib.h>
#include <string.h>

#include "reader.h"

void reader_init(struct reader *r, size_t want)
{
	memset(r, 0, sizeof *r);
	r->state = READER_IN_HANDSHAKE;
	r->want = want;
}

void reader_expect(struct reader *r, size_t want)
{
	r->state = want > 0 ? READER_IN_HANDSHAKE : READER_IN_HEADER;
	r->want = want > 0 ? want : CHAN_HEADER_LEN;
	r->have = 0;
}

void reader_clear(struct reader *r)
{
	free(r->body);
	r->body = NULL;
}

/* Copy into dst (holding *have of want) what *p has; 1 once full. */
static int reader_fill(uint8_t *dst, size_t *have, size_t want, const uint8_t **p, size_t *n)
{
	size_t take = want - *have;

	if (take > *n)
		take = *n;
	memcpy(dst + *have, *p, take);
	*have += take;
	*p += take;
	*n -= take;
	return *have == want;
}

int reader_take(struct reader *r, const uint8_t **p, size_t *n, const uint8_t **ct, size_t *ctlen,
                char why[WM_WHY_LEN])
{
	int rc;

	if (r->state != READER_IN_BODY)
		reader_clear(r);   /* the last frame's body, handed out by the previous call */
	while (*n > 0) {
		switch (r->state) {
		case READER_IN_HANDSHAKE:
			if (!reader_fill(r->small, &r->have, r->want, p, n))
				break;
			return READER_MESSAGE;
		case READER_IN_HEADER:
			if (!reader_fill(r->small, &r->have, r->want, p, n))
				break;
			r->state = READER_IN_PREFIX;
			r->have = 0;
			return READER_HEADER;
		case READER_IN_PREFIX:
			if (!reader_fill(r->prefix, &r->have, CHAN_PREFIX_LEN, p, n))
				break;
			r->have = 0;
			rc = chan_frame_len(r->prefix, &r->body_want, why);
			if (rc != 0)
				return rc;
			if (*n >= r->body_want) {
				/* the whole frame is here: no copy */
				*ct = *p;
				*ctlen = r->body_want;
				*p += r->body_want;
				*n -= r->body_want;
				return READER_FRAME;
			}
			r->body = malloc(r->body_want);
			if (r->body == NULL) {
				wm_why(why, "out of memory for a frame");
				return WM_ENOMEM;
			}
			r->body_have = 0;
			r->state = READER_IN_BODY;
			break;
		case READER_IN_BODY:
			if (!reader_fill(r->body, &r->body_have, r->body_want, p, n))
				break;
			r->state = READER_IN_PREFIX;
			*ct = r->body;
			*ctlen = r->body_want;
			/* r->body is freed at the next call */
			return READER_FRAME;
		}
	}
	return READER_MORE;
}

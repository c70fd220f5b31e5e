/*
 * node/daemon/verify.c: the signature checks of fetched events on libuv's
 * thread pool, frames handed to the mesh in arrival order (verify.h).
 * A worker touches only its own frame: it reads the bytes and writes the
 * decoded event; the loop reads that event only after the after-work
 * callback, which libuv runs on the loop.
 */
#include "verify.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "frame.h"

struct vframe {
	struct vframe *next;
	struct vq *q;
	uv_work_t work;
	uint32_t peer;
	int pending;                 /* with a worker */
	int is_event;                /* an EVENT frame: push and the event's bytes below */
	int push;
	size_t ev_off, ev_len;       /* the event's bytes inside the frame */
	int peeked;                  /* pk is the worker's peek of those bytes, with the id */
	struct event_peek pk;
	struct event *ev;            /* decoded and verified by the worker, or NULL */
	size_t len;
	uint8_t bytes[];             /* the frame */
};

struct vq {
	uv_loop_t *loop;
	vq_deliver_fn deliver;
	void *ctx;
	struct vframe *head, *tail;  /* waiting, in arrival order */
	struct vframe *current;      /* being delivered */
	size_t inflight, waiting;
	int closing;
};

int vq_new(uv_loop_t *loop, vq_deliver_fn deliver, void *ctx, struct vq **out)
{
	struct vq *q = calloc(1, sizeof *q);

	if (q == NULL)
		return WM_ENOMEM;
	q->loop = loop;
	q->deliver = deliver;
	q->ctx = ctx;
	*out = q;
	return 0;
}

static void frame_free(struct vframe *f)
{
	event_free(f->ev);
	free(f);
}

static void deliver(struct vq *q, struct vframe *f)
{
	struct vq_event ev = { f->push, f->bytes + f->ev_off, f->ev_len };

	q->current = f;
	q->deliver(q->ctx, f->peer, f->bytes, f->len, f->is_event ? &ev : NULL);
	q->current = NULL;
}

/* Deliver the frames at the head that no worker holds. */
static void pump(struct vq *q)
{
	struct vframe *f;

	while (!q->closing && (f = q->head) != NULL && !f->pending) {
		if ((q->head = f->next) == NULL)
			q->tail = NULL;
		q->waiting--;
		deliver(q, f);
		frame_free(f);
	}
}

static void work_cb(uv_work_t *w)
{
	struct vframe *f = w->data;
	struct event *ev;
	char why[WM_WHY_LEN];

	if (event_peek(f->bytes + f->ev_off, f->ev_len, 0, &f->pk, NULL) != 0)
		return;
	f->peeked = 1;
	if (event_decode_peeked(&f->pk, &ev, why) == 0)
		f->ev = ev;
}

static void after_work_cb(uv_work_t *w, int status)
{
	struct vframe *f = w->data;
	struct vq *q = f->q;

	(void)status;                /* cancelled: delivered unchecked, ingest checks it */
	f->pending = 0;
	q->inflight--;
	if (q->closing) {
		frame_free(f);           /* vq_close left it to us */
		if (q->inflight == 0)
			free(q);
		return;
	}
	pump(q);
}

void vq_frame(struct vq *q, uint32_t peer, const uint8_t *frame, size_t len)
{
	struct vframe *f;
	struct frame fr;
	struct vq_event ev = { 0, NULL, 0 };
	int is_event, check;

	if (q == NULL || q->closing)
		return;
	/* The one decode of an EVENT frame (a frame of another type is
	 * decoded again by mesh_receive): deliver hands over the event's
	 * place in the frame. */
	is_event = frame_decode(frame, len, &fr, NULL) == 0 && fr.type == FRAME_EVENT;
	if (is_event) {
		ev.push = fr.event.push;
		ev.wire = fr.event.wire;
		ev.len = fr.event.len;
	}
	check = is_event && !ev.push && q->inflight < VQ_MAX_INFLIGHT;
	if (!check && q->head == NULL) {
		/* nothing to take: vq_take says NULL */
		q->deliver(q->ctx, peer, frame, len, is_event ? &ev : NULL);
		return;
	}
	if ((f = malloc(sizeof *f + len)) == NULL)
		return;                  /* like a frame lost on the way: the mesh asks again */
	memset(f, 0, sizeof *f);
	f->q = q;
	f->peer = peer;
	f->len = len;
	memcpy(f->bytes, frame, len);
	if (is_event) {
		f->is_event = 1;
		f->push = ev.push;
		f->ev_off = (size_t)(ev.wire - frame);
		f->ev_len = ev.len;
	}
	if (check) {
		f->work.data = f;
		f->pending = 1;
		q->inflight++;
		if (uv_queue_work(q->loop, &f->work, work_cb, after_work_cb) != 0) {
			f->pending = 0;
			q->inflight--;
		}
	}
	if (q->tail != NULL)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	q->waiting++;
	pump(q);
}

struct event *vq_take(struct vq *q, const uint8_t id[WM_ID_LEN])
{
	struct event *ev;

	if (q == NULL || q->current == NULL || (ev = q->current->ev) == NULL ||
	    memcmp(ev->id, id, WM_ID_LEN) != 0)
		return NULL;
	q->current->ev = NULL;
	return ev;
}

int vq_peeked(const struct vq *q, const uint8_t *wire, size_t len, struct event_peek *out)
{
	const struct vframe *f;

	if (q == NULL || (f = q->current) == NULL || !f->peeked || f->pk.wire != wire ||
	    f->pk.wire_len != len)
		return 0;
	*out = f->pk;
	return 1;
}

size_t vq_inflight(const struct vq *q)
{
	return q ? q->inflight : 0;
}

size_t vq_waiting(const struct vq *q)
{
	return q ? q->waiting : 0;
}

void vq_close(struct vq *q)
{
	struct vframe *f, *next;

	if (q == NULL || q->closing)
		return;
	q->closing = 1;
	for (f = q->head; f != NULL; f = next) {
		next = f->next;
		if (!f->pending)
			frame_free(f);   /* the pending ones: after_work_cb */
	}
	q->head = q->tail = NULL;
	q->waiting = 0;
	if (q->inflight == 0)
		free(q);
}

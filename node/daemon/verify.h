/*
 * node/daemon/verify: the events peers send on request (EVENT push=0: what
 * repair and the mesh fetched, the bulk of a catch-up) are decoded and their
 * signatures checked on libuv's thread pool, so that a node catching up uses
 * every core; the store is still written on the loop, in the loop turn's
 * one transaction (local.h).
 *
 *   q = vq_new(loop, deliver, ctx)     once
 *   vq_frame(q, peer, frame, len)      each frame a peer sends, instead of
 *                                      mesh_receive: deliver() gets it later,
 *                                      on the loop, decoded once (an EVENT's
 *                                      bytes for mesh_receive_event)
 *   vq_take(q, id)                     from inside deliver (ingest_ctx.verified):
 *                                      the event of the frame being delivered,
 *                                      decoded and verified, if it has this id
 *   vq_peeked(q, wire, len, &pk)       from inside deliver (mesh_io.peeked): the
 *                                      worker's peek of the event at wire, with
 *                                      its id, so that the mesh does not hash
 *                                      it again
 *   vq_close(q)                        frames not delivered yet are dropped
 *
 * Order: deliver() sees the frames in the order they arrived, of all peers
 * together; a frame waits while one before it is with a worker.  Only
 * push=0 events go to the pool: the mesh asked for those, so they are
 * almost never held already.  Live pushes (often duplicates, rate-limited
 * before any check) stay on the loop, where a duplicate costs one lookup,
 * not a signature check.  At most VQ_MAX_INFLIGHT frames are with the
 * workers (more wait, checked on the loop when their turn comes): a peer
 * sending events nobody asked for costs at most that many checks before the
 * mesh disconnects it.  An event whose check fails is delivered all the
 * same, and ingest checks it again on the loop to say why.
 */
#ifndef WM_DAEMON_VERIFY_H
#define WM_DAEMON_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "event.h"

#define VQ_MAX_INFLIGHT 512

struct vq;

/* What the queue decoded of an EVENT frame: the event's bytes inside the
 * frame being delivered, so that the mesh need not decode the frame again
 * (mesh_receive_event). */
struct vq_event {
	int push;                    /* the frame's push flag */
	const uint8_t *wire;         /* inside the frame, valid until deliver returns */
	size_t len;
};

/* One frame for the mesh, on the loop, in arrival order; ev is set when
 * the frame is an EVENT frame that decoded, else NULL. */
typedef void (*vq_deliver_fn)(void *ctx, uint32_t peer, const uint8_t *frame, size_t len,
                              const struct vq_event *ev);

/* 0 and *out, or WM_ENOMEM.  The loop must outlive q. */
int vq_new(uv_loop_t *loop, vq_deliver_fn deliver, void *ctx, struct vq **out);

/* Takes a copy of frame when it has to wait; delivers it at once when
 * nothing is waiting and it needs no worker. */
void vq_frame(struct vq *q, uint32_t peer, const uint8_t *frame, size_t len);

/* Inside deliver: the verified event of the frame being delivered, if its
 * id is `id`; the caller frees it (event_free).  Else NULL.  Its bytes stay
 * valid until deliver returns. */
struct event *vq_take(struct vq *q, const uint8_t id[WM_ID_LEN]);

/* Inside deliver: 1 and *out, the worker's peek (with the id) of the
 * event of the frame being delivered, if that event is the len bytes at
 * wire of that very frame; else 0 (no worker peeked it, or other bytes).
 * *out points into the frame, valid until deliver returns. */
int vq_peeked(const struct vq *q, const uint8_t *wire, size_t len, struct event_peek *out);

/* Frames with a worker, frames waiting (for tests and status). */
size_t vq_inflight(const struct vq *q);
size_t vq_waiting(const struct vq *q);

/* Drops what waits; q is freed once its workers are done (the loop must
 * run until then).  NULL is fine. */
void vq_close(struct vq *q);

#endif

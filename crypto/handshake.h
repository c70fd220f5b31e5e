/*
 * crypto/handshake: the mesh link's cryptography, with no I/O.
 *
 *  - struct hs is the handshake as a state machine: feed it the peer's
 *    messages, send what it gives back.  Four messages of fixed size, each
 *    starting with the version byte:
 *
 *        1  initiator -> responder   version, ephemeral X25519, masked time, MAC   73
 *        2  responder -> initiator   version, ephemeral X25519, MAC                65
 *        3  initiator -> responder   version, AEAD{ node key, signature }          113
 *        4  responder -> initiator   version, AEAD{ node key, signature }          113
 *
 *    Only holders of the network secret get past message 1 or 2 (a responder
 *    that cannot verify message 1 answers nothing), identities travel
 *    encrypted, both sides sign the transcript, and the session keys come
 *    from the ephemeral keys (forward secrecy).  Message 1 carries the
 *    initiator's clock under the MAC: a responder answers it only within
 *    HS_WINDOW_MS of its own clock and only once (the replay cache below),
 *    and only if it was made for this responder's key or for any member.
 *    proto/PROTOCOL.md §12 has the exact construction.
 *
 *  - struct chan is the encrypted link that follows: in each direction a
 *    crypto_secretstream_xchacha20poly1305 stream (its 24-byte header first),
 *    then frames of   length (4 bytes, big-endian, of the ciphertext) ||
 *    ciphertext, at most CHAN_FRAME_MAX bytes of plaintext each.
 *
 * Everything that arrives from a peer is judged here with a reason in `why`;
 * nothing crashes on bytes.  Secrets live in sodium_malloc'd memory and are
 * wiped when freed.
 */
#ifndef WM_HANDSHAKE_H
#define WM_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "wmcrypto.h"

#define HS_VERSION  2
#define HS_MSG1_LEN 73
#define HS_MSG2_LEN 65
#define HS_MSG3_LEN 113
#define HS_MSG4_LEN 113
#define HS_MSG_MAX  113

/* How far message 1's time may be from the responder's clock, either way:
 * the honest skew tolerated, as for an event's created_at. */
#define HS_WINDOW_MS (10u * 60u * 1000u)

/* Frames: plaintext at most 1 MiB; on the wire 4 + plaintext + 17 bytes. */
#define CHAN_FRAME_MAX   (1024u * 1024u)
#define CHAN_HEADER_LEN  24
#define CHAN_PREFIX_LEN  4
#define CHAN_ABYTES      17
#define CHAN_WIRE_MAX    (CHAN_PREFIX_LEN + CHAN_FRAME_MAX + CHAN_ABYTES)
#define CHAN_REASON_MAX  200   /* a closing frame's reason text */

/* --- guarded secrets -------------------------------------------------------------- */

/* A copy of len secret bytes (the network secret, say) in sodium_malloc'd
 * memory for code outside crypto/ that must keep it; NULL if out of memory.
 * hs_secret_free wipes and frees it (NULL ok). */
uint8_t *hs_secret_dup(const uint8_t *src, size_t len);
void hs_secret_free(uint8_t *p);

/* --- replay cache --------------------------------------------------------------- */

/* The responder remembers each message 1 it has answered until that message
 * leaves the window (its time + HS_WINDOW_MS, by the responder's clock), so a
 * recorded message 1 replayed later gets no answer at all.  Only messages
 * whose MAC verified are recorded, so outsiders cannot flush it; when full,
 * the oldest record goes (only members, who hold the secret, can fill it).
 * It does no I/O: to survive a restart its records are saved and loaded as
 * bytes, HS_REPLAY_REC_LEN each (node/net/transport keeps them in a file). */
#define HS_REPLAY_REC_LEN 24   /* tag (16) || until, ms since the epoch (8, big-endian) */
struct hs_replay;
int hs_replay_new(size_t capacity, struct hs_replay **out);   /* capacity >= 1 */
void hs_replay_free(struct hs_replay *r);                      /* NULL ok */
/* Adds the records in bytes (a saved file's content) that are still valid at
 * now_ms; a trailing partial record (a write cut short) is ignored.  Returns
 * how many were added. */
size_t hs_replay_load(struct hs_replay *r, const uint8_t *bytes, size_t len, uint64_t now_ms);
/* The records still valid at now_ms into out (room for cap bytes; capacity x
 * HS_REPLAY_REC_LEN is always enough).  Returns the bytes written. */
size_t hs_replay_save(const struct hs_replay *r, uint8_t *out, size_t cap, uint64_t now_ms);

/* --- handshake ------------------------------------------------------------------ */

struct hs_params {
	const struct key *self;        /* this node's key; must hold the secret half */
	const uint8_t *netsec;         /* the network secret, WM_SECRET_LEN bytes */
	const uint8_t *expected_pub;   /* the peer's node key, or NULL to accept any; an
	                                * initiator's message 1 is then good for that key only */
	struct hs_replay *replay;      /* responder only, optional; not owned */
	uint64_t now_ms;               /* wall clock, ms since the epoch: the time an initiator
	                                * puts in message 1, the time a responder judges it by */
	const uint8_t *aliases;        /* responder, optional: naliases keys (32 bytes each) this
	                                * node held before a rotation; a message 1 made for one
	                                * is answered too (hs_alias says so) */
	size_t naliases;
	int follow;                    /* initiator: expected_pub addresses message 1 but the
	                                * peer may prove another key (it rotated); the caller
	                                * compares hs_remote_pub and decides */
};

/* A new handshake; initiator=1 for the side that opened the connection.
 * The parameters are copied (self's secret into guarded memory); replay must
 * outlive the handshake.  Free with hs_free (wipes). */
struct hs;
int hs_new(int initiator, const struct hs_params *p, struct hs **out);
void hs_free(struct hs *hs);

/* Initiator, once, first: message 1 into out (*outlen = HS_MSG1_LEN). */
int hs_start(struct hs *hs, uint8_t out[HS_MSG_MAX], size_t *outlen);

/* Responder, after message 1 was accepted: the replay cache's record of it
 * (to be saved; see hs_replay_save).  WM_EPROTO before that. */
int hs_replay_record(const struct hs *hs, uint8_t rec[HS_REPLAY_REC_LEN]);

/* How many bytes the next hs_recv expects: the fixed size of the peer's next
 * message; 0 when done or failed (or, for the initiator, before hs_start). */
size_t hs_want(const struct hs *hs);

/* Feed the peer's next message, exactly hs_want() bytes.  On success *outlen
 * bytes (maybe 0) in out are to be sent to the peer.  On failure why says
 * what went wrong in words fit for a log line, and the handshake is dead:
 *   WM_ETRUNCATED  wrong length
 *   WM_EVERSION    the peer speaks another handshake version
 *   WM_ECRYPTO     a MAC, decryption or signature did not verify (wrong
 *                  network secret, garbled or replayed message)
 *   WM_EREJECTED   the peer's key is not the expected one, or is our own
 *   WM_EPROTO      called out of turn
 * When the call completes the handshake, hs_remote_pub() is the peer's
 * verified key; a responder that means to refuse that key may simply not
 * send message 4 (node/net/transport sends it and then a closing frame that
 * says why). */
int hs_recv(struct hs *hs, const uint8_t *msg, size_t len, uint8_t out[HS_MSG_MAX],
            size_t *outlen, char why[WM_WHY_LEN]);

/* 1 once the handshake has completed (the initiator after message 4, the
 * responder after message 3), else 0. */
int hs_done(const struct hs *hs);

/* Responder: 1 if message 1 was made for one of the aliases (the peer
 * pinned a key this node rotated away from), else 0. */
int hs_alias(const struct hs *hs);

/* The peer's verified node key: valid once hs_done(); NULL before. */
const uint8_t *hs_remote_pub(const struct hs *hs);

/* --- encrypted channel ------------------------------------------------------------ */

/* The link after a completed handshake.  chan_new also starts our sending
 * stream: send `header` (CHAN_HEADER_LEN bytes) before any frame.  The
 * handshake may be freed afterwards.  Free with chan_free (wipes). */
struct chan;
int chan_new(const struct hs *hs, struct chan **out, uint8_t header[CHAN_HEADER_LEN]);
void chan_free(struct chan *c);

/* The peer's stream header, the first CHAN_HEADER_LEN bytes it sends after
 * the handshake.  Once, before chan_open.  WM_ECRYPTO on a bad header. */
int chan_set_rx_header(struct chan *c, const uint8_t header[CHAN_HEADER_LEN], char why[WM_WHY_LEN]);

/* Encrypt one frame: out receives prefix || ciphertext, chan_wire_len(len)
 * bytes (outcap must be at least that).  final=1 marks the last frame we
 * send (a closing frame); the channel then refuses to seal more.
 * WM_ETOOBIG if len > CHAN_FRAME_MAX; WM_EPROTO after a final frame. */
size_t chan_wire_len(size_t plainlen);
int chan_seal(struct chan *c, const uint8_t *plain, size_t len, int final,
              uint8_t *out, size_t outcap, size_t *outlen);

/* Judge a received 4-byte prefix before reading (or allocating) the rest:
 * *ctlen is the ciphertext length that follows.  WM_ETOOBIG if it announces
 * more than CHAN_FRAME_MAX bytes of plaintext, WM_EPROTO if less than a
 * ciphertext can be.  Nothing is allocated. */
int chan_frame_len(const uint8_t prefix[CHAN_PREFIX_LEN], size_t *ctlen, char why[WM_WHY_LEN]);

/* Decrypt the ciphertext that followed `prefix`.  plain must hold
 * ctlen - CHAN_ABYTES bytes; *final is 1 for a closing frame (the peer sends
 * nothing after it).  WM_ECRYPTO for a modified, reordered, replayed or
 * truncated frame; the channel is dead after any failure. */
int chan_open(struct chan *c, const uint8_t prefix[CHAN_PREFIX_LEN], const uint8_t *ct,
              size_t ctlen, uint8_t *plain, size_t *plainlen, int *final, char why[WM_WHY_LEN]);

#endif

#!/usr/bin/python3
"""
An independent implementation of proto/PROTOCOL.md §12 (PyNaCl, no watchmesh
code) talking to a real transport: `test_transport serve` listens and echoes
frames.  If the document and the C code disagree on any byte, this fails.

    check_wire.py TEST_TRANSPORT_EXE

Checks: a full handshake as initiator (message sizes, masked time, MACs for
any member and for the responder's key, signatures, the responder's key),
frames both ways (small, empty keepalive, 1 MiB, and the limit refused), a
clock 9 minutes ahead (accepted), and silence, then a close after a
randomised delay, for a wrong network secret, a replayed first message, one
dated 11 minutes ago and one made for another node; a closing frame with a
reason (the server logs it), and a clean exit of the server (no handles left).
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import nacl.bindings as nb
import nacl.hash
import nacl.signing
from nacl.encoding import RawEncoder

V = b"\x02"
WINDOW_MS = 10 * 60 * 1000
NET1 = bytes([0x5E, 0xC1]) + bytes(30)
NET2 = bytes([0x5E, 0xC2]) + bytes(30)
SERVER_SEED = bytes([0x5A]) * 32
FRAME_MAX = 1024 * 1024
ABYTES = nb.crypto_secretstream_xchacha20poly1305_ABYTES
TAG_MESSAGE = nb.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def H(data, key=b"", size=32):
    return nacl.hash.blake2b(data, digest_size=size, key=key, encoder=RawEncoder)


def aead_enc(key, ad, plain):
    return nb.crypto_aead_chacha20poly1305_ietf_encrypt(plain, ad, bytes(12), key)


def aead_dec(key, ad, ct):
    return nb.crypto_aead_chacha20poly1305_ietf_decrypt(ct, ad, bytes(12), key)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_all_until_close(s):
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return buf
        buf += chunk


class Session:
    """The initiator's side of one connection, straight from the document."""

    def __init__(self, port, netsec, seed, server_pub=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.t0 = time.monotonic()
        self.netsec = netsec
        self.sk = nacl.signing.SigningKey(seed)
        self.pub = bytes(self.sk.verify_key)
        self.server_pub = server_pub
        self.e_pub, self.e_sec = nb.crypto_box_keypair()

    def msg1(self, skew_ms=0, to=None):
        """Message 1 dated now + skew_ms, made for the key `to` (default: the
        expected responder's key if known, else any member)."""
        mk = H(b"watchmesh hs2 mac", key=self.netsec)
        t = int(time.time() * 1000) + skew_ms
        mask = H(b"watchmesh hs2 time" + self.e_pub, key=mk)[:8]
        t_enc = bytes(a ^ b for a, b in zip(struct.pack(">Q", t), mask))
        to = to if to is not None else (self.server_pub or bytes(32))
        m1 = V + self.e_pub + t_enc
        m1 += H(m1 + to, key=mk)
        assert len(m1) == 73
        self.mk = mk
        self.m1 = m1
        self.h = H(H(b"watchmesh handshake 2") + m1)
        return m1

    def handshake(self, m1=None):
        m1 = m1 if m1 is not None else self.msg1()
        self.s.sendall(m1)
        m2 = recv_exact(self.s, 65)
        assert m2[0:1] == V, "message 2 version"
        E_R = m2[1:33]
        assert m2[33:] == H(V + E_R + self.h, key=self.mk), "message 2 MAC"
        h2 = H(self.h + m2)
        ee = nb.crypto_scalarmult(self.e_sec, E_R)
        k = H(b"watchmesh hs2 auth" + ee + h2, key=self.netsec, size=64)
        k3, k4 = k[:32], k[32:]
        sig_i = self.sk.sign(b"watchmesh hs2 initiator" + h2 + self.pub).signature
        m3 = V + aead_enc(k3, V + h2, self.pub + sig_i)
        assert len(m3) == 113
        self.m3 = m3
        self.s.sendall(m3)
        h3 = H(h2 + m3)
        m4 = recv_exact(self.s, 113)
        assert m4[0:1] == V, "message 4 version"
        plain = aead_dec(k4, V + h3, m4[1:])
        A_R, sig_r = plain[:32], plain[32:]
        nacl.signing.VerifyKey(A_R).verify(b"watchmesh hs2 responder" + h3 + self.pub + A_R, sig_r)
        if self.server_pub is not None:
            assert A_R == self.server_pub, "responder key"
        self.remote = A_R
        h4 = H(h3 + m4)
        sk = H(b"watchmesh hs2 session" + ee + h4, key=self.netsec, size=64)
        k_ir, k_ri = sk[:32], sk[32:]
        # streams: theirs first arrives right after message 4
        header_in = recv_exact(self.s, 24)
        self.rx = nb.crypto_secretstream_xchacha20poly1305_state()
        nb.crypto_secretstream_xchacha20poly1305_init_pull(self.rx, header_in, k_ri)
        self.tx = nb.crypto_secretstream_xchacha20poly1305_state()
        header_out = nb.crypto_secretstream_xchacha20poly1305_init_push(self.tx, k_ir)
        self.s.sendall(header_out)

    def frame(self, plain, tag=TAG_MESSAGE):
        prefix = struct.pack(">I", len(plain) + ABYTES)
        return prefix + nb.crypto_secretstream_xchacha20poly1305_push(self.tx, plain, prefix, tag)

    def send(self, plain, tag=TAG_MESSAGE):
        self.s.sendall(self.frame(plain, tag))

    def recv(self):
        prefix = recv_exact(self.s, 4)
        (n,) = struct.unpack(">I", prefix)
        assert ABYTES <= n <= FRAME_MAX + ABYTES, "frame length %d" % n
        ct = recv_exact(self.s, n)
        plain, tag = nb.crypto_secretstream_xchacha20poly1305_pull(self.rx, ct, prefix)
        return plain, tag

    def close(self):
        self.s.close()


def main():
    exe = sys.argv[1]
    proc = subprocess.Popen([exe, "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode().split()
        assert line[0] == "port" and line[2] == "pub", line
        port, server_pub = int(line[1]), bytes.fromhex(line[3])
        assert server_pub == bytes(nacl.signing.SigningKey(SERVER_SEED).verify_key)

        # 1. a good session: echoes, keepalive, 1 MiB
        s1 = Session(port, NET1, bytes([0x31]) * 32, server_pub)
        s1.handshake()
        s1.send(b"hello wire")
        assert s1.recv() == (b"hello wire", TAG_MESSAGE)
        s1.send(b"")                       # keepalive: not echoed
        s1.send(b"two")
        assert s1.recv() == (b"two", TAG_MESSAGE)
        big = os.urandom(FRAME_MAX)
        s1.send(big)
        assert s1.recv() == (big, TAG_MESSAGE)
        print("ok: handshake, frames, keepalive, 1 MiB")

        # 2. the limit: a frame announcing one byte too many closes the link,
        #    after a closing frame that says why
        s1.s.sendall(struct.pack(">I", FRAME_MAX + ABYTES + 1))
        plain, tag = s1.recv()
        assert tag == TAG_FINAL and plain.startswith(b"frame too large"), (plain, tag)
        assert recv_all_until_close(s1.s) == b""
        s1.close()
        print("ok: oversize frame refused with a closing frame")

        # 3. probes, all at once: another network's secret, session 1's
        #    first message replayed, one dated 11 minutes ago, one made for
        #    another node.  Not one byte back, and an orderly close after a
        #    randomised delay: not at once, not all at one instant.
        probes = []
        s2 = Session(port, NET2, bytes([0x32]) * 32)
        probes.append(("wrong network secret", s2, s2.msg1()))
        s3 = Session(port, NET1, bytes([0x31]) * 32)
        probes.append(("replayed message 1", s3, s1.m1))
        s6 = Session(port, NET1, bytes([0x36]) * 32)
        probes.append(("message 1 of 11 min ago", s6, s6.msg1(skew_ms=-WINDOW_MS - 60000)))
        s7 = Session(port, NET1, bytes([0x37]) * 32)
        probes.append(("message 1 for another node", s7, s7.msg1(to=bytes([0x77]) * 32)))
        ends = {}

        def wait_close(what, sess):
            ends[what] = (recv_all_until_close(sess.s), time.monotonic() - sess.t0)

        readers = []
        for what, sess, m in probes:
            sess.s.sendall(m)
            readers.append(threading.Thread(target=wait_close, args=(what, sess)))
            readers[-1].start()
        closed = []
        for (what, sess, _), th in zip(probes, readers):
            th.join(30)
            got, secs = ends[what]
            assert got == b"", what
            closed.append(secs)
            sess.close()
            print("ok: %s gets silence, closed after %.2f s" % (what, secs))
        assert min(closed) >= 4.5, "a probe was closed at once: %r" % closed
        assert max(closed) - min(closed) >= 0.2, "probes closed at one instant: %r" % closed

        # 4. an initiator whose clock is 9 minutes ahead, and one that does
        #    not know the responder's key: both welcome
        s8 = Session(port, NET1, bytes([0x38]) * 32)
        s8.handshake(s8.msg1(skew_ms=9 * 60000, to=bytes(32)))
        s8.send(b"skewed")
        assert s8.recv() == (b"skewed", TAG_MESSAGE)
        s8.close()
        print("ok: a clock 9 min ahead, message 1 for any member")

        # 5. a closing frame with a reason
        s4 = Session(port, NET1, bytes([0x34]) * 32, server_pub)
        s4.handshake()
        s4.send(b"bye from python", TAG_FINAL)
        assert recv_all_until_close(s4.s) == b""
        s4.close()

        # 6. quit
        s5 = Session(port, NET1, bytes([0x35]) * 32, server_pub)
        s5.handshake()
        s5.send(b"quit")
        rc = proc.wait(timeout=20)
        err = proc.stderr.read().decode()
        sys.stderr.write(err)
        assert rc == 0, "serve exited with %d" % rc
        for want in ("network secret does not match", "message 1 is a replay",
                     "behind our clock", "made for another node",
                     "frame too large", "the peer closed the connection: bye from python"):
            assert want in err, "server log lacks: " + want
        print("ok: closing frame logged, clean exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

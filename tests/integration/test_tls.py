#!/usr/bin/python3
"""
Integration tests of the network's TLS authority (issue 9, item 3), each run
as its own meson test:  test_tls.py WATCHMESH TEST [SOURCE_ROOT]

The TLS client is Debian's python3 `ssl` (OpenSSL, which enforces X.509
name constraints) trusting only the authority's certificate; the server is a
tiny python `ssl` server on 127.0.0.1 with the pair under test.  Forged
certificates are made with python3-cryptography, signed with the
authority's real key: what a thief of that key, or a careless station,
could make, bypassing `tls issue`'s own refusal.

  verify       a certificate from `tls issue` (its defaults, and named ones)
               verifies against the authority alone, at 127.0.0.1 and by
               name; a name it does not hold does not (the client checks)
  constraints  certificates signed by the authority's key for another site
               (bank.example.com, a LAN name as a prefix of a public one,
               a public address) are refused by that client, while one for
               a LAN name made the same way passes
  refusals     `tls issue` refuses a name or address outside the constraints
               naming the constraint, and a wrong passphrase, writing
               nothing; `--tls-names` with a public top-level domain refused;
               an authority for a real domain certifies under it only
  cakey        the authority's key is encrypted (PBES2, AES-256) and opens
               only with the root key's passphrase; modes 0600 / 0644
  show         `tls show` prints the names and the authority's fingerprint,
               checks the pair as the node does, and a real domain's chain
               (RSA, through an intermediate) loads with no /ca.crt to serve
  daemon       a real `watchmesh run` serves HTTPS with the certificate from
               `tls issue`: the client that trusts only the authority gets
               /api/v1/status, by address and by name
"""
import datetime
import hashlib
import ipaddress
import os
import socket
import ssl
import stat
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmtest  # noqa: E402
from wmtest import check  # noqa: E402
from test_mesh import Daemon, free_port, run_cases, wait_until  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

PASS = b"correct horse battery staple"       # wmtest.Env's passphrase file


def setup(env, tls_names=None):
    extra = ["--tls-names", tls_names] if tls_names else []
    env.run("network", "create", "--name", "testnet", "--out", "net", "--passphrase-file", env.passfile,
            *extra)
    env.run("init", "village", "--network", "net")


def issue(env, *args, rc=0):
    return env.run("tls", "issue", "--ca", "net.tls-ca.crt", "--ca-key", "net.tls-ca.key",
                   "--dir", "village", "--passphrase-file", env.passfile, *args, rc=rc)


def serve_once(crt, key):
    """A TLS server on 127.0.0.1 with this pair, for one connection."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(30)

    def run():
        try:
            conn, _ = sock.accept()
            with ctx.wrap_socket(conn, server_side=True) as s:
                s.sendall(b"watchmesh")
        except (ssl.SSLError, OSError):
            pass                    # the client refused the certificate
        finally:
            sock.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return sock.getsockname()[1], t


def handshake(env, crt, key, name):
    """Connect trusting only the authority and checking `name`: None when
    the server is accepted, else OpenSSL's verification message."""
    port, t = serve_once(env.path(crt), env.path(key))
    ctx = ssl.create_default_context(cafile=env.path("net.tls-ca.crt"))
    check(len(ctx.get_ca_certs()) == 1, "the client should trust the authority alone")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                data = s.recv(16)
                return None if data == b"watchmesh" else "server sent %r" % data
    except ssl.SSLCertVerificationError as e:
        return e.verify_message or str(e)
    finally:
        t.join(30)


def forge(env, out, names=(), addrs=(), cn=None):
    """A server certificate signed with the authority's real key, for any
    names and addresses (none: no subjectAltName, the name only in the
    subject's CN), written as out.crt (then the authority's) and out.key."""
    with open(env.path("net.tls-ca.crt"), "rb") as f:
        ca_pem = f.read()
    ca = x509.load_pem_x509_certificate(ca_pem)
    with open(env.path("net.tls-ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), PASS)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.utcnow()
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addrs]
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                     cn or (names[0] if names else "watchmesh node"))]))
         .issuer_name(ca.subject).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                        critical=False))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    with open(env.path(out + ".crt"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    with open(env.path(out + ".key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return out + ".crt", out + ".key"


NODE = ("village/tls/node.crt", "village/tls/node.key")


def t_verify(env):
    setup(env)
    # the defaults: this host's name + .local, its private addresses, 127.0.0.1
    out, _ = issue(env)
    check("IP:127.0.0.1" in out and "village/tls/node.crt" in out and "next:" in out,
          "tls issue did not say what it issued and where:\n" + out)
    err = handshake(env, *NODE, "127.0.0.1")
    check(err is None, "the default certificate failed at 127.0.0.1: %s" % err)
    issue(env, "--name", "village.local", "--name", "gate.home.arpa", "--address", "127.0.0.1,192.168.1.10")
    for name in ("village.local", "gate.home.arpa", "127.0.0.1"):
        err = handshake(env, *NODE, name)
        check(err is None, "the certificate failed as %s: %s" % (name, err))
    # the client does check names: one the certificate does not hold fails
    err = handshake(env, *NODE, "other.local")
    check(err is not None and "mismatch" in err, "a name the certificate lacks passed: %s" % err)


def t_constraints(env):
    setup(env)
    # the control: a forged certificate for a LAN name passes, so what is
    # refused below is refused for its name, not for how it was made
    ok = forge(env, "lan", names=["forged.local"], addrs=["127.0.0.1"])
    err = handshake(env, *ok, "forged.local")
    check(err is None, "a forged certificate for a LAN name should pass: %s" % err)
    # the same with the name in the subject only (no subjectAltName): OpenSSL
    # falls back to the CN, and holds the CN to the constraints too
    ok = forge(env, "lancn", cn="forged.local")
    err = handshake(env, *ok, "forged.local")
    check(err is None, "a forged certificate for a LAN name in its CN should pass: %s" % err)
    crt = forge(env, "bad", cn="bank.example.com")
    err = handshake(env, *crt, "bank.example.com")
    check(err is not None and "permitted subtree violation" in err,
          "a certificate with bank.example.com in its CN only was not refused: %s" % err)
    for names, addrs, connect in ((["bank.example.com"], [], "bank.example.com"),
                                  (["village.local.example.com"], [], "village.local.example.com"),
                                  (["evillocal"], [], "evillocal"),
                                  (["forged.local"], ["127.0.0.1", "8.8.8.8"], "forged.local"),
                                  ([], ["127.0.0.1", "2001:db8::1"], "127.0.0.1")):
        crt = forge(env, "bad", names=names, addrs=addrs)
        err = handshake(env, *crt, connect)
        check(err is not None and "permitted subtree violation" in err,
              "a certificate for %s signed by the authority was not refused by its constraints: %s"
              % (", ".join(names + addrs), err))


def t_refusals(env):
    setup(env)
    _, err = issue(env, "--name", "bank.example.com", rc=1)
    check("bank.example.com is outside the TLS authority's names (local, lan, home.arpa, internal"
          in err and err.count("\n") == 1, "bank.example.com: " + err)
    _, err = issue(env, "--name", "village.local", "--address", "8.8.8.8", rc=1)
    check("8.8.8.8 is outside the TLS authority's address ranges (10.0.0.0/8" in err, "8.8.8.8: " + err)
    with open(env.path("wrong.txt"), "w") as f:
        f.write("not the root passphrase\n")
    _, err = env.run("tls", "issue", "--ca", "net.tls-ca.crt", "--ca-key", "net.tls-ca.key",
                     "--dir", "village", "--passphrase-file", "wrong.txt", "--name", "village.local", rc=1)
    check(err.startswith("watchmesh: wrong passphrase for the TLS authority's key") and
          err.count("\n") == 1, "wrong passphrase: " + err)
    check(not os.path.exists(env.path("village", "tls", "node.crt")), "a refused issue wrote a certificate")
    _, err = env.run("tls", "issue", "--ca", "net.tls-ca.crt", "--ca-key", "net.root.key",
                     "--dir", "village", "--passphrase-file", env.passfile, rc=1)
    check("not an encrypted PKCS#8 key" in err, "the root key as the authority's: " + err)
    # a network of its own with a real domain: under it, and nothing else
    env2 = wmtest.Env(env.binary, "tls-names")
    try:
        _, err = env2.run("network", "create", "--name", "n", "--out", "net", "--passphrase-file",
                          env2.passfile, "--tls-names", "local,com", rc=2)
        check("'com' is a single label" in err, "--tls-names com: " + err)
        setup(env2, tls_names="wm.example.cn")
        issue(env2, "--name", "xinhua.wm.example.cn", "--address", "10.1.1.1")
        _, err = issue(env2, "--name", "xinhua.local", rc=1)
        check("outside the TLS authority's names (wm.example.cn" in err, "a name off --tls-names: " + err)
        env2.done(True)
    except Exception:
        env2.done(False)
        raise


def t_cakey(env):
    setup(env)
    with open(env.path("net.tls-ca.key"), "rb") as f:
        pem = f.read()
    check(pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), "the authority's key is not encrypted")
    der = ssl.PEM_cert_to_DER_cert(pem.decode().replace("ENCRYPTED PRIVATE KEY", "CERTIFICATE"))
    check(bytes.fromhex("06092a864886f70d01050d") in der, "not PBES2")
    check(bytes.fromhex("060960864801650304012a") in der, "not AES-256-CBC")
    for password, exc in ((None, TypeError), (b"wrong horse battery staple", ValueError)):
        try:
            serialization.load_pem_private_key(pem, password)
            raise wmtest.Failure("the authority's key opened with %r" % password)
        except exc:
            pass
    key = serialization.load_pem_private_key(pem, PASS)
    check(isinstance(key.curve, ec.SECP256R1), "the authority's key is not P-256")
    with open(env.path("net.tls-ca.crt"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    check(ca.public_key().public_numbers() == key.public_key().public_numbers(), "key and certificate differ")
    check(ca.subject.rfc4514_string() == "CN=watchmesh testnet TLS authority", str(ca.subject))
    check(ca.not_valid_after - ca.not_valid_before >= datetime.timedelta(days=7305), "not 20 years")
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    check(bc.critical and bc.value.ca and bc.value.path_length == 0, str(bc))
    nc = ca.extensions.get_extension_for_class(x509.NameConstraints)
    check(nc.critical and not nc.value.excluded_subtrees, str(nc))
    check([str(n.value) for n in nc.value.permitted_subtrees] ==
          ["local", "lan", "home.arpa", "internal", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
           "169.254.0.0/16", "127.0.0.0/8", "fc00::/7", "fe80::/10", "::1/128"], str(nc))
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    check(ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature,
          str(ku))
    mode = lambda p: stat.S_IMODE(os.stat(env.path(*p)).st_mode)  # noqa: E731
    check(mode(["net.tls-ca.key"]) == 0o600 and mode(["net.tls-ca.crt"]) == 0o644, "authority file modes")
    issue(env, "--name", "village.local")
    check(mode(["village", "tls", "node.key"]) == 0o600 and mode(["village", "tls", "node.crt"]) == 0o644,
          "node file modes")


def t_show(env):
    setup(env)
    issue(env, "--name", "village.local", "--address", "192.168.1.10", "--days", "30")
    with open(env.path("net.tls-ca.crt")) as f:
        fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest().upper()
    fp = ":".join(fp[i:i + 2] for i in range(0, len(fp), 2))
    out, _ = env.run("tls", "show", "--dir", "village")
    check("issuer SHA-256 " + fp in out and "SHA-256      " + fp not in out, "fingerprints:\n" + out)
    out2, _ = env.run("tls", "show", "--cert", "net.tls-ca.crt")
    check("SHA-256      " + fp in out2, "the authority's own fingerprint:\n" + out2)
    check("DNS:village.local, IP:192.168.1.10" in out and fp in out and "(expires in 30 days)" in out and
          "the node can serve the pair" in out and "/ca.crt      CN=watchmesh testnet TLS authority" in out,
          "tls show:\n" + out)
    # a real domain's pair: RSA, leaf then a public authority's intermediate
    now = datetime.datetime.utcnow()

    def cert(subject, issuer, key, signer, ca, names=()):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=90))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if names:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        return b.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    root = ec.generate_private_key(ec.SECP256R1())
    inter = ec.generate_private_key(ec.SECP256R1())
    leaf = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(env.path("real.crt"), "wb") as f:
        f.write(cert("watch.example.org", "Example Intermediate", leaf, inter, False, ["watch.example.org"]) +
                cert("Example Intermediate", "Example Root", inter, root, True))
    with open(env.path("real.key"), "wb") as f:
        f.write(leaf.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()))
    out, _ = env.run("tls", "show", "--cert", "real.crt", "--key", "real.key")
    check("DNS:watch.example.org" in out and "the node can serve the pair" in out and
          "/ca.crt      not served" in out, "a real domain's pair:\n" + out)
    # and its key with our certificate: refused, saying so
    _, err = env.run("tls", "show", "--cert", "village/tls/node.crt", "--key", "real.key", rc=1)
    check("is not the key of the first certificate" in err, "a mismatched pair: " + err)


def t_daemon(env):
    setup(env)
    issue(env, "--name", "village.local", "--address", "127.0.0.1")
    node = Daemon(env, "village")
    port = free_port()
    node.configure(https="127.0.0.1:%d" % port)
    node.start()
    wait_until("the node to serve HTTPS", lambda: "HTTPS on 127.0.0.1:%d" % port in node.log())

    def get_status(ctx, name, path="/api/v1/status"):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                          % (path.encode(), name.encode()))
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return data
                    data += chunk
    ctx = ssl.create_default_context(cafile=env.path("net.tls-ca.crt"))
    for name in ("127.0.0.1", "village.local"):
        data = get_status(ctx, name)
        check(data.startswith(b"HTTP/1.1 200") and b'"network"' in data,
              "GET /api/v1/status over HTTPS as %s: %r" % (name, data[:300]))
    # the node serves the authority it was issued by, and the page to install it
    data = get_status(ctx, "village.local", "/ca.crt")
    with open(env.path("net.tls-ca.crt"), "rb") as f:
        check(data.split(b"\r\n\r\n", 1)[1] == f.read(), "/ca.crt is not the authority's certificate")
    page = get_status(ctx, "village.local", "/ca").decode("utf-8", "replace")
    out, _ = env.run("tls", "show", "--cert", "net.tls-ca.crt")
    fpr = [ln.split()[-1] for ln in out.splitlines() if "SHA-256" in ln][0]
    check(fpr in page and "<svg" in page and "Android" in page and "iPhone" in page,
          "/ca: fingerprint %s, QR code and instructions: %s" % (fpr, page[:400]))
    # without the authority installed, the same server is not trusted
    try:
        get_status(ssl.create_default_context(), "127.0.0.1")
        raise wmtest.Failure("a client without the authority trusted the node")
    except ssl.SSLCertVerificationError:
        pass


TESTS = {"verify": t_verify, "constraints": t_constraints, "refusals": t_refusals, "cakey": t_cakey,
         "show": t_show, "daemon": t_daemon}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "tls", "SRC"))

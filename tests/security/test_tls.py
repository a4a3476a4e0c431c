"""TLS on the collector and https in every sender (docs/security.md, "TLS").

A private CA made here with the openssl command, a server certificate for
127.0.0.1 signed by it; `reestr serve --tls-cert --tls-key`. Each sender
(`reestr send`, the agent, the Go, Python, PHP and TypeScript runtimes)
delivers over https when given the CA its language's usual way, and
refuses (nothing stored) without it. SIGHUP reads the pair again: a new
connection sees the new certificate, a kept-alive one goes on; a bad pair
is refused and the running one kept. Plain http to the port fails without
harming the server."""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import support

REESTR = support.REESTR
ROOT = support.ROOT
RUNTIMES = ROOT / "runtimes"

# one event the runtimes' conformance adapters send (id 1, v0, an int n)
REGISTRY = """\
owners:
  tls_team:
    contact: tls-team@example.com
sources:
  conformance-adapter:
    owner: tls_team
environments:
  conformance:
    events: [conformance_event]
events:
  conformance_event:
    id: 1
    owner: tls_team
    versions:
      - version: 0
        fields:
          n: int
"""


def openssl(*args, cwd):
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Pki:
    """A CA and server certificates for 127.0.0.1 signed by it."""

    def __init__(self, d: Path):
        self.d = d
        d.mkdir(parents=True, exist_ok=True)
        self.ca = d / "ca.pem"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "2", "-subj", "/CN=reestr test CA",
                cwd=d)

    def server_cert(self, name, serial, days="1",
                    san="IP:127.0.0.1,DNS:localhost"):
        """name.pem and name.key, the certificate with this serial."""
        (self.d / f"{name}.cnf").write_text(
            f"subjectAltName={san}\n"
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", "/CN=127.0.0.1", cwd=self.d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-set_serial", str(serial), "-days", days,
                "-extfile", f"{name}.cnf", "-out", f"{name}.pem", cwd=self.d)
        return self.d / f"{name}.pem", self.d / f"{name}.key"

    def context(self):
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


class TlsServer(support.Server):
    """reestr serve with --tls-cert/--tls-key, reached over https."""

    def __init__(self, pki, cert, key, registry, data, extra_args=(),
                 insecure=True):
        super().__init__(registry, data,
                         ["--tls-cert", str(cert), "--tls-key", str(key),
                          *extra_args], True, insecure)
        self.pki = pki

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def start(self):
        self.data.mkdir(parents=True, exist_ok=True)
        started = self.start_lines()
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [REESTR, "serve", "--registry", str(self.registry), "--data",
             str(self.data), "--listen", f"127.0.0.1:{self.port}", "--dev",
             *(["--insecure-local"] if self.insecure else []),
             *self.extra_args],
            stdout=logf, stderr=logf)
        logf.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"reestr serve exited with "
                                   f"{self.proc.returncode}: "
                                   f"{self.log.read_text()}")
            if self.start_lines() > started:
                try:
                    if self.request("GET", "/healthz", timeout=2).status == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"reestr serve did not start: {self.log.read_text()}")

    def request(self, method, path, body=None, headers=None, timeout=60):
        req = urllib.request.Request(self.url + path, data=body,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout,
                                        context=self.pki.context()) as r:
                return support.Response(r.status, r.read(), dict(r.headers))
        except urllib.error.HTTPError as e:
            return support.Response(e.code, e.read(), dict(e.headers))

    def stored(self):
        """(accepted events, failed events) in the store."""
        return (self.query("SELECT count(*) AS n FROM events")[0]["n"],
                self.query("SELECT count(*) AS n FROM failed_events")[0]["n"])

    def wait_log(self, text, after=0, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            log = self.log.read_text(errors="replace")
            if text in log[after:]:
                return log
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} in the log: {log[after:]}")


@pytest.fixture
def tls_server(pki, tmp_path):
    servers = []

    def make(extra_args=(), insecure=True, data=None, cert=None):
        reg = tmp_path / "registry"
        if not reg.exists():
            reg.mkdir()
            (reg / "registry.yaml").write_text(REGISTRY)
        c, k = cert or pki.server_cert("server", 0x1001)
        s = TlsServer(pki, c, k, reg, data or tmp_path / f"data{len(servers)}",
                      extra_args, insecure)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.stop()


def peer_der(port, context):
    """The DER of the certificate a new connection is shown."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.getpeercert(binary_form=True)


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())


def wire_event(n):
    return {"event_id": 1, "version": 0, "uuid": support.uuid7(),
            "time": support.now_rfc3339(), "environment": "conformance",
            "source": "conformance-adapter", "fields": {"n": n}}


def no_ca_env():
    """The environment without any CA setting of ours or the languages'."""
    return {k: v for k, v in os.environ.items()
            if k not in ("REESTR_CACERT", "SSL_CERT_FILE", "SSL_CERT_DIR",
                         "NODE_EXTRA_CA_CERTS", "REESTR_KEY", "PIP_CERT",
                         "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}


# --- serve ---------------------------------------------------------------


def test_https_answers_with_the_ca_and_is_refused_without(tls_server, pki):
    s = tls_server()
    line = [l for l in s.log.read_text().splitlines() if "listening on" in l][-1]
    assert "(https, certificate serial 1001, valid until " in line, line
    assert s.request("GET", "/healthz").status == 200
    r = s.request("POST", "/v1/events",
                  json.dumps({"events": [wire_event(1)]}).encode(),
                  {"Content-Type": "application/json"})
    assert r.status == 200 and r.json()["accepted"] == 1, r.raw
    # a client that trusts only the system's CAs refuses the certificate
    with pytest.raises(urllib.error.URLError) as e:
        urllib.request.urlopen(s.url + "/healthz", timeout=10,
                               context=ssl.create_default_context())
    assert "CERTIFICATE_VERIFY_FAILED" in str(e.value)
    assert s.stored() == (1, 0)
    # without --public-url, the packages' absolute URLs say https
    r = s.request("GET", "/composer/packages.json")
    assert r.status == 200 and f'"https://127.0.0.1:{s.port}/'.encode() in r.raw, r.raw
    assert b'"http://' not in r.raw


def test_tls_1_2_and_1_3_only(tls_server, pki):
    s = tls_server()

    def s_client(*args):
        return subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{s.port}",
             "-CAfile", str(pki.ca), *args], input="", capture_output=True,
            text=True, timeout=30).stdout

    # the client willing (security level 0), the server refuses 1.1
    assert "Cipher is (NONE)" in s_client("-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    for version in ("-tls1_2", "-tls1_3"):
        out = s_client(version)
        assert "Verify return code: 0 (ok)" in out and "Cipher is (NONE)" not in out, out


def test_plain_http_to_the_tls_port_fails_cleanly(tls_server):
    s = tls_server()
    with pytest.raises((http.client.HTTPException, OSError)):
        urllib.request.urlopen(f"http://127.0.0.1:{s.port}/v1/events",
                               data=json.dumps({"events": [wire_event(1)]}).encode(),
                               timeout=10)
    # nothing stored, and the server goes on serving https
    assert s.request("GET", "/healthz").status == 200
    assert s.stored() == (0, 0)
    assert s.proc.poll() is None


def test_a_silent_or_stalled_handshake_is_cut_at_the_header_deadline(tls_server):
    """The handshake counts against --header-deadline: a client that
    connects and says nothing, or stops half-way through its ClientHello,
    holds no thread past it."""
    s = tls_server(extra_args=["--header-deadline", "1"])
    for first in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(first)
            start = time.monotonic()
            assert c.recv(4096) == b""  # closed by the server
            took = time.monotonic() - start
        assert 0.8 < took < 5, took
    assert s.request("GET", "/healthz").status == 200


def test_sighup_serves_a_new_certificate_and_keeps_open_connections(tls_server, pki):
    cert, key = pki.server_cert("server", 0x1001)
    s = tls_server(cert=(cert, key))
    ctx = pki.context()
    assert peer_der(s.port, ctx) == der(cert)
    old = der(cert)
    # a kept-alive connection opened before the reload
    kept = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx,
                                       timeout=10)
    kept.request("GET", "/healthz")
    assert kept.getresponse().read() and kept.sock.getpeercert(True) == old

    new_cert, new_key = pki.server_cert("next", 0x2002)
    shutil.copy(new_cert, cert)
    shutil.copy(new_key, key)
    mark = len(s.log.read_text())
    s.proc.send_signal(signal.SIGHUP)
    log = s.wait_log("TLS certificate reloaded", mark)
    assert "serial 2002" in log[mark:], log[mark:]
    assert peer_der(s.port, ctx) == der(new_cert)
    # the old connection goes on, with its session
    kept.request("POST", "/v1/events",
                 body=json.dumps({"events": [wire_event(7)]}),
                 headers={"Content-Type": "application/json"})
    r = kept.getresponse()
    assert r.status == 200 and json.loads(r.read())["accepted"] == 1
    assert kept.sock.getpeercert(True) == old
    kept.close()
    assert s.stored() == (1, 0)


@pytest.mark.parametrize("damage", ["junk", "other key", "expired", "missing"])
def test_a_bad_pair_on_sighup_is_refused_and_the_running_one_kept(
        tls_server, pki, damage):
    cert, key = pki.server_cert("server", 0x1001)
    s = tls_server(cert=(cert, key))
    ctx = pki.context()
    if damage == "junk":
        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
        why = f"certificate file {cert}: no PEM certificate"
    elif damage == "other key":
        _, other = pki.server_cert("other", 0x3003)
        shutil.copy(other, key)
        why = f"key file {key} is not the key of the certificate"
    elif damage == "expired":
        old, old_key = pki.server_cert("old", 0x4004, days="-1")
        shutil.copy(old, cert)
        shutil.copy(old_key, key)
        why = "the certificate expired on"
    else:
        key.unlink()
        why = f"key file {key}: No such file"
    mark = len(s.log.read_text())
    s.proc.send_signal(signal.SIGHUP)
    log = s.wait_log("TLS certificate not reloaded", mark)
    assert "the running one kept (serial 1001" in log[mark:], log[mark:]
    assert why in log[mark:], log[mark:]
    assert s.request("GET", "/healthz").status == 200
    # the running certificate is the first one still (serial 1001)
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            assert t.getpeercert()["serialNumber"] == "1001"


def test_bad_files_at_start_name_the_file(pki, tmp_path):
    cert, key = pki.server_cert("server", 0x1001)
    _, other = pki.server_cert("other", 0x3003)
    old, old_key = pki.server_cert("old", 0x4004, days="-1")
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "registry.yaml").write_text(REGISTRY)

    def serve(*args, listen="127.0.0.1:0"):
        return subprocess.run(
            [REESTR, "serve", "--insecure-local", "--dev", "--registry",
             str(reg), "--data", str(tmp_path / "d"), "--listen", listen,
             *args], capture_output=True, text=True, timeout=30)

    cases = [
        (["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(key)],
         f"certificate file {tmp_path / 'nope.pem'}: No such file"),
        (["--tls-cert", str(cert), "--tls-key", str(other)],
         f"key file {other} is not the key of the certificate in "
         f"certificate file {cert}"),
        (["--tls-cert", str(key), "--tls-key", str(key)],
         f"certificate file {key}: no PEM certificate"),
        (["--tls-cert", str(cert), "--tls-key", str(cert)],
         f"key file {cert}: no unencrypted PEM private key"),
        (["--tls-cert", str(old), "--tls-key", str(old_key)],
         f"certificate file {old}: the certificate expired on"),
        (["--tls-cert", str(cert)], "--tls-cert and --tls-key go together"),
    ]
    for args, why in cases:
        out = serve(*args)
        assert out.returncode == 2 and why in out.stderr, (args, out.stderr)
        assert not (tmp_path / "d").exists()


def test_non_loopback_needs_tls_or_allow_plaintext(pki, tmp_path):
    """Keys travel in headers: without TLS a collector others can reach
    refuses to start unless --allow-plaintext says so."""
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "registry.yaml").write_text(REGISTRY)
    port = support.free_port()
    base = [REESTR, "serve", "--dev", "--registry", str(reg), "--data",
            str(tmp_path / "d"), "--listen", f"0.0.0.0:{port}"]
    out = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out.stderr
    assert "clear text" in out.stderr and "--allow-plaintext" in out.stderr
    assert "--tls-cert" in out.stderr
    assert not (tmp_path / "d").exists()
    for extra, note in ((["--allow-plaintext"], "(clear text http: --allow-plaintext)"),
                        (["--tls-cert", str(pki.server_cert("s", 5)[0]),
                          "--tls-key", str(pki.d / "s.key")], "(https, certificate serial 05")):
        log = tmp_path / f"serve-{len(extra)}.log"
        with open(log, "wb") as f:
            proc = subprocess.Popen(base + extra, stdout=f, stderr=f)
        try:
            deadline = time.time() + 30
            while "listening on" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.time() < deadline, log.read_text()
                time.sleep(0.05)
            line = [l for l in log.read_text().splitlines() if "listening on" in l][0]
            assert note in line, line
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0
    out = subprocess.run(base + ["--allow-plaintext", "--tls-cert", "a", "--tls-key", "b"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "not with --tls-cert" in out.stderr


# --- reestr send and the agent -------------------------------------------


def test_reestr_send_verifies_and_takes_a_private_ca(tls_server, pki, tmp_path):
    s = tls_server()
    args = [REESTR, "send", "--collector", s.url, "--environment",
            "conformance", "--source", "conformance-adapter", "--event",
            "conformance_event", "--version", "0", "--json", '{"n": 1}']
    out = subprocess.run(args, capture_output=True, text=True, timeout=60,
                         env=no_ca_env())
    assert out.returncode != 0, out.stderr
    assert "certificate" in out.stderr and "--cacert" in out.stderr, out.stderr
    assert s.stored() == (0, 0)
    out = subprocess.run(args + ["--cacert", str(pki.ca)], capture_output=True,
                         text=True, timeout=60, env=no_ca_env())
    assert out.returncode == 0, out.stderr
    assert s.stored() == (1, 0)
    out = subprocess.run(args, capture_output=True, text=True, timeout=60,
                         env={**no_ca_env(), "REESTR_CACERT": str(pki.ca)})
    assert out.returncode == 0, out.stderr
    assert s.stored() == (2, 0)
    out = subprocess.run(args + ["--cacert", str(tmp_path / "none.pem")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"--cacert {tmp_path / 'none.pem'}: No such file" in out.stderr


def test_reestr_send_checks_the_host_name(tls_server, pki):
    """The CA trusted is not enough: the certificate must be for the host
    the URL names (here 127.0.0.1 only, reached as localhost)."""
    s = tls_server(cert=pki.server_cert("ip-only", 0x5005, san="IP:127.0.0.1"))
    out = subprocess.run(
        [REESTR, "send", "--collector", f"https://localhost:{s.port}",
         "--cacert", str(pki.ca), "--environment", "conformance", "--source",
         "conformance-adapter", "--event", "conformance_event", "--version",
         "0", "--json", '{"n": 1}'],
        capture_output=True, text=True, timeout=60, env=no_ca_env())
    assert out.returncode != 0, out.stderr
    assert "not for the URL's host name" in out.stderr, out.stderr
    assert s.stored() == (0, 0)


def start_agent(tmp, url, extra=(), env=None):
    sock = str(tmp / "agent.sock")
    log = open(tmp / "agent.log", "ab")
    proc = subprocess.Popen([REESTR, "agent", "--socket", sock, "--spool",
                             str(tmp / "spool"), "--collector", url, *extra],
                            stdout=log, stderr=log, env=env or no_ca_env())
    log.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as c:
                c.connect(sock)
                return proc, sock
        except OSError:
            assert proc.poll() is None, (tmp / "agent.log").read_text()
            time.sleep(0.05)
    raise AssertionError((tmp / "agent.log").read_text())


def agent_send(sock, events):
    with socket.socket(socket.AF_UNIX) as c:
        c.connect(sock)
        c.sendall(("\n".join(json.dumps(e) for e in events) + "\n").encode())
        data = b""
        while data.count(b"\n") < len(events):
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode().splitlines()


def wait_for(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_agent_forwards_over_https_only_to_a_verified_collector(tls_server, pki, tmp_path):
    s = tls_server()
    a = tmp_path / "a"
    a.mkdir()
    proc, sock = start_agent(a, s.url)
    try:
        assert agent_send(sock, [wire_event(1), wire_event(2)]) == ["ok", "ok"]
        log = a / "agent.log"
        assert wait_for(lambda: "certificate could not be verified" in log.read_text()), \
            log.read_text()
        assert "--cacert" in log.read_text()
        assert s.stored() == (0, 0)
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    # the same spool, now trusting the CA: the held events are delivered
    proc, sock = start_agent(a, s.url, ["--cacert", str(pki.ca)])
    try:
        assert agent_send(sock, [wire_event(3)]) == ["ok"]
        assert wait_for(lambda: s.stored() == (3, 0)), s.stored()
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    # REESTR_CACERT does the same
    b = tmp_path / "b"
    b.mkdir()
    proc, sock = start_agent(b, s.url, env={**no_ca_env(), "REESTR_CACERT": str(pki.ca)})
    try:
        assert agent_send(sock, [wire_event(4)]) == ["ok"]
        assert wait_for(lambda: s.stored() == (4, 0)), s.stored()
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0


# --- the langpack runtimes -----------------------------------------------

CASE = {"description": "one event over https",
        "config": {"batch_size": 10, "batch_age_ms": 60000, "max_attempts": 2,
                   "backoff_base_ms": 10, "backoff_max_ms": 20,
                   "request_timeout_ms": 10000},
        "steps": [{"send": 1}, {"close": True}]}


@pytest.fixture(scope="module")
def go_adapter(tmp_path_factory):
    go = shutil.which("go")
    assert go, "go is not installed: run scripts/install-deps"
    out = tmp_path_factory.mktemp("go") / "conformance"
    subprocess.run([go, "build", "-o", str(out), "./cmd/conformance"],
                   cwd=RUNTIMES / "go", check=True)
    return [str(out)]


def adapter(lang, request):
    if lang == "go":
        return request.getfixturevalue("go_adapter")
    if lang == "python":
        return [sys.executable, str(RUNTIMES / "python" / "conformance.py")]
    tool = {"php": "php", "ts": "node"}[lang]
    path = shutil.which(tool)
    assert path, f"{tool} is not installed: run scripts/install-deps"
    script = {"php": RUNTIMES / "php" / "conformance.php",
              "ts": RUNTIMES / "ts" / "conformance.mjs"}[lang]
    return [path, str(script)]


# each language's usual way to trust a private CA
CA_ENV = {"go": "SSL_CERT_FILE", "python": "SSL_CERT_FILE",
          "php": "SSL_CERT_FILE", "ts": "NODE_EXTRA_CA_CERTS"}


@pytest.mark.parametrize("lang", ["go", "python", "php", "ts"])
def test_runtime_sends_over_https_with_the_ca_and_refuses_without(
        tls_server, pki, tmp_path, request, lang):
    s = tls_server()
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASE))
    cmd = adapter(lang, request) + [str(case), s.url]

    def run(env):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                             env=env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    got = run(no_ca_env())
    assert [r["outcome"] for r in got["results"]] == ["dropped"], got
    reason = got["results"][0]["reason"].lower()
    # each language names the failed verification its way
    assert "certificate" in reason or "verify" in reason, got
    assert s.stored() == (0, 0)
    got = run({**no_ca_env(), CA_ENV[lang]: str(pki.ca)})
    assert [r["outcome"] for r in got["results"]] == ["delivered"], got
    assert s.stored() == (1, 0)


# --- private Go packages over https --------------------------------------


def test_go_get_private_packages_over_https_with_netrc(tls_server, pki, tmp_path):
    """--private-packages: the real go command fetches the langpack through
    the module proxy over https with the read key in a netrc (NETRC), and
    is refused without it. Go sends netrc credentials over https only."""
    data = tmp_path / "data"
    out = subprocess.run([REESTR, "keys", "create", "developer", "--read",
                          "--data", str(data)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    s = tls_server(extra_args=["--private-packages"], insecure=False, data=data)
    go = shutil.which("go")
    assert go, "go is not installed: run scripts/install-deps"
    app = tmp_path / "app"
    app.mkdir()
    netrc = tmp_path / "netrc"
    env = {**no_ca_env(), "GOPATH": str(tmp_path / "gopath"),
           "GOFLAGS": "-mod=mod", "GOPROXY": f"{s.url}/go",
           "GOPRIVATE": "reestr.local", "GONOPROXY": "none",
           "GONOSUMDB": "reestr.local", "SSL_CERT_FILE": str(pki.ca),
           "NETRC": str(netrc)}
    subprocess.run([go, "mod", "init", "example.com/app"], cwd=app, env=env,
                   check=True, capture_output=True)

    def get(extra_env=None):
        return subprocess.run(
            [go, "get", "reestr.local/langpack/conformance@v1.0.0"], cwd=app,
            env={**env, **(extra_env or {})}, capture_output=True, text=True,
            timeout=300)

    netrc.write_text("")
    out = get()
    assert out.returncode != 0, out.stderr
    assert "401" in out.stderr or "Unauthorized" in out.stderr, out.stderr
    assert not (tmp_path / "gopath" / "pkg" / "mod" / "reestr.local").exists()
    # Go (1.24 on) matches a netrc machine against the URL's host and port
    netrc.write_text(f"machine 127.0.0.1:{s.port} login reestr password {key}\n")
    # without the CA, go refuses the collector's certificate
    out = get({"SSL_CERT_FILE": ""})
    assert out.returncode != 0 and "certificate" in out.stderr, out.stderr
    out = get()
    assert out.returncode == 0, out.stderr
    assert "reestr.local/langpack/conformance v1.0.0" in (app / "go.mod").read_text()


def read_key(data):
    out = subprocess.run([REESTR, "keys", "create", "developer", "--read",
                          "--data", str(data)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_pip_and_composer_over_https_with_the_ca(tls_server, pki, tmp_path):
    """The other package clients against --private-packages over https:
    pip with --cert, Composer with its cafile; each refuses the collector's
    certificate without the CA."""
    data = tmp_path / "data"
    key = read_key(data)
    s = tls_server(extra_args=["--private-packages"], insecure=False, data=data)
    host = s.url.removeprefix("https://")
    index = f"https://reestr:{key}@{host}/pypi/simple/"

    def pip(*extra):
        return subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps",
             "--no-input", "--retries", "0", "-d", str(tmp_path / "dl"),
             "--index-url", index, *extra, "reestr-langpack-conformance"],
            capture_output=True, text=True, timeout=300,
            env={**no_ca_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})

    out = pip()
    assert out.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in out.stdout + out.stderr, out
    assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").iterdir())
    out = pip("--cert", str(pki.ca))
    assert out.returncode == 0, out.stdout + out.stderr
    assert [p.name for p in (tmp_path / "dl").iterdir()][0].startswith(
        "reestr_langpack_conformance")

    composer = shutil.which("composer")
    assert composer, "composer is not installed: run scripts/install-deps"
    app = tmp_path / "app"
    app.mkdir()
    env = {**no_ca_env(), "COMPOSER_HOME": str(tmp_path / "composer-home"),
           "COMPOSER_NO_INTERACTION": "1"}
    r = s.request("GET", "/composer/project.json?environment=conformance",
                  headers={"Authorization": f"Bearer {key}"})
    assert r.status == 200, r.raw
    (app / "composer.json").write_bytes(r.raw)
    subprocess.run([composer, "config", f"http-basic.{host}", "reestr", key],
                   cwd=app, env=env, check=True, capture_output=True)

    def install():
        return subprocess.run([composer, "install"], cwd=app, env=env,
                              capture_output=True, text=True, timeout=300)

    out = install()
    assert out.returncode != 0, out.stdout + out.stderr
    assert "certificate verify failed" in (out.stdout + out.stderr).lower(), out
    assert not (app / "vendor" / "reestr").exists()
    subprocess.run([composer, "config", "cafile", str(pki.ca)], cwd=app,
                   env=env, check=True, capture_output=True)
    out = install()
    assert out.returncode == 0, out.stdout + out.stderr
    assert (app / "vendor" / "reestr" / "langpack-conformance").is_dir()

"""A small tenderd client for the integration tests: JSON lines over mutual TLS.

Every wait is bounded. Replies are matched by id; events (and replies to other
requests) that arrive meanwhile are kept for later.
"""
import base64
import collections
import datetime
import hashlib
import itertools
import json
import secrets
import select
import socket
import ssl
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

DEFAULT_TIMEOUT = 15.0


class Closed(Exception):
    """The server closed the connection."""


class Timeout(Exception):
    """Nothing arrived in time."""


def parse_time(text):
    """RFC 3339 UTC time with milliseconds ("2026-11-22T10:00:00.000Z") to epoch ms."""
    assert isinstance(text, str) and text.endswith("Z"), text
    dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(round(dt.timestamp() * 1000))


def format_time(ms):
    """Epoch ms to the wire format."""
    dt = datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def now_ms():
    return int(time.time() * 1000)


def cert_fingerprint(path):
    """SHA-256 of a PEM certificate's DER, lower-case hex (tenderd's identity)."""
    with open(path) as f:
        pem = f.read()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


# Operations whose requests carry a signed statement (docs/protocol.md, "Signed
# statements"); auction.bid is signed whenever the client can sign (an auction with
# signed_bids false accepts unsigned bids too).
SIGNED_OPS = frozenset([
    "auction.create", "auction.cancel", "auction.bid", "auction.proxy",
    "auction.pause", "auction.resume", "auction.extend",
    "procurement.create", "procurement.publish", "procurement.complete",
    "procurement.amend", "procurement.cancel", "question.answer",
    "quote.submit", "quote.withdraw", "quote.confirm",
    "bid.submit", "bid.withdraw", "bid.confirm", "bid.score", "award.decide",
])


def new_nonce():
    """A fresh statement nonce: 24 characters of [A-Za-z0-9_-]."""
    return secrets.token_urlsafe(18)


def digest_form(value):
    """A request value with every document `content` (base64) stated as `content_sha256`
    (docs/protocol.md: the digest form)."""
    if isinstance(value, list):
        return [digest_form(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if k == "content" and isinstance(v, str) and len(v) % 4 == 0:
            try:
                data = base64.b64decode(v, validate=True)
            except ValueError:  # not base64: stated as it is
                out[k] = v
                continue
            out["content_sha256"] = hashlib.sha256(data).hexdigest()
        else:
            out[k] = digest_form(v)
    return out


def statement_bytes(op, fields, nonce=None, at=None):
    """The compact JSON statement of a request: op, nonce, time and every field (document
    contents in the digest form)."""
    st = {"op": op, "nonce": nonce or new_nonce(), "time": at or format_time(now_ms())}
    st.update(digest_form(fields))
    return json.dumps(st, separators=(",", ":"), ensure_ascii=False).encode()


class Signer:
    """A participant's key and certificate, signing statements as
    `openssl cms -sign -binary -outform DER` does (detached, with the certificate)."""

    def __init__(self, cert_path, key_path):
        with open(cert_path, "rb") as f:
            self.cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)

    def sign(self, data):
        """base64 of the detached CMS SignedData over `data` (bytes)."""
        der = (pkcs7.PKCS7SignatureBuilder().set_data(data)
               .add_signer(self.cert, self.key, hashes.SHA256())
               .sign(serialization.Encoding.DER,
                     [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))
        return base64.b64encode(der).decode()

    def signed(self, op, fields, nonce=None, at=None, statement=None):
        """(statement text, signature) for a request `op` with `fields`."""
        data = statement if statement is not None else statement_bytes(op, fields, nonce, at)
        if isinstance(data, str):
            data = data.encode()
        return data.decode(), self.sign(data)


def make_context(ca, cert=None, key=None, tls13=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if tls13:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


class Client:
    """One TLS connection to tenderd."""

    def __init__(self, port, ca, cert=None, key=None, name=None, timeout=DEFAULT_TIMEOUT,
                 host="127.0.0.1", source=None):
        self.name = name
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._buf = b""
        self._events = collections.deque()
        self._replies = {}
        self._eof = False
        # signed operations are signed automatically with the connection's key
        self.signer = Signer(cert, key) if cert and key else None
        self.last_statement = None
        ctx = make_context(ca, cert, key)
        raw = socket.create_connection((host, port), timeout=timeout,
                                       source_address=(source, 0) if source else None)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        except BaseException:
            raw.close()
            raise

    # ---- low level ----

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Read more bytes into the buffer before deadline; raises Closed or Timeout."""
        if self._eof:
            raise Closed("connection closed by the server")
        left = deadline - time.monotonic()
        if left <= 0 and self.sock.pending() == 0:
            raise Timeout("no data before the deadline")
        self.sock.settimeout(max(left, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout("no data before the deadline") from None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ConnectionResetError,
                BrokenPipeError):
            self._eof = True
            raise Closed("connection closed by the server") from None
        if not data:
            self._eof = True
            raise Closed("connection closed by the server")
        self._buf += data

    def read_line(self, timeout=None):
        """The next raw line (bytes without LF)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self._buf:
            self._fill(deadline)
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def read_msg(self, timeout=None):
        """The next message (reply or event) as a dict, ignoring the buffers."""
        line = self.read_line(timeout)
        msg = json.loads(line)
        assert isinstance(msg, dict), line
        return msg

    def _pump(self, deadline):
        """Read one message into the event queue or the reply table."""
        timeout = deadline - time.monotonic()
        if timeout <= 0 and b"\n" not in self._buf and self.sock.pending() == 0:
            raise Timeout("no message before the deadline")
        msg = self.read_msg(max(timeout, 0.001))
        if "event" in msg and "id" not in msg:
            self._events.append(msg)
        else:
            key = json.dumps(msg.get("id"))
            self._replies.setdefault(key, collections.deque()).append(msg)

    # ---- requests ----

    def send(self, op, sign=None, **fields):
        """Send a request; returns its id. A signed operation (SIGNED_OPS) is signed
        with the client's key unless `sign` is False or the fields already hold a
        `statement`; sign=dict(nonce=..., at=..., statement=...) overrides parts of it."""
        rid = fields.pop("id", None)
        if rid is None:
            rid = next(self._ids)
        if (sign is not False and self.signer and "statement" not in fields
                and (sign or op in SIGNED_OPS)):
            opts = sign if isinstance(sign, dict) else {}
            st, sig = self.signer.signed(op, fields, **opts)
            fields["statement"], fields["signature"] = st, sig
            self.last_statement = st
        req = {"id": rid, "op": op}
        req.update(fields)
        self.send_raw(json.dumps(req) + "\n")
        return rid

    def reply(self, rid, timeout=None):
        """The reply to request `rid`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        key = json.dumps(rid)
        while not self._replies.get(key):
            try:
                self._pump(deadline)
            except Timeout:
                raise Timeout("%s: no reply to request %r" % (self.name, rid)) from None
        msg = self._replies[key].popleft()
        return msg

    def signed_line(self, op, rid, **fields):
        """One request line (with LF) of op, signed like send() signs it, for tests that
        write several requests at once."""
        if self.signer and op in SIGNED_OPS:
            st, sig = self.signer.signed(op, fields)
            fields = dict(fields, statement=st, signature=sig)
        return json.dumps(dict({"id": rid, "op": op}, **fields)) + "\n"

    def request(self, op, timeout=None, **fields):
        return self.reply(self.send(op, **fields), timeout)

    def ok(self, op, timeout=None, **fields):
        """A request that must succeed; returns the reply."""
        r = self.request(op, timeout, **fields)
        assert r.get("ok") is True, "%s %s %r -> %r" % (self.name, op, fields, r)
        return r

    def error(self, op, timeout=None, **fields):
        """A request that must fail; returns the error object."""
        r = self.request(op, timeout, **fields)
        assert r.get("ok") is False, "%s %s %r unexpectedly succeeded: %r" % (
            self.name, op, fields, r)
        assert set(r["error"]) >= {"code", "message"}, r
        return r["error"]

    # ---- events ----

    def event(self, timeout=None, name=None):
        """The next event (optionally the next one called `name`, dropping others)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            while self._events:
                ev = self._events.popleft()
                if name is None or ev.get("event") == name:
                    return ev
            try:
                self._pump(deadline)
            except Timeout:
                raise Timeout("%s: no %s event" % (self.name, name or "")) from None

    def pending_events(self):
        """Events received so far (without waiting)."""
        evs = list(self._events)
        self._events.clear()
        return evs

    def no_event(self, within=0.3):
        """Assert that no event arrives within `within` seconds."""
        try:
            ev = self.event(timeout=within)
        except Timeout:
            return
        raise AssertionError("%s: unexpected event %r" % (self.name, ev))

    def wait_closed(self, timeout=None):
        """Read until the server closes; returns the messages read meanwhile."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        msgs = []
        while True:
            try:
                while b"\n" in self._buf:
                    line, self._buf = self._buf.split(b"\n", 1)
                    msgs.append(json.loads(line))
                self._fill(deadline)
            except Closed:
                return msgs

    def readable(self, timeout):
        return bool(self._buf) or self.sock.pending() > 0 or bool(
            select.select([self.sock], [], [], timeout)[0])


# ---- helpers shared by the tests ----

def create_auction(buyer, title, **fields):
    """auction.create with test-friendly defaults (RUB, 1 000 000.00, 60 s, no
    extensions); returns the auction object of the reply."""
    req = {"currency": "RUB", "start_price": "1000000.00", "duration": 60,
           "extension_window": 0, "extension": 0}
    req.update(fields)
    r = buyer.ok("auction.create", title=title, **req)
    a = r["auction"]
    assert a["title"] == title
    return a


def server_now(client):
    """The server's clock (epoch ms) as told by hello, corrected for half the round trip."""
    t0 = now_ms()
    r = client.ok("hello")
    t1 = now_ms()
    return parse_time(r["server_time"]) + (t1 - t0) // 2, t1


def sleep_until_server(client, target_ms, max_wait):
    """Sleep until the server's clock reads target_ms (never longer than max_wait s)."""
    srv, local = server_now(client)
    wait = (target_ms - srv) / 1000.0 - (now_ms() - local) / 1000.0
    assert wait <= max_wait, "would wait %.1f s (more than %.1f)" % (wait, max_wait)
    if wait > 0:
        time.sleep(wait)


def walk(value):
    """Every (key, value) pair in a JSON value, recursively."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)

"""Readiness reported to the service manager (the sd_notify protocol, server/notify.c):
with NOTIFY_SOCKET set, tenderd sends READY=1 once it listens and holds its database
connection and writer lock, RELOADING=1 then READY=1 around a SIGHUP reload, and STOPPING=1
when it stops. The socket is a unix datagram socket, named by a path or, with '@', in the
abstract namespace; without NOTIFY_SOCKET nothing is sent."""
import os
import signal
import socket
import tempfile
import time
import uuid


class NotifySocket:
    """A unix datagram socket standing in for systemd's notification socket."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "tenderd-test-" + uuid.uuid4().hex
            self.sock.bind("\0" + name)
            self.env_value = "@" + name
            self.dir = None
        else:
            self.dir = tempfile.mkdtemp(prefix="tdnotify-")
            path = os.path.join(self.dir, "notify.sock")
            self.sock.bind(path)
            self.env_value = path
        self.messages = []

    def wait_for(self, key, timeout=15.0):
        """The first message not yet consumed that has the line `key` (e.g. READY=1);
        messages before it are consumed too."""
        deadline = time.monotonic() + timeout
        while True:
            while self.messages:
                m = self.messages.pop(0)
                if key in m.split("\n"):
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s on NOTIFY_SOCKET within %.0f s" % (key, timeout))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages.append(data.decode())

    def pending(self, wait=0.3):
        """Every message that arrives within `wait` seconds."""
        out = list(self.messages)
        self.messages = []
        self.sock.settimeout(wait)
        try:
            while True:
                out.append(self.sock.recv(4096).decode())
        except socket.timeout:
            pass
        return out

    def close(self):
        self.sock.close()
        if self.dir:
            os.unlink(os.path.join(self.dir, "notify.sock"))
            os.rmdir(self.dir)


def notify_cycle(tenderd_factory, monkeypatch, ns):
    """Start tenderd with NOTIFY_SOCKET, reload it, stop it; check the messages."""
    monkeypatch.setenv("NOTIFY_SOCKET", ns.env_value)
    server = tenderd_factory(start=False)
    server.start(ready=False)
    ready = ns.wait_for("READY=1", timeout=30)
    assert "STATUS=serving" in ready, ready
    # READY=1 means serving: the database is connected, and a client gets an answer
    assert "db ready" in server.log_text()
    with server.client("operator") as c:
        assert c.ok("hello")["ok"]
    server.wait_ready()
    assert ns.pending() == [], "only one READY=1 at start-up"

    server.proc.send_signal(signal.SIGHUP)
    reloading = ns.wait_for("RELOADING=1")
    fields = dict(line.split("=", 1) for line in reloading.split("\n") if "=" in line)
    now_usec = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    assert 0 < now_usec - int(fields["MONOTONIC_USEC"]) < 30e6, fields
    ns.wait_for("READY=1")

    assert server.stop() == 0
    stopping = ns.wait_for("STOPPING=1")
    assert "STATUS=stopping" in stopping


def test_ready_reload_stopping_on_a_path_socket(tenderd_factory, monkeypatch):
    ns = NotifySocket()
    try:
        notify_cycle(tenderd_factory, monkeypatch, ns)
    finally:
        ns.close()


def test_ready_reload_stopping_on_an_abstract_socket(tenderd_factory, monkeypatch):
    ns = NotifySocket(abstract=True)
    try:
        notify_cycle(tenderd_factory, monkeypatch, ns)
    finally:
        ns.close()


def test_a_bad_notify_socket_is_reported_once_and_tenderd_serves(tenderd_factory, monkeypatch):
    missing = os.path.join(tempfile.gettempdir(), "tdnotify-missing-%s.sock" % uuid.uuid4().hex)
    monkeypatch.setenv("NOTIFY_SOCKET", missing)
    server = tenderd_factory()
    with server.client("operator") as c:
        assert c.ok("hello")["ok"]
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "reloaded on SIGHUP" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.log_text().count("NOTIFY_SOCKET %s" % missing) == 1, server.log_tail()


def test_a_standby_is_ready_while_it_waits_and_serving_after_the_takeover(tenderd_factory,
                                                                          monkeypatch):
    """A standby reports READY=1 as soon as it answers (a Type=notify unit would otherwise be
    killed at TimeoutStartSec while it waits), naming the primary in its status, and the
    serving status once it has taken over."""
    primary = tenderd_factory(standby="on")
    ns = NotifySocket()
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", ns.env_value)
        standby = tenderd_factory(start=False, standby="on")
        standby.start(ready=False)
        ready = ns.wait_for("READY=1", timeout=60)
        want = ("STATUS=standby: waiting for the primary lock (the primary is at 127.0.0.1:%d)"
                % primary.port)
        assert want in ready, ready
        with standby.client("operator") as c:
            assert c.ok("hello")["server"]["role"] == "standby"
        assert primary.stop() == 0
        serving = ns.wait_for("READY=1", timeout=60)
        assert "STATUS=serving" in serving, serving
        with standby.client("operator") as c:
            assert c.ok("hello")["server"]["role"] == "primary"
    finally:
        ns.close()

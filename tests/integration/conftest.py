"""Integration harness for tenderd.

One session-wide platform: a private PostgreSQL cluster (scripts/pgctl.sh, which
also sets up the database roles), a development PKI (certs/mkpki.sh), the schema
(`tenderd migrate` as the owner role) and the participants (`tenderd register`). Each test starts its own tenderd against it
(fixture `server`, or `tenderd_factory` for custom settings) on a free port,
with its log in the session directory; the log's tail is attached to the
report of a failing test, and a test fails when the log shows a sanitizer
report (ASan/UBSan/LSan builds).

TENDERD_BUILD names the build directory (default: <repo>/build).
"""
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

import tdclient

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("TENDERD_BUILD") or ROOT / "build").resolve()
PGCTL = ROOT / "scripts" / "pgctl.sh"
MKPKI = ROOT / "certs" / "mkpki.sh"
PSQL = "/usr/bin/psql"
SQL_DIR = ROOT / "sql"
# database roles (sql/roles.sql, docs/operations.md)
OWNER = "tenderd_owner"        # applies migrations, owns every table
SUPERUSER = "postgres"         # the cluster's superuser

# name -> (role, organization, display name)
PARTICIPANTS = {
    "operator": ("operator", "Platform Operations", "Operator One"),
    "buyer": ("buyer", "Omega Municipal Hospital", "Omega Procurement"),
    "buyer2": ("buyer", "Sigma City Clinic", "Sigma Procurement"),
    "supplier1": ("supplier", "Alpha Supplies LLC", "Alpha bids"),
    "supplier2": ("supplier", "Beta Trading JSC", "Beta bids"),
    "supplier3": ("supplier", "Gamma Industrial", "Gamma bids"),
    "supplier4": ("supplier", "Delta Wholesale", "Delta bids"),
    # a supplier certificate of the buyer's own organization
    "supplier_b": ("supplier", "Omega Municipal Hospital", "Omega supply desk"),
}
# client certificates from the platform CA that are never registered at start
UNREGISTERED = ["stranger"]
# the certificate policy every tenderd of the harness requires (required_policy), which
# certs/mkpki.sh puts in every client certificate but --no-policy ones
POLICY = "1.3.6.1.4.1.32473.1.1"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def run(cmd, timeout=120, check=True, **kw):
    """Run a command, capturing its output; a failure shows both streams."""
    p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(str(c) for c in cmd), p.returncode, p.stdout, p.stderr))
    return p


def sanitizer_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


class Env:
    """The session's platform: directories, PostgreSQL, PKI, participants."""

    def __init__(self, base):
        self.dir = pathlib.Path(base)
        self.pg = self.dir / "pg"
        self.pki = self.dir / "pki"
        self.build = BUILD
        self.tenderd_bin = BUILD / "tenderd"
        # a sanitizer build may hold only tenderd: use the regular client then
        self.tenderctl_bin = BUILD / "tenderctl"
        if not self.tenderctl_bin.exists():
            self.tenderctl_bin = ROOT / "build" / "tenderctl"
        self.conninfo = None
        self.pg_port = None
        self.participants = {}
        self.servers = []
        self._n = 0

    # ---- PostgreSQL ----

    def pg_start(self):
        args = [PGCTL, "start", self.pg]
        if self.pg_port:
            args.append(self.pg_port)
        p = run(args, timeout=120)
        self.conninfo = p.stdout.strip().splitlines()[-1]
        fields = dict(kv.split("=", 1) for kv in self.conninfo.split())
        self.pg_port = int(fields["port"])
        self.pg_socket = fields["host"]
        return self.conninfo

    def pg_stop(self):
        run([PGCTL, "stop", self.pg], timeout=120)

    def pg_kill(self):
        """Immediate shutdown: no checkpoint, the next start runs crash recovery."""
        run([PGCTL, "kill", self.pg], timeout=120)

    def pg_running(self):
        return run([PGCTL, "status", self.pg], check=False, timeout=30).returncode == 0

    def conninfo_for(self, user):
        return "host=%s port=%d dbname=tenderd user=%s" % (self.pg_socket, self.pg_port, user)

    def migrate(self, *extra, check=True):
        """tenderd migrate as the owner role, with the source tree's migrations."""
        return run(self.tenderd_cmd("migrate", "--db", self.conninfo_for(OWNER),
                                    "--sql_dir", SQL_DIR, *extra),
                   env=sanitizer_env(), check=check)

    def new_database(self, name):
        """A fresh database `name` set up as scripts/pgctl.sh sets up tenderd's: created by the
        superuser, then sql/roles.sql in it. Returns a function giving the conninfo for a role;
        drop it with drop_database."""
        self.psql("CREATE DATABASE %s" % name, user=SUPERUSER)
        run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
             "host=%s port=%d dbname=%s user=%s" % (self.pg_socket, self.pg_port, name, SUPERUSER),
             "-f", ROOT / "sql" / "roles.sql"], timeout=60)
        return lambda user: "host=%s port=%d dbname=%s user=%s" % (
            self.pg_socket, self.pg_port, name, user)

    def drop_database(self, name):
        self.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name, user=SUPERUSER, check=False)

    def psql(self, sql, user="tenderd", check=True):
        """Run SQL with psql; returns the rows (lists of strings), or the process when
        check is False."""
        p = run([PSQL, "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                 "-d", self.conninfo_for(user), "-c", sql], timeout=60, check=check)
        if not check:
            return p
        return [line.split("\x1f") for line in p.stdout.splitlines() if line != ""]

    # ---- PKI ----

    def cert(self, name):
        return str(self.pki / (name + ".crt"))

    def key(self, name):
        return str(self.pki / (name + ".key"))

    @property
    def ca(self):
        return str(self.pki / "ca.crt")

    def make_cert(self, *args):
        """certs/mkpki.sh DIR ARGS..."""
        run([MKPKI, self.pki] + list(args), timeout=120)

    def fingerprint(self, name):
        return tdclient.cert_fingerprint(self.cert(name))

    def org(self, name):
        return self.participants[name]["organization"]

    # ---- tenderd ----

    def tenderd_cmd(self, *args):
        return [self.tenderd_bin] + list(args)

    def new_log(self, tag):
        self._n += 1
        return self.dir / ("tenderd-%02d-%s.log" % (self._n, tag))

    def tenderctl(self, name, *args, server=None, timeout=30, json_out=False):
        """Run build/tenderctl as participant `name` against `server`."""
        cmd = [self.tenderctl_bin, "--cert", self.cert(name), "--key", self.key(name),
               "--ca", self.ca, "--timeout", "10"]
        if server is not None:
            cmd += ["--server", "127.0.0.1:%d" % server.port]
        if json_out:
            cmd.append("--json")
        cmd += list(args)
        return run(cmd, timeout=timeout, check=False, env=sanitizer_env())


class Tenderd:
    """One tenderd process on a fixed port; start, stop (SIGTERM), kill9, restart."""

    def __init__(self, env, tag, **settings):
        self.env = env
        self.port = free_port()
        # the metrics endpoint on a port of its own for each tenderd (its log names it)
        self.settings = {"db_retry": "1", "required_policy": POLICY,
                         "metrics_listen": "127.0.0.1:0"}
        self.settings.update({k: str(v) for k, v in settings.items()})
        self.log_path = env.new_log(tag)
        self.proc = None
        self.clients = []
        self.exit_codes = []  # (how it was stopped, exit code)
        self.preexec = None   # run in the child before exec (limits)

    def args(self):
        a = [self.env.tenderd_bin, "--listen", "127.0.0.1:%d" % self.port,
             "--cert", self.env.cert("server"), "--key", self.env.key("server"),
             "--ca", self.env.ca, "--db", self.env.conninfo, "--sql_dir", SQL_DIR,
             "--log_key", self.env.key("log"), "--log_cert", self.env.cert("log")]
        for k, v in self.settings.items():
            a += ["--" + k, v]
        return [str(x) for x in a]

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log_text().splitlines()[-n:])

    def metrics_addr(self):
        """host:port of the metrics endpoint of the latest start ("metrics listening on ...")."""
        text = self.log_text()
        text = text[text.rfind("----- tenderd start"):]
        m = re.search(r"metrics listening on (\S+:\d+)", text)
        return m.group(1) if m else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, ready=True):
        assert not self.running()
        with open(self.log_path, "ab") as log:
            log.write(b"----- tenderd start %s\n" % " ".join(self.args()).encode())
            start_offset = log.tell()
            self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=sanitizer_env(),
                                         preexec_fn=self.preexec)
        if ready:
            self.wait_ready(start_offset)
        return self

    def wait_ready(self, offset=0, timeout=READY_TIMEOUT):
        """Poll until tenderd answers hello over TLS and has its database connection."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tenderd exited with %d during start-up:\n%s" % (
                    self.proc.returncode, self.log_tail()))
            # msg="db ready", "msg":"db ready", or a tenderd of before ("... info db ready")
            db_ready = "db ready" in self.log_text()[offset:]
            if db_ready:
                try:
                    with self.client("operator", timeout=5) as c:
                        r = c.request("hello", timeout=5)
                        if r.get("ok"):
                            return
                        last = r
                except (OSError, tdclient.Closed, tdclient.Timeout) as e:
                    last = e
            time.sleep(0.05)
        raise RuntimeError("tenderd not ready after %.0f s (last: %r):\n%s" % (
            timeout, last, self.log_tail()))

    def client(self, name, timeout=tdclient.DEFAULT_TIMEOUT):
        """A connection as `name`, not tracked."""
        return tdclient.Client(self.port, self.env.ca, self.env.cert(name), self.env.key(name),
                               name=name, timeout=timeout)

    def connect(self, name, timeout=tdclient.DEFAULT_TIMEOUT):
        """A connection as `name`, closed at the end of the test."""
        c = self.client(name, timeout)
        self.clients.append(c)
        return c

    def close_clients(self):
        for c in self.clients:
            c.close()
        self.clients = []

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit code."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            self.exit_codes.append(("SIGTERM (hung, killed)", None))
            raise AssertionError("tenderd did not exit within %.0f s of SIGTERM" % timeout)
        self.exit_codes.append(("SIGTERM", rc))
        return rc

    def kill9(self):
        if self.running():
            self.proc.kill()
            self.proc.wait(10)
            self.exit_codes.append(("SIGKILL", self.proc.returncode))

    def restart(self, ready=True):
        if self.running():
            self.stop()
        return self.start(ready)

    def sanitizer_reports(self):
        text = self.log_text()
        return [m for m in SANITIZER_MARKS if m in text]


@pytest.fixture(scope="session")
def env():
    assert (BUILD / "tenderd").exists(), "no %s/tenderd: run make" % BUILD
    base = tempfile.mkdtemp(prefix="tdit-", dir="/tmp")
    os.chmod(base, 0o755)
    e = Env(base)
    try:
        e.pg_start()
        names = list(PARTICIPANTS) + UNREGISTERED
        e.make_cert(*names)
        e.make_cert("--expired", "expired")
        e.make_cert("--rogue", "rogue")
        e.migrate()
        for name, (role, org, display) in PARTICIPANTS.items():
            run(e.tenderd_cmd("register", "--db", e.conninfo, "--required_policy", POLICY,
                              "--role", role,
                              "--organization", org, "--name", display,
                              "--cert", e.cert(name)), env=sanitizer_env())
            e.participants[name] = {"role": role, "organization": org, "name": display,
                                    "fingerprint": e.fingerprint(name)}
        yield e
    finally:
        for s in e.servers:
            try:
                s.close_clients()
                s.kill9() if s.running() else None
            except Exception:
                pass
        try:
            run([PGCTL, "stop", e.pg], timeout=120, check=False)
        finally:
            if os.environ.get("TENDERD_KEEP_TMP"):
                print("kept", base)
            else:
                shutil.rmtree(base, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for node in item.listchain():
            for s in getattr(node, "_tenderds", []):
                rep.sections.append(("tenderd log %s (tail)" % s.log_path.name, s.log_tail()))


class Factory:
    """Starts tenderds for a test (or a module) and checks them when it is over."""

    def __init__(self, env, node):
        self.env = env
        self.node = node
        self.started = []
        node._tenderds = self.started

    def __call__(self, start=True, **settings):
        s = Tenderd(self.env, self.node.name[:40].replace("/", "_").replace(".py", ""),
                    **settings)
        # tenderd is the only writer of its database (it holds a writer lock): a server
        # shared by a module steps aside while a test runs its own, and comes back after
        self.paused = getattr(self, "paused", [])
        for other in self.env.servers:
            if other.running() and other not in self.started:
                other.close_clients()
                other.stop()
                self.paused.append(other)
        self.env.servers.append(s)
        self.started.append(s)
        if start:
            s.start()
        return s

    def finish(self):
        """Stop every server with SIGTERM; fail on a bad exit or a sanitizer report."""
        problems = []
        try:
            self._check(problems)
        finally:
            for other in getattr(self, "paused", []):
                if not other.running():
                    other.start()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

    def _check(self, problems):
        for s in self.started:
            s.close_clients()
            if s.running():
                try:
                    s.stop()
                except AssertionError as e:
                    problems.append(str(e))
            for how, rc in s.exit_codes:
                if how.startswith("SIGTERM") and rc != 0:
                    problems.append("tenderd exited with %r after SIGTERM" % rc)
            found = s.sanitizer_reports()
            if found:
                problems.append("sanitizer report in %s: %s\n%s" % (
                    s.log_path.name, ", ".join(found), sanitizer_excerpt(s.log_text())))


@pytest.fixture
def tenderd_factory(env, request):
    """Start tenderd with settings: tenderd_factory(idle_timeout=2)."""
    f = Factory(env, request.node)
    yield f
    f.finish()


@pytest.fixture(scope="module")
def module_tenderd_factory(env, request):
    """The same, for servers shared by the tests of a module."""
    f = Factory(env, request.node)
    yield f
    f.finish()


def sanitizer_excerpt(text, lines=80):
    out = text.splitlines()
    for i, line in enumerate(out):
        if any(m in line for m in SANITIZER_MARKS):
            return "\n".join(out[max(0, i - 5):i + lines])
    return ""


@pytest.fixture
def server(tenderd_factory):
    """A tenderd with default settings."""
    return tenderd_factory()


@pytest.fixture
def unique():
    """A short unique suffix for titles and certificate names."""
    return uuid.uuid4().hex[:10]

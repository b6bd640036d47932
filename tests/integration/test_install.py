"""`make install DESTDIR=... PREFIX=/usr/local` and `make uninstall` (docs/operations.md,
"Installing as a service"): the installed layout; the installed tenderd, configured from the
installed example configuration, migrates a fresh database with the installed migrations and
the installed roles.sql, registers an operator, serves hello over TLS, reports READY=1,
RELOADING=1/READY=1 on SIGHUP and STOPPING=1 to its NOTIFY_SOCKET, and the installed
tenderctl reaches it; the unit passes `systemd-analyze verify`; `make uninstall` removes every
file it installed. Nothing runs from the source tree: the installed binaries run in an empty
directory, with only installed files."""
import os
import re
import shutil
import signal
import subprocess
import uuid

import pytest

import tdclient
from conftest import BUILD, OWNER, POLICY, PSQL, ROOT, SUPERUSER, free_port, run
from test_notify import NotifySocket

PREFIX = "/usr/local"
DEFAULT_SQLDIR = PREFIX + "/share/tenderd/sql"


def make(target, destdir):
    """make TARGET with the build under test (nothing rebuilt when it is up to date); not
    a part of an outer make's job server."""
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS",
                                                                 "MAKELEVEL")}
    return run(["make", "-C", ROOT, "--no-print-directory", "BUILD=%s" % BUILD,
                "PREFIX=%s" % PREFIX, "DESTDIR=%s" % destdir, target], timeout=300,
               env=environ)


def files_under(d):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if not p.is_dir())


def configure(example, env, destdir, port, conninfo):
    """The installed example with this machine's paths: its settings replaced, the rest kept."""
    values = {"listen": "127.0.0.1:%d" % port, "cert": env.cert("server"),
              "key": env.key("server"), "ca": env.ca, "log_key": env.key("log"),
              "log_cert": env.cert("log"), "db": '"%s"' % conninfo,
              "sql_dir": str(destdir) + DEFAULT_SQLDIR, "required_policy": POLICY,
              "db_retry": "1"}
    text = example
    for k, v in values.items():
        line = "%s = %s" % (k, v)
        text, n = re.subn(r"^%s = .*$" % k, lambda m: line, text, count=1, flags=re.M)
        if n == 0:
            text += line + "\n"
    return text


@pytest.fixture
def installed(tmp_path):
    destdir = tmp_path / "dest"
    make("install", destdir)
    yield destdir
    if destdir.exists():
        make("uninstall", destdir)


def test_install_layout_and_uninstall(installed):
    d = installed
    got = files_under(d)
    sql = sorted(p.name for p in (ROOT / "sql").glob("*.sql"))
    for f in (["usr/local/bin/tenderd", "usr/local/bin/tenderctl",
               "usr/local/share/man/man8/tenderd.8", "usr/local/share/man/man5/tenderd.conf.5",
               "usr/local/share/man/man1/tenderctl.1",
               "usr/local/lib/systemd/system/tenderd.service",
               "usr/local/lib/sysusers.d/tenderd.conf",
               "usr/local/share/doc/tenderd/tenderd.conf.example",
               "usr/local/share/doc/tenderd/operations.md"]
              + ["usr/local/share/tenderd/sql/" + s for s in sql]):
        assert f in got, f
    assert "roles.sql" in sql
    assert os.access(d / "usr/local/bin/tenderd", os.X_OK)
    # nothing outside the prefix: no /etc, no configuration overwritten
    assert all(f.startswith("usr/local/") for f in got), got
    unit = (d / "usr/local/lib/systemd/system/tenderd.service").read_text()
    for want in ["Type=notify", "User=tenderd", "ExecReload=/bin/kill -HUP $MAINPID",
                 "ExecStart=/usr/local/bin/tenderd -c /etc/tenderd/tenderd.conf",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "ProtectHome=yes",
                 "PrivateTmp=yes", "PrivateDevices=yes",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "LimitNOFILE=",
                 "Restart=on-failure"]:
        assert want in unit, want
    # the pages render from the installed tree
    for page in ["man8/tenderd.8", "man5/tenderd.conf.5", "man1/tenderctl.1"]:
        p = subprocess.run(["man", "--warnings", "-l", str(d / "usr/local/share/man" / page)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 0 and p.stderr == b"" and b"SEE ALSO" in p.stdout, page
    make("uninstall", d)
    assert files_under(d) == [], "left after make uninstall: %s" % files_under(d)
    assert not (d / "usr/local/share/tenderd").exists()
    shutil.rmtree(d)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_unit_passes_systemd_analyze_verify(installed, tmp_path):
    d = installed
    unit = (d / "usr/local/lib/systemd/system/tenderd.service").read_text()
    # the binary at its DESTDIR place, the pages of Documentation= from the DESTDIR man tree
    (tmp_path / "units").mkdir()
    (tmp_path / "units" / "tenderd.service").write_text(
        unit.replace("/usr/local/bin/tenderd", str(d / "usr/local/bin/tenderd")))
    p = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "units/tenderd.service")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
                       env=dict(os.environ, MANPATH=str(d / "usr/local/share/man")))
    assert p.returncode == 0, p.stdout


def test_installed_tenderd_migrates_serves_and_reports(env, installed, tmp_path, monkeypatch):
    d = installed
    bindir = d / "usr/local/bin"
    sqldir = d / DEFAULT_SQLDIR.lstrip("/")
    work = tmp_path / "empty"   # the installed binaries run here, away from the source tree
    work.mkdir()
    settings = subprocess.run([bindir / "tenderd", "--list-settings"], stdout=subprocess.PIPE,
                              text=True, check=True, cwd=work).stdout
    assert "sql_dir\ttext\t%s\t" % DEFAULT_SQLDIR in settings

    db = "tdinst_" + uuid.uuid4().hex[:8]
    env.psql("CREATE DATABASE %s" % db, user=SUPERUSER)
    try:
        conninfo = lambda user: "host=%s port=%d dbname=%s user=%s" % (
            env.pg_socket, env.pg_port, db, user)
        run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo(SUPERUSER),
             "-f", sqldir / "roles.sql"], timeout=60)
        port = free_port()
        example = (d / "usr/local/share/doc/tenderd/tenderd.conf.example").read_text()
        conf = tmp_path / "tenderd.conf"
        conf.write_text(configure(example, env, d, port, conninfo("tenderd")))

        def tenderd(*args, **kw):
            return run([bindir / "tenderd"] + list(args), cwd=work, **kw)

        # the compiled-in sql_dir is the installed path, never the source tree
        p = tenderd("migrate", "--db", conninfo(OWNER), check=False)
        assert p.returncode == 1 and DEFAULT_SQLDIR in p.stderr, p.stderr
        p = tenderd("migrate", "-c", conf, "--db", conninfo(OWNER))
        applied = re.findall(r"migration applied file=([^\s\"]+)", p.stderr + p.stdout)
        assert sorted(applied) == sorted(f.name for f in sqldir.glob("0*.sql")), applied
        tenderd("register", "-c", conf, "--role", "operator", "--organization", "Install Ops",
                "--name", "Installer", "--cert", env.cert("operator"))

        ns = NotifySocket()
        log = open(tmp_path / "tenderd.log", "wb")
        proc = subprocess.Popen([bindir / "tenderd", "-c", conf], cwd=work, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, NOTIFY_SOCKET=ns.env_value))
        try:
            assert "STATUS=serving" in ns.wait_for("READY=1", timeout=30)
            with tdclient.Client(port, env.ca, env.cert("operator"), env.key("operator"),
                                 name="operator", timeout=10) as c:
                assert c.ok("hello")["ok"]
            # the installed tenderctl, with its configuration file
            ctlconf = tmp_path / "tenderctl.conf"
            ctlconf.write_text("server = 127.0.0.1:%d\ncert = %s\nkey = %s\nca = %s\n" % (
                port, env.cert("operator"), env.key("operator"), env.ca))
            p = run([bindir / "tenderctl", "--config", ctlconf, "hello"], cwd=work, timeout=30)
            assert p.returncode == 0
            proc.send_signal(signal.SIGHUP)
            ns.wait_for("RELOADING=1")
            ns.wait_for("READY=1")
            proc.send_signal(signal.SIGTERM)
            ns.wait_for("STOPPING=1")
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            log.close()
            ns.close()
    finally:
        env.drop_database(db)

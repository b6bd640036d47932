"""tenderctl's configuration file (docs/tenderctl.md, "Configuration file"): the server address
and the certificate paths come from ~/.config/tenderctl/config ($XDG_CONFIG_HOME respected),
or the file named by TENDERCTL_CONFIG or --config; the environment overrides the file and the
command line overrides both; relative file names are relative to the file's directory."""
import os
import pathlib
import shutil
import subprocess

import pytest


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def clean_env(home, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TENDERCTL_") and k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    env.update(extra)
    return env


def ctl(env, environ, *args):
    return subprocess.run([str(env.tenderctl_bin)] + [str(a) for a in args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30,
                          env=environ)


def write_config(path, env, server, name="operator", relative=False, **more):
    """A config file for participant `name`; with relative, its PKI files are copied next to it
    and named relatively."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if relative:
        (path.parent / "pki").mkdir(exist_ok=True)
        for src, dst in [(env.cert(name), "pki/me.crt"), (env.key(name), "pki/me.key"),
                         (env.ca, "pki/ca.crt")]:
            shutil.copy(src, path.parent / dst)
        cert, key, ca = "pki/me.crt", "pki/me.key", "pki/ca.crt"
    else:
        cert, key, ca = env.cert(name), env.key(name), env.ca
    lines = ["# tenderctl defaults", "server = 127.0.0.1:%d" % server.port,
             "cert = %s   # the operator" % cert, 'key = "%s"' % key, "ca = %s" % ca, ""]
    lines += ["%s = %s" % kv for kv in more.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_default_location_gives_server_and_certificates(env, server, home):
    write_config(home / ".config" / "tenderctl" / "config", env, server)
    p = ctl(env, clean_env(home), "--json", "hello")
    assert p.returncode == 0, p.stderr
    assert '"ok":true' in p.stdout.replace(" ", "")


def test_xdg_config_home_and_relative_paths(env, server, home, tmp_path):
    xdg = tmp_path / "xdg"
    write_config(xdg / "tenderctl" / "config", env, server, relative=True)
    # run from elsewhere: the relative names are taken from the file's directory
    p = subprocess.run([str(env.tenderctl_bin), "hello"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30, cwd="/",
                       env=clean_env(home, XDG_CONFIG_HOME=str(xdg)))
    assert p.returncode == 0, p.stderr
    # ~/.config is not read when XDG_CONFIG_HOME is set
    write_config(home / ".config" / "tenderctl" / "config", env, server, timeout="nonsense")
    p = ctl(env, clean_env(home, XDG_CONFIG_HOME=str(xdg)), "hello")
    assert p.returncode == 0, p.stderr


def test_tenderctl_config_and_config_option(env, server, home, tmp_path):
    good = write_config(tmp_path / "good.conf", env, server)
    p = ctl(env, clean_env(home, TENDERCTL_CONFIG=str(good)), "hello")
    assert p.returncode == 0, p.stderr
    p = ctl(env, clean_env(home), "hello", "--config", good)
    assert p.returncode == 0, p.stderr
    p = ctl(env, clean_env(home), "--config=%s" % good, "hello")
    assert p.returncode == 0, p.stderr
    # --config wins over TENDERCTL_CONFIG
    bad = tmp_path / "bad.conf"
    bad.write_text("server = 127.0.0.1:1\n")
    p = ctl(env, clean_env(home, TENDERCTL_CONFIG=str(bad)), "--config", good, "hello")
    assert p.returncode == 0, p.stderr


def test_command_line_and_environment_win_over_the_file(env, server, home, tmp_path):
    from conftest import free_port
    wrong = "127.0.0.1:%d" % free_port()
    conf = write_config(tmp_path / "c.conf", env, server)
    # the file's server works; --server on the command line wins (nothing listens there)
    p = ctl(env, clean_env(home), "--config", conf, "--timeout", "3", "--server", wrong, "hello")
    assert p.returncode == 3, (p.returncode, p.stderr)
    p = ctl(env, clean_env(home, TENDERCTL_SERVER=wrong), "--config", conf, "--timeout", "3",
            "hello")
    assert p.returncode == 3, (p.returncode, p.stderr)
    # the file's server is wrong, the command line's right
    conf2 = write_config(tmp_path / "c2.conf", env, server)
    conf2.write_text(conf2.read_text().replace("127.0.0.1:%d" % server.port, wrong))
    p = ctl(env, clean_env(home), "--config", conf2, "--server", "127.0.0.1:%d" % server.port,
            "hello")
    assert p.returncode == 0, p.stderr
    # the certificate: the command line's wins (a supplier is not an operator)
    p = ctl(env, clean_env(home), "--config", conf, "--json", "--cert", env.cert("supplier1"),
            "--key", env.key("supplier1"), "hello")
    assert p.returncode == 0 and '"supplier"' in p.stdout, (p.stdout, p.stderr)


def test_bad_config_files_are_usage_errors(env, server, home, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("server = 127.0.0.1:7443\nsevrer = x\n")
    p = ctl(env, clean_env(home), "--config", bad, "hello")
    assert p.returncode == 2
    assert "%s:2: unknown setting 'sevrer'" % bad in p.stderr, p.stderr
    bad.write_text("timeout = soon\n")
    p = ctl(env, clean_env(home), "--config", bad, "hello")
    assert p.returncode == 2 and "--timeout wants whole seconds" in p.stderr, p.stderr
    assert "%s:1" % bad in p.stderr, p.stderr
    bad.write_text("just words\n")
    p = ctl(env, clean_env(home), "--config", bad, "hello")
    assert p.returncode == 2 and "%s:1: expected key = value" % bad in p.stderr, p.stderr
    # a file named explicitly must exist; the default one need not
    missing = tmp_path / "missing.conf"
    for environ, args in [(clean_env(home), ["--config", missing]),
                          (clean_env(home, TENDERCTL_CONFIG=str(missing)), [])]:
        p = ctl(env, environ, *args, "hello")
        assert p.returncode == 2 and "config file %s: No such file" % missing in p.stderr, \
            p.stderr
    p = ctl(env, clean_env(home), "--version")
    assert p.returncode == 0, p.stderr

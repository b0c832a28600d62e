"""The build tree installed into a staging directory (DESTDIR) and used
from outside the source and build trees, as a distribution's users would:
C through pkg-config, Python and gjs through the typelib, Vala through the
vapi; and the API reference gi-docgen built, when the tree has -Ddocs=true.

The staged files keep the build's prefix, so the test reads the staged
redspice-1.0.pc with its paths moved into the staging directory (what it
would say had the prefix been there), and points the loaders there with
GI_TYPELIB_PATH and LD_LIBRARY_PATH; nothing of the build tree is on any
path.
"""

import glob
import json
import os
import re
import subprocess

import pytest

from helpers import BUILD_DIR, SOURCE_DIR, serve_c_example_once

TIME_LIMIT = 600


def build_option(name):
    out = subprocess.run(["meson", "introspect", "--buildoptions", BUILD_DIR],
                         capture_output=True, text=True, check=True)
    return next(o["value"] for o in json.loads(out.stdout) if o["name"] == name)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """(destdir, prefix inside it, libdir inside it, environment)."""
    destdir = str(tmp_path_factory.mktemp("destdir"))
    out = subprocess.run(["meson", "install", "-C", BUILD_DIR, "--no-rebuild", "--quiet",
                          "--destdir", destdir], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    prefix = destdir + build_option("prefix")
    libdir_option = build_option("libdir")
    libdir = libdir_option if os.path.isabs(libdir_option) else os.path.join(
        build_option("prefix"), libdir_option)
    libdir = destdir + libdir
    # A clean environment: none of `meson devenv`'s build-tree paths.
    env = {k: v for k, v in os.environ.items()
           if k not in ("GI_TYPELIB_PATH", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH",
                        "XDG_DATA_DIRS", "GST_PLUGIN_PATH", "PYTHONPATH",
                        "REDSPICE_LOCALEDIR")}
    pcdir = os.path.join(destdir, "pkgconfig-staged")
    os.makedirs(pcdir)
    with open(os.path.join(libdir, "pkgconfig", "redspice-1.0.pc")) as f:
        pc = f.read()
    pc = re.sub(r"^(prefix|libdir|includedir)=(/.*)$", lambda m: "%s=%s%s" % (
        m[1], destdir, m[2]), pc, flags=re.M)
    with open(os.path.join(pcdir, "redspice-1.0.pc"), "w") as f:
        f.write(pc)
    env.update({
        "GI_TYPELIB_PATH": os.path.join(libdir, "girepository-1.0"),
        "LD_LIBRARY_PATH": libdir,
        "PKG_CONFIG_PATH": pcdir,
        "REDSPICE_PORT": "0",
    })
    return destdir, prefix, libdir, env


def run_outside(argv, env, tmp_path, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=timeout)


def test_the_install_has_every_part(staged):
    _destdir, prefix, libdir, _env = staged
    for path in [
        os.path.join(libdir, "libredspice-1.0.so.0.1.0"),
        os.path.join(libdir, "libredspice-1.0.so.0"),
        os.path.join(libdir, "libredspice-1.0.so"),
        os.path.join(libdir, "pkgconfig", "redspice-1.0.pc"),
        os.path.join(libdir, "girepository-1.0", "Red-1.0.typelib"),
        os.path.join(prefix, "include", "redspice-1.0", "redspice.h"),
        os.path.join(prefix, "share", "gir-1.0", "Red-1.0.gir"),
        os.path.join(prefix, "share", "vala", "vapi", "redspice-1.0.vapi"),
        os.path.join(prefix, "share", "locale", "de", "LC_MESSAGES", "redspice.mo"),
    ]:
        assert os.path.exists(path), path
    if build_option("gst-plugin") != "disabled":
        assert os.path.exists(os.path.join(libdir, "gstreamer-1.0", "libgstredspice.so"))
    # The installed library is the shared one, not a debug copy of cargo's
    # target directory with a build-tree RPATH.
    out = subprocess.run(["readelf", "-d", os.path.join(libdir, "libredspice-1.0.so.0.1.0")],
                         capture_output=True, text=True, check=True)
    assert "RPATH" not in out.stdout and "RUNPATH" not in out.stdout, out.stdout


def test_the_api_reference_is_built_and_installed(staged):
    if not build_option("docs"):
        pytest.skip("the build tree has -Ddocs=false (tools/setup configures -Ddocs=true)")
    _destdir, prefix, _libdir, _env = staged
    docs = os.path.join(prefix, "share", "doc", "redspice-1.0")
    assert os.path.exists(os.path.join(docs, "index.html")), os.listdir(prefix + "/share/doc")
    pages = {os.path.basename(p) for p in glob.glob(os.path.join(docs, "*.html"))}
    for page in ["class.Server.html", "class.Display.html", "class.Channel.html",
                 "class.ChannelClient.html", "class.Client.html", "method.Server.start.html",
                 "enum.ImageCompression.html", "flags.TicketFlags.html"]:
        assert page in pages, page
    assert any("threading" in p for p in pages), sorted(pages)


def test_c_uses_the_install(staged, tmp_path):
    destdir, _prefix, libdir, env = staged
    flags = run_outside(["pkg-config", "--cflags", "--libs", "redspice-1.0"], env, tmp_path)
    assert flags.returncode == 0, flags.stderr
    assert destdir in flags.stdout and BUILD_DIR not in flags.stdout, flags.stdout
    exe = str(tmp_path / "c-server")
    out = run_outside(["cc", "-Wall", "-Werror", "-Wno-unused-parameter",
                       os.path.join(SOURCE_DIR, "examples", "c", "server.c"), "-o", exe]
                      + flags.stdout.split(), env, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    ldd = run_outside(["ldd", exe], env, tmp_path)
    assert os.path.join(libdir, "libredspice-1.0.so.0") in ldd.stdout, ldd.stdout
    returncode, err = serve_c_example_once(exe, env=env, cwd=tmp_path)
    assert returncode == 0, err


PYTHON_CHECK = """
import gi
gi.require_version("GIRepository", "2.0")
gi.require_version("Red", "1.0")
from gi.repository import GIRepository, Red
server = Red.Server(port=0)
display = server.add_display(64, 48)
display.fill(0, 0, 64, 48, 0x336699)
server.start()
print(GIRepository.Repository.get_default().get_typelib_path("Red"))
print(server.props.port > 0)
server.stop()
"""

GJS_CHECK = """
import Red from 'gi://Red?version=1.0';
const server = new Red.Server({port: 0});
server.add_display(64, 48);
server.start();
print(server.port > 0);
server.stop();
"""


def test_python_uses_the_install(staged, tmp_path):
    _destdir, _prefix, libdir, env = staged
    out = run_outside(["/usr/bin/python3", "-c", PYTHON_CHECK], env, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    typelib, started = out.stdout.split()
    assert typelib.startswith(libdir), typelib
    assert started == "True"


def test_gjs_uses_the_install(staged, tmp_path):
    _destdir, _prefix, _libdir, env = staged
    script = tmp_path / "check.js"
    script.write_text(GJS_CHECK)
    out = run_outside(["gjs", "-m", str(script)], env, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "true", out.stdout


def test_vala_uses_the_install(staged, tmp_path):
    _destdir, prefix, _libdir, env = staged
    exe = str(tmp_path / "vala-server")
    out = run_outside(["valac", "--pkg", "redspice-1.0", "--pkg", "gio-2.0",
                       "--vapidir", os.path.join(prefix, "share", "vala", "vapi"),
                       "-X", "-w", os.path.join(SOURCE_DIR, "examples", "vala", "server.vala"),
                       "-o", exe], env, tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    out = run_outside([exe], dict(env, REDSPICE_DEMO_SECONDS="1"), tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CRITICAL" not in out.stderr, out.stderr

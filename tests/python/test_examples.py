"""The examples and the gjs test script run from the build tree."""

import os
import sys

from helpers import BUILD_DIR, SOURCE_DIR, run, serve_c_example_once


def run_example(cmd, seconds=None, timeout=60, cwd=None, env=None):
    """Runs an example on a free port (REDSPICE_PORT=0), stopping after
    `seconds` if given (REDSPICE_DEMO_SECONDS)."""
    env = dict(env or {}, REDSPICE_PORT="0")
    if seconds is not None:
        env["REDSPICE_DEMO_SECONDS"] = str(seconds)
    return run(cmd, env=env, timeout=timeout, cwd=cwd)


def test_gjs_api_script():
    out = run_example(["gjs", "-m", os.path.join(SOURCE_DIR, "tests", "gjs", "test-api.js")])
    assert out.returncode == 0, out.stdout + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.endswith(" passed, 0 failed"), out.stdout


def test_gjs_demo_starts_and_stops_cleanly():
    out = run_example(["gjs", "-m", os.path.join(SOURCE_DIR, "examples", "gjs", "desktop.js")], seconds=3)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "spice://127.0.0.1:" in out.stdout
    assert "CRITICAL" not in out.stderr and "WARNING" not in out.stderr, out.stderr


def test_gjs_demo_stops_cleanly_after_its_frame_limit():
    # The frame timer has removed itself: the end must not remove it again.
    out = run_example(["gjs", "-m", os.path.join(SOURCE_DIR, "examples", "gjs", "desktop.js")],
                      seconds=3, env={"REDSPICE_DEMO_FRAMES": "5"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "frozen" in out.stdout and "bye" in out.stdout, out.stdout
    assert "CRITICAL" not in out.stderr and "WARNING" not in out.stderr, out.stderr


def test_python_example_runs():
    out = run_example([sys.executable, os.path.join(SOURCE_DIR, "examples", "python", "server.py")], seconds=2)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CRITICAL" not in out.stderr, out.stderr


def test_vala_example_compiles_against_the_build_tree_vapi_and_runs(tmp_path):
    exe = tmp_path / "vala-server"
    out = run_example(
        [
            "valac", "--pkg", "redspice-1.0", "--pkg", "gio-2.0",
            "--vapidir", BUILD_DIR, "-X", "-w",
            os.path.join(SOURCE_DIR, "examples", "vala", "server.vala"),
            "-o", str(exe),
        ],
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    out = run_example([str(exe)], seconds=2)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CRITICAL" not in out.stderr, out.stderr


def test_c_example_compiles_serves_a_client_and_stops(tmp_path):
    exe = tmp_path / "c-server"
    source = os.path.join(SOURCE_DIR, "examples", "c", "server.c")
    # pkg-config finds redspice-1.0-uninstalled.pc in the build tree
    flags = run(["pkg-config", "--cflags", "--libs", "redspice-1.0"])
    assert flags.returncode == 0, flags.stderr
    out = run(["cc", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror", source,
               "-o", str(exe)] + flags.stdout.split(), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    returncode, err = serve_c_example_once(exe, env=dict(os.environ, REDSPICE_PORT="0"))
    assert returncode == 0, err
    assert "CRITICAL" not in err, err


def test_readme_shows_the_c_example():
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(os.path.join(SOURCE_DIR, "examples", "c", "server.c"), encoding="utf-8") as f:
        example = f.read()
    assert "```c\n" + example + "```\n" in readme, "README.md's C program differs from examples/c/server.c"

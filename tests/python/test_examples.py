"""The examples and the gjs test script run from the build tree."""

import os
import sys

from helpers import BUILD_DIR, SOURCE_DIR, run


def run_example(cmd, seconds=None, timeout=60, cwd=None):
    """Runs an example on a free port (REDSPICE_PORT=0), stopping after
    `seconds` if given (REDSPICE_DEMO_SECONDS)."""
    env = {"REDSPICE_PORT": "0"}
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

"""Shared set-up for the introspection tests.

Run them from the build tree: `meson devenv -C _build /usr/bin/python3 -m
pytest tests/python` (the README's test command does), so that `gi` finds
`Red-1.0.typelib` and `libredspice-1.0.so` there.
"""

import os
import subprocess
import sys
import time

import gi

gi.require_version("Red", "1.0")
from gi.repository import GLib  # noqa: E402

import pytest  # noqa: E402

SOURCE_DIR = os.environ.get(
    "REDSPICE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
)
BUILD_DIR = os.environ.get("REDSPICE_BUILD_DIR", os.path.join(SOURCE_DIR, "_build"))


def iterate_until(predicate, timeout=10.0, context=None):
    """Runs the (default) main context until predicate() or the timeout."""
    context = context or GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        context.iteration(False)
        time.sleep(0.001)
    return True


def run_python(code, env=None, timeout=60):
    """Runs `code` in a fresh interpreter (own GType registry, own threads)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def server():
    from gi.repository import Red

    s = Red.Server()
    yield s
    s.stop()


@pytest.fixture
def served():
    """A running server with one 64x64 display."""
    from gi.repository import Red

    server = Red.Server(port=0)
    display = server.add_display(64, 64)
    server.start()
    yield server, display
    server.stop()

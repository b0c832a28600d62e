"""The pytest fixtures of the introspection tests (pytest finds them here;
plain helpers are in helpers.py and spice_harness.py).

Run the tests from the build tree: `meson test -C _build --suite python`,
or `meson devenv -C _build /usr/bin/python3 -m pytest tests/python`, so that
`gi` finds `Red-1.0.typelib` and `libredspice-1.0.so` there.
"""

import gi

gi.require_version("Red", "1.0")

import pytest  # noqa: E402

from helpers import alarm_after  # noqa: E402


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


@pytest.fixture
def res():
    """spice_harness.Resources: server processes and spice-gtk clients,
    torn down after the test, clients first."""
    # Imported here: only the real-client tests need spice-gtk.
    from spice_harness import Resources

    r = Resources()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def per_test_time_limit(request):
    """Bounds each test of a module that sets TIME_LIMIT (seconds; a test
    may set its own with helpers.time_limit) with SIGALRM. When
    pytest-timeout is installed, its own settings apply instead."""
    limit = getattr(request.function, "time_limit", None) or getattr(
        request.module, "TIME_LIMIT", None)
    if not limit or request.config.pluginmanager.hasplugin("timeout"):
        yield
        return
    with alarm_after(limit):
        yield

"""`spicy-screenshot` of the gjs demo equals the server-side render of the
same frame (the demo holds still after a few frames for this)."""

import os
import re
import subprocess
import time

from helpers import SOURCE_DIR, bgrx_to_rgb, parse_ppm, spicy_screenshot


def test_spicy_screenshot_of_the_demo_equals_the_servers_frame(tmp_path):
    raw = tmp_path / "frame.raw"
    env = dict(os.environ, REDSPICE_PORT="0", REDSPICE_DEMO_FRAMES="10",
               REDSPICE_DEMO_RAW=str(raw), REDSPICE_DEMO_SECONDS="60")
    demo = subprocess.Popen(
        ["gjs", "-m", os.path.join(SOURCE_DIR, "examples", "gjs", "desktop.js")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = None
        deadline = time.monotonic() + 30
        for line in demo.stdout:
            found = re.search(r"spice://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found[1])
            if line.strip() == "frozen":
                break
            assert time.monotonic() < deadline, "the demo did not freeze"
        assert port, "the demo printed no URI"
        out = tmp_path / "shot.ppm"
        spicy_screenshot(port, out)
        width, height, rgb = parse_ppm(out)
        assert (width, height) == (1024, 768)
        assert rgb == bgrx_to_rgb(raw.read_bytes()), "the screenshot differs from the server's frame"
    finally:
        demo.terminate()
        demo.wait(timeout=10)

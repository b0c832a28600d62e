"""The threads of spice-server's threading model (see docs/threading.md):
one RedWorker per display, channels on their core's thread, and no thread
left behind (counted from /proc in a fresh process)."""

from helpers import run_python

CODE = """
import gc, os, threading
import gi; gi.require_version("Red", "1.0")
from gi.repository import Red

def tasks():
    return sorted(int(t) for t in os.listdir("/proc/self/task"))

before = tasks()
main = threading.get_native_id()
s = Red.Server()
a, b = s.add_display(64, 64), s.add_display(32, 32)
s.start()
ta = a.get_display_channel().props.thread_id
tb = b.get_display_channel().props.thread_id
assert ta != main and tb != main and ta != tb, (ta, tb, main)
assert a.get_cursor_channel().props.thread_id == ta
assert b.get_cursor_channel().props.thread_id == tb
assert s.get_main_channel().props.thread_id == main
assert s.get_inputs_channel().props.thread_id == main
assert ta in tasks() and tb in tasks()
assert len(tasks()) == len(before) + 2, (before, tasks())
s.stop()
assert ta not in tasks() and tb not in tasks()
# Start again, then let the last unref do the stopping.
s.start()
tc = a.get_worker().props.thread_id
assert tc in tasks()
del a, b, s
gc.collect()
assert tasks() == before, (before, tasks())
assert Red.debug_get_live_objects("RedWorker") == 0
assert Red.debug_get_live_objects("RedDisplayChannel") == 0
assert Red.debug_get_live_objects("RedServer") == 0
print("ok")
"""


def test_two_displays_two_workers_and_no_thread_left_behind():
    out = run_python(CODE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "ok"

#!/usr/bin/python3
"""Benchmarks redspice side by side with the C libspice-server.

For every workload (benches/workload.c) it runs the redspice benchmark server
and then the libspice-server one (benches/reference/), each on loopback with
the same seed, frame rate and real client (spice-gtk through introspection,
benches/client.py, a process of its own), and measures while the workload
runs:

  fps         distinct frame numbers the client showed, per second
  made/s      frames the application made per second (fewer than asked when
              the server made it wait)
  Mpix/s      pixels of the shown frames' requests, per second
  KiB/frame   bytes the client read on all channels, per shown frame
  srv ms/f    server process CPU (all threads, minus the CPU spent making
              the workload's pixels), per shown frame
  cli ms/f    client process CPU per shown frame
  p50/p95 ms  from the application's first request of a frame to the client
              showing that frame's number (a display-invalidate whose pixels
              carry it); both sides read CLOCK_MONOTONIC
  RSS/client  server resident memory with the client connected, after the
              run, minus before any client connected (MiB)

then each figure as a ratio redspice / libspice-server. Run it through
tools/bench, which builds both servers in release mode.
"""

import argparse
import json
import math
import os
import platform
import select
import socket
import subprocess
import sys
import tempfile
import time

from latency import percentile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
WORKLOADS = ["photo", "text", "box", "scroll", "video"]
SERVERS = [("redspice", "redspice-bench-server"), ("libspice-server", "reference-bench-server")]
TAIL = 1.0  # seconds frames may still arrive after the run and count


class CaseError(Exception):
    pass


class Peer:
    """A child process speaking JSON lines on stdout, taking commands on
    stdin; its stderr goes to a temporary file shown when something fails."""

    def __init__(self, argv, name):
        self.name = name
        self.errors = tempfile.TemporaryFile(mode="w+")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.errors)
        except OSError as e:
            self.errors.close()
            raise CaseError("cannot run %s: %s" % (argv[0], e))
        self.buffer = b""

    def send(self, line):
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise CaseError("%s exited early%s" % (self.name, self._tail()))

    def _line(self, end):
        # raw reads: a buffered reader could hold a line select() never reports
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            data = os.read(fd, 1 << 20)
            if not data:
                self.proc.wait(5)
                raise CaseError("%s exited (status %s)%s" % (self.name, self.proc.returncode, self._tail()))
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def expect(self, event, timeout):
        end = time.monotonic() + timeout
        while True:
            line = self._line(end)
            if line is None:
                raise CaseError("%s: no %r within %.0f s%s" % (self.name, event, timeout, self._tail()))
            msg = json.loads(line)
            if msg.get("event") == "error":
                raise CaseError("%s: %s" % (self.name, msg.get("message")))
            if msg.get("event") == event:
                return msg

    def _tail(self):
        self.errors.seek(0)
        lines = [line.rstrip() for line in self.errors.readlines() if line.strip()]
        return (": " + " | ".join(lines[-5:])) if lines else ""

    def close(self, command=None):
        if self.proc.poll() is None and command:
            try:
                self.send(command)
                self.proc.wait(10)
            except (CaseError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.errors.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_case(build_dir, server_exe, workload, seconds, fps, seed):
    port = free_port()
    server = Peer([os.path.join(build_dir, "benches", server_exe), "--workload", workload,
                   "--port", str(port), "--seed", str(seed), "--fps", str(fps)], server_exe)
    client = None
    try:
        ready = server.expect("ready", 60)
        client = Peer(["/usr/bin/python3", os.path.join(HERE, "client.py"), "--port", str(port),
                       "--stamp", ",".join(map(str, ready["stamp"]))], "client")
        client.expect("connected", 30)
        time.sleep(1.0)  # the first screen reaches the client; channels settle
        client.send("mark")
        marked = client.expect("marked", 10)
        server.send("start %g" % seconds)
        done = server.expect("done", seconds + 60)
        time.sleep(TAIL)
        server.send("status")
        status = server.expect("status", 10)
        client.send("stop")
        result = client.expect("result", 30)
    finally:
        if client:
            client.close("stop")
        server.close("quit")

    frames = done["frames"]
    shown = {int(n): t for n, t in result["shown_us"].items() if 1 <= int(n) <= frames}
    if not shown:
        raise CaseError("the client showed none of the %d frames (%d invalidates, %d unreadable stamps)"
                        % (frames, result["invalidates"], result["bad_stamps"]))
    wall = done["wall_s"]
    n = len(shown)
    latencies = [(t - done["submit_us"][k - 1]) / 1000.0 for k, t in shown.items()]
    server_cpu = status["process_cpu_s"] - done["process_cpu_at_start_s"] - done["gen_cpu_s"]
    return {
        "frames_made": frames,
        "frames_shown": n,
        "fps": n / wall,
        "made_fps": frames / wall,
        "mpix_s": sum(done["frame_pixels"][k - 1] for k in shown) / wall / 1e6,
        "kib_frame": result["bytes"] / n / 1024.0,
        "server_ms_frame": server_cpu * 1000.0 / n,
        "client_ms_frame": result["cpu_s"] * 1000.0 / n,
        "lat_p50": percentile(latencies, 50),
        "lat_p95": percentile(latencies, 95),
        "rss_client_mib": (status["rss_kib"] - ready["rss_kib"]) / 1024.0,
        "input_events": status["input_events"],
        "inputs_sent": marked["inputs_sent"],
        "bad_stamps": result["bad_stamps"],
    }


COLUMNS = [
    ("fps", "fps", "%.1f"),
    ("made_fps", "made/s", "%.1f"),
    ("mpix_s", "Mpix/s", "%.1f"),
    ("kib_frame", "KiB/frame", "%.1f"),
    ("server_ms_frame", "srv ms/f", "%.2f"),
    ("client_ms_frame", "cli ms/f", "%.2f"),
    ("lat_p50", "p50 ms", "%.1f"),
    ("lat_p95", "p95 ms", "%.1f"),
    ("rss_client_mib", "RSS/client MiB", "%.1f"),
]


def ratio(a, b):
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return "-"
    return "%.2f" % (a / b)


def table_rows(results):
    """Rows of cells: per workload, one per server and the ratio."""
    rows = []
    for workload in results["workloads"]:
        per = results["cases"][workload]
        for server, _ in SERVERS:
            r = per.get(server)
            if r is None:
                continue
            if isinstance(r, dict):
                rows.append([workload, server] + [fmt % r[key] for key, _, fmt in COLUMNS])
            else:
                rows.append([workload, server, "failed: %s" % r] + [""] * (len(COLUMNS) - 1))
        a, b = per.get("redspice"), per.get("libspice-server")
        if isinstance(a, dict) and isinstance(b, dict):
            rows.append([workload, "ratio"] + [ratio(a[key], b[key]) for key, _, _ in COLUMNS])
    return rows


def print_table(results):
    header = ["workload", "server"] + [title for _, title, _ in COLUMNS]
    rows = table_rows(results)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *[r for r in rows if len(r) == len(header)])]
    print()
    print("  ".join(h.rjust(w) if i > 1 else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for r in rows:
        if r[2].startswith("failed"):
            print("%s  %s  %s" % (r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2]))
        else:
            print("  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print("\nratio = redspice / libspice-server: above 1 is better for fps, made/s and Mpix/s;"
          " below 1 is better for the others.")


def command_output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def revision():
    """The commit measured, marked when files other than the docs this
    command writes differ from it."""
    commit = command_output(["git", "-C", SOURCE, "rev-parse", "--short", "HEAD"])
    changed = command_output(["git", "-C", SOURCE, "status", "--porcelain", "--", ".", ":!docs"])
    return commit + (" with uncommitted changes" if changed not in ("", "unknown") else "")


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        debian = "unknown"

    def pkg(name):
        return command_output(["dpkg-query", "-W", "-f=${Version}", name])

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "debian": debian,
        "libspice-server": pkg("libspice-server1"),
        "spice-gtk": pkg("libspice-client-glib-2.0-8"),
        "gstreamer": pkg("libgstreamer1.0-0"),
        "rustc": command_output(["rustc", "--version"]),
        "redspice": revision(),
    }


def markdown(results):
    m = results["machine"]
    out = []
    out.append("Run: `%s` on %s, %d s per case at %d fps, seed %d.\n"
               % (results["command"], results["date"], results["seconds"], results["fps"], results["seed"]))
    out.append("Machine: %s, %d cores, %.1f GiB, Linux %s, Debian %s. libspice-server %s, spice-gtk %s,"
               " GStreamer %s, %s, redspice %s (release build).\n"
               % (m["cpu"], m["cores"], m["memory_gib"], m["kernel"], m["debian"], m["libspice-server"],
                  m["spice-gtk"], m["gstreamer"], m["rustc"], m["redspice"]))
    header = ["workload", "server"] + [title for _, title, _ in COLUMNS]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for r in table_rows(results):
        out.append("| " + " | ".join(r) + " |")
    out.append("\nratio = redspice / libspice-server: above 1 is better for fps, made/s and Mpix/s;"
               " below 1 is better for the others.")
    return "\n".join(out) + "\n"


def write_markdown(path, results):
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n%s\n%s\n" % (begin, end)
    if begin not in text or end not in text:
        text += "\n%s\n%s\n" % (begin, end)
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + markdown(results) + end + tail)


def plot(path, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = results["workloads"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    panels = (
        (axes[0], "fps", "frames/s the client showed (higher is better)", False),
        (axes[1], "kib_frame", "KiB on the wire per frame (lower is better)", True),
        (axes[2], "lat_p50", "update latency p50, ms (lower is better)", True),
    )
    for ax, key, title, log in panels:
        for i, (server, _) in enumerate(SERVERS):
            values = []
            for w in workloads:
                r = results["cases"][w].get(server)
                values.append(r[key] if isinstance(r, dict) else 0)
            xs = [j + (i - 0.5) * 0.38 for j in range(len(workloads))]
            bars = ax.bar(xs, values, 0.38, label=server if ax is axes[0] else None,
                          color=("#3b7dd8", "#e07b39")[i])
            for b, v in zip(bars, values):
                ax.annotate(("%.0f" if v >= 10 else "%.1f") % v, (b.get_x() + b.get_width() / 2, v),
                            ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(workloads)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
    fig.legend(loc="upper right", fontsize=9, ncol=2)
    fig.suptitle("redspice vs libspice-server: 1920x1080 display, %d fps asked, spice-gtk client on loopback"
                 % results["fps"], fontsize=10, x=0.4)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True, help="a meson build tree with -Dbenchmarks=true")
    ap.add_argument("--quick", action="store_true", help="2 s per case: a smoke test")
    ap.add_argument("--seconds", type=float, help="seconds per case (default 10, quick 2)")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--servers", default=",".join(name for name, _ in SERVERS))
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--markdown", help="write the table into this file, between its results markers")
    ap.add_argument("--plot", help="write a PNG of fps, KiB/frame and latency here (needs matplotlib)")
    ap.add_argument("--replot", metavar="JSON", help="only write --markdown and --plot from a --json file")
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %s" % w)

    if args.replot:
        with open(args.replot) as f:
            results = json.load(f)
        if args.markdown:
            write_markdown(args.markdown, results)
        if args.plot:
            plot(args.plot, results)
        return 0

    results = {
        "command": "bash tools/bench" + (" --quick" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d"),
        "seconds": seconds, "fps": args.fps, "seed": args.seed,
        "workloads": workloads, "machine": machine(), "cases": {},
    }
    failures = 0
    for workload in workloads:
        results["cases"][workload] = {}
        for server, exe in SERVERS:
            if server not in args.servers.split(","):
                continue
            print("== %s on %s ..." % (workload, server), end=" ", flush=True)
            try:
                r = run_case(args.build_dir, exe, workload, seconds, args.fps, args.seed)
                print("%d of %d frames shown, %.1f fps, p50 %.1f ms" %
                      (r["frames_shown"], r["frames_made"], r["fps"], r["lat_p50"]), flush=True)
                if r["input_events"] < 1:
                    raise CaseError("the server received none of the client's %d input events" % r["inputs_sent"])
            except CaseError as e:
                r = str(e)
                failures += 1
                print("FAILED: %s" % r, flush=True)
            results["cases"][workload][server] = r
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.markdown:
        write_markdown(args.markdown, results)
    if args.plot:
        plot(args.plot, results)
    if failures:
        print("\n%d case(s) failed" % failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

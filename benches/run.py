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
  max ms      the same for the frame that took longest: the oldest picture
              the client showed
  RSS/client  server resident memory with the client connected, after the
              run, minus before any client connected (MiB)

then each figure as a ratio redspice / libspice-server. Run it through
tools/bench, which builds both servers in release mode.

--link RATE runs every case on a link of that rate instead of plain
loopback: the server starts in a network namespace of its own (unshare)
whose loopback has a 1500-byte MTU and a tc token bucket (tbf) of RATE, and
its clients join that namespace (nsenter), so all the case's traffic, both
ways, crosses the limited link. It needs root and a kernel with tbf; where
either is missing those cases are skipped with a message.

--clients N connects N clients (processes of their own) to each server at
once; each client's fps and latency are measured, and the table shows their
minimum, median and maximum, with the server's CPU per frame made.

Each (link, clients) pair is a table of its own, and --markdown rewrites
that table's results block only.
"""

import argparse
import json
import math
import os
import platform
import re
import select
import socket
import subprocess
import sys
import tempfile
import time

from latency import percentile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
WORKLOADS = ["photo", "text", "box", "scroll", "video", "frames"]
SERVERS = [("redspice", "redspice-bench-server"), ("libspice-server", "reference-bench-server")]
TAIL = 1.0  # seconds frames may still arrive after the run and count
# On a limited link the run starts once the link has carried fewer than
# QUIET_BYTES in QUIET_S (the first screen takes ~25 s at 2 Mbit/s; a TCP
# retransmission can pause it for a few hundred ms), within QUIET_TIMEOUT.
QUIET_S = 1.0
QUIET_BYTES = 4096
QUIET_TIMEOUT = 180.0
LOOPBACK = "loopback"  # the --link value for plain, unlimited loopback

# Run as `sh -c LINK_SETUP link-setup RATE ARGV...` in a new network
# namespace: limits its loopback to RATE, then becomes ARGV (same pid).
# tbf, not netem (which this kernel lacks): no added delay, only the queue a
# slow link builds, at most 200 ms of it before packets are dropped.
LINK_SETUP = ('rate=$1; shift; ip link set lo up mtu 1500'
              ' && tc qdisc add dev lo root tbf rate "$rate" burst 64kbit latency 200ms'
              ' && exec "$@"')
# what tc accepts as a rate: 10mbit, 500kbit, 1.5mbit, 2mbps, 1gibit...
RATE_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)?([kmgt]i?)?(bit|bps)$", re.IGNORECASE)


class CaseError(Exception):
    pass


class Peer:
    """A child process speaking JSON lines on stdout, taking commands on
    stdin; its stderr goes to a temporary file shown when something fails."""

    def __init__(self, argv, name, env=None):
        self.name = name
        # REDSPICE_BENCH_SERVER_LOG=FILE appends each server's stderr there
        # (with G_MESSAGES_DEBUG=redspice, its debug log)
        log = os.environ.get("REDSPICE_BENCH_SERVER_LOG")
        if log and name.endswith("-bench-server"):
            self.errors = open(log, "a+")
            self.errors.write("== %s\n" % " ".join(argv))
            self.errors.flush()
        else:
            self.errors = tempfile.TemporaryFile(mode="w+")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.errors, env=env)
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


def on_link(argv, rate):
    """argv, run in a network namespace of its own whose loopback carries
    `rate`: a case's server starts there, and its clients join it with
    in_namespace_of(), so that all their traffic crosses the limited link
    while everything else stays as on plain loopback."""
    return ["unshare", "--net", "sh", "-c", LINK_SETUP, "link-setup", rate] + argv


def in_namespace_of(pid, argv):
    """argv, run in the network namespace of process pid."""
    return ["nsenter", "--net=/proc/%d/ns/net" % pid] + argv


def link_bytes(pid):
    """Bytes the loopback of process pid's network namespace has carried
    (/proc/PID/net is the process's namespace's)."""
    with open("/proc/%d/net/dev" % pid) as f:
        for line in f:
            name, _, counters = line.partition(":")
            if name.strip() == "lo":
                return int(counters.split()[0])
    raise CaseError("no loopback in the network namespace of process %d" % pid)


def wait_until_quiet(pid):
    """Waits until the loopback of process pid's namespace has carried
    under QUIET_BYTES in the last QUIET_S, and returns (seconds waited,
    bytes carried): on a slow link the first screen is still on the wire
    long after the client has its surface, and spice-gtk's byte counters
    grow only by whole messages, so only the link itself tells."""
    start = time.monotonic()
    # (time, bytes); the first is the newest at least QUIET_S old
    samples = [(start, link_bytes(pid))]
    while True:
        time.sleep(0.1)
        now = time.monotonic()
        samples.append((now, link_bytes(pid)))
        while len(samples) > 2 and now - samples[1][0] >= QUIET_S:
            samples.pop(0)
        since, carried_then = samples[0]
        if now - since >= QUIET_S and samples[-1][1] - carried_then < QUIET_BYTES:
            return now - start, samples[-1][1]
        if now - start > QUIET_TIMEOUT:
            raise CaseError("the link was still busy after %.0f s (the first screen)" % QUIET_TIMEOUT)


def link_problem(rate):
    """Why cases on a `rate` link cannot run here, or None when they can:
    namespaces and tc need root (containers often refuse them), iproute2
    and a kernel with the tbf qdisc, so ask once rather than fail every
    case."""
    try:
        subprocess.run(on_link(["true"], rate), capture_output=True, text=True, timeout=30, check=True)
    except OSError as e:
        return "cannot run unshare: %s" % e
    except subprocess.TimeoutExpired:
        return "setting the link up took over 30 s"
    except subprocess.CalledProcessError as e:
        lines = [line for line in e.stderr.splitlines() if line.strip()]
        return "setting the link up failed (status %d)%s" % (e.returncode, ": " + lines[-1] if lines else "")
    return None


def load_average():
    """/proc/loadavg's 1, 5 and 15 minute averages: other work on the
    machine moves the figures, so each table notes it."""
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def client_figures(result, done, link):
    """One client's figures from its result and the server's done event.
    On loopback a client showing no frame means the harness or a server is
    broken; on a limited link it is a figure (fps 0, no latency)."""
    frames = done["frames"]
    wall = done["wall_s"]
    shown = {int(n): t for n, t in result["shown_us"].items() if 1 <= int(n) <= frames}
    if not shown and link == LOOPBACK:
        raise CaseError("the client showed none of the %d frames (%d invalidates, %d unreadable stamps)"
                        % (frames, result["invalidates"], result["bad_stamps"]))
    n = len(shown)
    latencies = [(t - done["submit_us"][k - 1]) / 1000.0 for k, t in shown.items()]
    return {
        "frames_shown": n,
        "fps": n / wall,
        "mpix_s": sum(done["frame_pixels"][k - 1] for k in shown) / wall / 1e6,
        "kib_frame": result["bytes"] / n / 1024.0 if n else float("nan"),
        "kib_total": result["bytes"] / 1024.0,
        "client_ms_frame": result["cpu_s"] * 1000.0 / n if n else float("nan"),
        "lat_p50": percentile(latencies, 50),
        "lat_p95": percentile(latencies, 95),
        "lat_max": max(latencies) if latencies else float("nan"),
        "bad_stamps": result["bad_stamps"],
    }


def run_case(build_dir, server_exe, workload, seconds, fps, seed, link=LOOPBACK, n_clients=1):
    """Runs one server with n_clients clients on `link` (LOOPBACK or a tc
    rate) and returns its figures: the server's, and each client's under
    "clients" (with one client, its figures are the case's too)."""
    port = free_port()
    argv = [os.path.join(build_dir, "benches", server_exe), "--workload", workload,
            "--port", str(port), "--seed", str(seed), "--fps", str(fps)]
    if link != LOOPBACK:
        argv = on_link(argv, link)
    # libspice-server keeps a second client only with this debug switch
    # (a new client otherwise replaces the one connected); redspice ignores it
    env = dict(os.environ, SPICE_DEBUG_ALLOW_MC="1") if n_clients > 1 else None
    server = Peer(argv, server_exe, env)
    clients = []
    try:
        ready = server.expect("ready", 60)
        client_argv = ["/usr/bin/python3", os.path.join(HERE, "client.py"), "--port", str(port),
                       "--stamp", ",".join(map(str, ready["stamp"]))]
        if link != LOOPBACK:
            client_argv = in_namespace_of(server.proc.pid, client_argv)
        for i in range(n_clients):
            clients.append(Peer(client_argv, "client" if n_clients == 1 else "client %d" % (i + 1)))
            clients[-1].expect("connected", 30)
        time.sleep(1.0)  # the first screen reaches the client; channels settle
        if link != LOOPBACK:
            quiet_s, first_screen_bytes = wait_until_quiet(server.proc.pid)
        for client in clients:
            client.send("mark")
        marked = [client.expect("marked", 10) for client in clients]
        server.send("start %g" % seconds)
        done = server.expect("done", seconds + 60)
        time.sleep(TAIL)
        server.send("status")
        status = server.expect("status", 10)
        for client in clients:
            client.send("stop")
        results = [client.expect("result", 30) for client in clients]
    finally:
        for client in clients:
            client.close("stop")
        server.close("quit")

    if status["clients"] < n_clients:
        raise CaseError("the server had %d of the %d clients at the end" % (status["clients"], n_clients))
    per_client = [client_figures(result, done, link) for result in results]
    frames = done["frames"]
    server_cpu = status["process_cpu_s"] - done["process_cpu_at_start_s"] - done["gen_cpu_s"]
    figures = {
        "frames_made": frames,
        "made_fps": frames / done["wall_s"],
        "server_cpu_s": server_cpu,
        "server_ms_made": server_cpu * 1000.0 / frames if frames else float("nan"),
        "rss_client_mib": (status["rss_kib"] - ready["rss_kib"]) / 1024.0 / n_clients,
        "input_events": status["input_events"],
        "inputs_sent": sum(m["inputs_sent"] for m in marked),
        "clients": per_client,
    }
    if link != LOOPBACK:
        # the link's traffic (both ways, with headers) until it was quiet,
        # and how long that took after the first second
        figures["first_screen_link_kib"] = first_screen_bytes / 1024.0
        figures["quiet_wait_s"] = quiet_s
    if n_clients == 1:
        figures.update(per_client[0])
        shown = per_client[0]["frames_shown"]
        figures["server_ms_frame"] = server_cpu * 1000.0 / shown if shown else float("nan")
    return figures


# The one-client tables: (figure, title, format).
COLUMNS = [
    ("fps", "fps", "%.1f"),
    ("made_fps", "made/s", "%.1f"),
    ("mpix_s", "Mpix/s", "%.1f"),
    ("kib_frame", "KiB/frame", "%.1f"),
    ("server_ms_frame", "srv ms/f", "%.2f"),
    ("client_ms_frame", "cli ms/f", "%.2f"),
    ("lat_p50", "p50 ms", "%.1f"),
    ("lat_p95", "p95 ms", "%.1f"),
    ("lat_max", "max ms", "%.1f"),
    ("rss_client_mib", "RSS/client MiB", "%.1f"),
]

# The tables of several clients: (figure, title, format, over) where over
# is "spread" for each client's figure as min / median / max, "median" for
# the clients' median, and "server" for the server's figure.
CLIENTS_COLUMNS = [
    ("fps", "fps min / med / max", "%.1f", "spread"),
    ("lat_p50", "p50 ms min / med / max", "%.1f", "spread"),
    ("lat_p95", "p95 ms min / med / max", "%.1f", "spread"),
    ("lat_max", "max ms min / med / max", "%.1f", "spread"),
    ("kib_frame", "KiB/frame med", "%.1f", "median"),
    ("client_ms_frame", "cli ms/f med", "%.2f", "median"),
    ("made_fps", "made/s", "%.1f", "server"),
    ("server_ms_made", "srv ms/made", "%.2f", "server"),
    ("rss_client_mib", "RSS/client MiB", "%.1f", "server"),
]

RATIO_NOTE = ("ratio = redspice / libspice-server: above 1 is better for fps, made/s and Mpix/s;"
              " below 1 is better for the others.")
CLIENTS_NOTE = ("min / med / max: over the clients (median by nearest rank); srv ms/made: the server's CPU"
                " per frame the application made, serving all the clients; RSS/client: the server's"
                " growth with all the clients connected, divided by their number.")


def is_missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def cell(fmt, value):
    return "-" if is_missing(value) else fmt % value


def ratio(a, b):
    if is_missing(a) or is_missing(b) or not b:
        return "-"
    return "%.2f" % (a / b)


def header(table):
    if table["clients"] == 1:
        return ["workload", "server"] + [title for _, title, _ in COLUMNS]
    return ["workload", "server", "clients"] + [title for _, title, _, _ in CLIENTS_COLUMNS]


def clients_cells(r):
    """A several-client case's cells, as CLIENTS_COLUMNS says."""
    cells = [str(len(r["clients"]))]
    for key, _, fmt, over in CLIENTS_COLUMNS:
        values = [c[key] for c in r["clients"] if not is_missing(c.get(key))]
        if over == "server":
            cells.append(cell(fmt, r[key]))
        elif not values:
            cells.append("-")
        elif over == "median":
            cells.append(fmt % percentile(values, 50))
        else:
            cells.append(" / ".join(fmt % v for v in (min(values), percentile(values, 50), max(values))))
    return cells


def table_rows(table):
    """Rows of cells: per workload, one per server, and with one client
    their ratio."""
    rows = []
    width = len(header(table))
    for workload in table["workloads"]:
        per = table["cases"].get(workload, {})
        for server, _ in SERVERS:
            r = per.get(server)
            if r is None:
                continue
            if not isinstance(r, dict):
                rows.append([workload, server, "failed: %s" % r] + [""] * (width - 3))
            elif table["clients"] == 1:
                rows.append([workload, server] + [cell(fmt, r.get(key)) for key, _, fmt in COLUMNS])
            else:
                rows.append([workload, server] + clients_cells(r))
        a, b = per.get("redspice"), per.get("libspice-server")
        if table["clients"] == 1 and isinstance(a, dict) and isinstance(b, dict):
            rows.append([workload, "ratio"] + [ratio(a.get(key), b.get(key)) for key, _, _ in COLUMNS])
    return rows


def describe(table):
    """The table's conditions, as its title says them."""
    where = "plain loopback" if table["link"] == LOOPBACK else "a %s link" % table["link"]
    return "%s, %d client%s" % (where, table["clients"], "" if table["clients"] == 1 else "s at once")


def print_table(table):
    title = describe(table)
    print("\n%s%s:" % (title[0].upper(), title[1:]))
    if table.get("skipped"):
        print("skipped: %s" % table["skipped"])
        return
    head = header(table)
    rows = table_rows(table)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *[r for r in rows if not r[2].startswith("failed")])]
    print("  ".join(h.rjust(w) if i > 1 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        if r[2].startswith("failed"):
            print("%s  %s  %s" % (r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2]))
        else:
            print("  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(RATIO_NOTE if table["clients"] == 1 else CLIENTS_NOTE)


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


def markdown(results, table):
    m = results["machine"]
    out = []
    conditions = ""
    if table["link"] != LOOPBACK:
        conditions += ", on a %s link" % table["link"]
    if table["clients"] > 1:
        conditions += ", %d clients at once" % table["clients"]
    out.append("Run: `%s` on %s, %d s per case at %d fps, seed %d%s.\n"
               % (results["command"], results["date"], results["seconds"], results["fps"], results["seed"],
                  conditions))
    if "load_before" in table:
        out.append("Load average (/proc/loadavg, 1, 5 and 15 min): %s before these cases, %s after.\n"
                   % tuple(" ".join("%.2f" % v for v in table[k]) for k in ("load_before", "load_after")))
    out.append("Machine: %s, %d cores, %.1f GiB, Linux %s, Debian %s. libspice-server %s, spice-gtk %s,"
               " GStreamer %s, %s, redspice %s (release build).\n"
               % (m["cpu"], m["cores"], m["memory_gib"], m["kernel"], m["debian"], m["libspice-server"],
                  m["spice-gtk"], m["gstreamer"], m["rustc"], m["redspice"]))
    head = header(table)
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for r in table_rows(table):
        out.append("| " + " | ".join(r) + " |")
    out.append("\n" + (RATIO_NOTE if table["clients"] == 1 else CLIENTS_NOTE))
    return "\n".join(out) + "\n"


def block_name(table):
    """The name of the table's results block in the markdown file: plain
    "results" for one client on loopback (the block the docs always had)."""
    parts = ["results"]
    if table["link"] != LOOPBACK:
        parts.append(table["link"])
    if table["clients"] > 1:
        parts.append("%d clients" % table["clients"])
    return " ".join(parts)


def write_markdown(path, results):
    """Rewrites the results block of each table measured (not skipped),
    leaving the file's other blocks as they are; a block the file lacks is
    added at its end."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    for table in results["tables"]:
        if table.get("skipped"):
            continue
        begin, end = "<!-- %s:begin -->" % block_name(table), "<!-- %s:end -->" % block_name(table)
        if begin not in text or end not in text:
            text += "\n%s\n%s\n" % (begin, end)
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + begin + "\n" + markdown(results, table) + end + tail
    with open(path, "w") as f:
        f.write(text)


def plot(path, results):
    """Plots the one-client loopback table, if the run measured it."""
    tables = [t for t in results["tables"]
              if t["link"] == LOOPBACK and t["clients"] == 1 and not t.get("skipped")]
    if not tables:
        print("no one-client loopback figures: %s left as it is" % path)
        return
    table = tables[0]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = table["workloads"]
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
                r = table["cases"][w].get(server)
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


def split_list(values):
    """The items of options given as lists (a,b,c), repeated, or both."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def case_summary(r, n_clients):
    """The progress line's figures for a case just run."""
    if n_clients == 1:
        return "%d of %d frames shown, %.1f fps, p50 %s ms, max %s ms" % (
            r["frames_shown"], r["frames_made"], r["fps"], cell("%.1f", r["lat_p50"]),
            cell("%.1f", r.get("lat_max")))
    fps = sorted(c["fps"] for c in r["clients"])
    p50 = sorted(c["lat_p50"] for c in r["clients"] if not is_missing(c["lat_p50"]))
    return "%d frames made; over %d clients fps %.1f to %.1f, p50 %s ms" % (
        r["frames_made"], n_clients, fps[0], fps[-1],
        "%.1f to %.1f" % (p50[0], p50[-1]) if p50 else "-")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True, help="a meson build tree with -Dbenchmarks=true")
    ap.add_argument("--quick", action="store_true", help="2 s per case: a smoke test")
    ap.add_argument("--seconds", type=float, help="seconds per case (default 10, quick 2)")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--servers", default=",".join(name for name, _ in SERVERS))
    ap.add_argument("--link", action="append", default=[], metavar="RATE",
                    help="run every case on a link of this tc rate (10mbit, 500kbit...), or %s for plain"
                         " loopback (the default); repeat it or give a list: 50mbit,10mbit" % LOOPBACK)
    ap.add_argument("--clients", action="append", default=[], metavar="N",
                    help="clients connected at once (default 1); repeat it or give a list: 1,8")
    ap.add_argument("--command", help="the command the figures say made them (tools/bench passes its own)")
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--markdown", help="write each table into this file, between its results markers")
    ap.add_argument("--plot", help="write a PNG of the one-client loopback fps, KiB/frame and latency here"
                                   " (needs matplotlib)")
    ap.add_argument("--replot", metavar="JSON", help="only write --markdown and --plot from a --json file")
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %s" % w)
    links = []
    for link in split_list(args.link) or [LOOPBACK]:
        if link != LOOPBACK and not RATE_PATTERN.match(link):
            ap.error("--link %s: not a rate tc knows (10mbit, 500kbit, 2mbps...) nor %s" % (link, LOOPBACK))
        if link not in links:
            links.append(link)
    try:
        client_counts = sorted(set(int(n) for n in split_list(args.clients) or ["1"]))
    except ValueError:
        ap.error("--clients takes whole numbers")
    if client_counts[0] < 1:
        ap.error("--clients must be at least 1")

    if args.replot:
        with open(args.replot) as f:
            results = json.load(f)
        if "tables" not in results:  # written before links and clients
            results["tables"] = [{"link": LOOPBACK, "clients": 1, "workloads": results["workloads"],
                                  "cases": results["cases"]}]
        if args.markdown:
            write_markdown(args.markdown, results)
        if args.plot:
            plot(args.plot, results)
        return 0

    results = {
        "command": args.command or " ".join(["benches/run.py"] + sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "seconds": seconds, "fps": args.fps, "seed": args.seed,
        "workloads": workloads, "machine": machine(), "tables": [],
    }
    failures = 0
    for link in links:
        problem = link_problem(link) if link != LOOPBACK else None
        if problem:
            print("== skipping the cases on a %s link (they need root, network namespaces and tc's tbf): %s"
                  % (link, problem), flush=True)
        for n_clients in client_counts:
            table = {"link": link, "clients": n_clients, "workloads": workloads, "cases": {},
                     "skipped": problem}
            results["tables"].append(table)
            if problem:
                continue
            where = "" if link == LOOPBACK and n_clients == 1 else " (%s)" % describe(table)
            table["load_before"] = load_average()
            for workload in workloads:
                table["cases"][workload] = {}
                for server, exe in SERVERS:
                    if server not in args.servers.split(","):
                        continue
                    print("== %s on %s%s ..." % (workload, server, where), end=" ", flush=True)
                    try:
                        r = run_case(args.build_dir, exe, workload, seconds, args.fps, args.seed,
                                     link, n_clients)
                        print(case_summary(r, n_clients), flush=True)
                        if r["input_events"] < 1:
                            raise CaseError("the server received none of the clients' %d input events"
                                            % r["inputs_sent"])
                    except CaseError as e:
                        r = str(e)
                        failures += 1
                        print("FAILED: %s" % r, flush=True)
                    table["cases"][workload][server] = r
            table["load_after"] = load_average()
    for table in results["tables"]:
        print_table(table)
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

"""The build's public face: the committed GIR and the exported symbols."""

import os
import subprocess

from helpers import BUILD_DIR, SOURCE_DIR


def test_committed_gir_equals_built_gir():
    with open(os.path.join(SOURCE_DIR, "gir-files", "Red-1.0.gir"), encoding="utf-8") as f:
        committed = f.read()
    with open(os.path.join(BUILD_DIR, "Red-1.0.gir"), encoding="utf-8") as f:
        built = f.read()
    assert committed == built, (
        "The public API changed: review it, then copy _build/Red-1.0.gir to gir-files/"
    )


def test_only_red_symbols_are_exported():
    out = subprocess.run(
        ["nm", "-D", "--defined-only", os.path.join(BUILD_DIR, "libredspice-1.0.so.0")],
        capture_output=True, text=True, check=True,
    ).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    assert names, "no symbols at all"
    assert [n for n in names if not n.startswith("red_")] == []
    assert "red_server_new" in names and "red_error_quark" in names


def test_soname():
    out = subprocess.run(
        ["objdump", "-p", os.path.join(BUILD_DIR, "libredspice-1.0.so.0")],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "SONAME               libredspice-1.0.so.0" in out


def test_versioned_library_file_and_links():
    real = [n for n in os.listdir(BUILD_DIR) if n.startswith("libredspice-1.0.so.0.")]
    assert len(real) == 1, real
    assert not os.path.islink(os.path.join(BUILD_DIR, real[0]))
    assert os.readlink(os.path.join(BUILD_DIR, "libredspice-1.0.so.0")) == real[0]
    assert os.readlink(os.path.join(BUILD_DIR, "libredspice-1.0.so")) == "libredspice-1.0.so.0"


def test_an_unchanged_tree_builds_nothing():
    # cargo's dep-info is ninja's depfile: nothing reruns cargo, g-ir-scanner
    # or vapigen when no source changed (meson test has just built the tree).
    out = subprocess.run(["ninja", "-C", BUILD_DIR, "-n", "-d", "explain"],
                         capture_output=True, text=True, check=True)
    assert "ninja: no work to do." in out.stdout, out.stdout + out.stderr

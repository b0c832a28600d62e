#!/bin/sh
# Builds the GStreamer plugin with cargo, linked to the libredspice-1.0.so
# meson has just built in its build directory, and copies it and cargo's
# dep-info (ninja's depfile) where meson expects them.
set -eu
src=$1
out=$2
depfile=$3
profile=$4
libdir=$5
localedir=$6
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
export REDSPICE_LIB_DIR="$libdir"
export REDSPICE_INSTALL_LOCALEDIR="$localedir"
if [ "$profile" = release ]; then
    cargo build --manifest-path "$src/gst/Cargo.toml" --lib --release
else
    cargo build --manifest-path "$src/gst/Cargo.toml" --lib
fi
cp "$CARGO_TARGET_DIR/$profile/libgstredspice.so" "$out.tmp"
mv -f "$out.tmp" "$out"
# A copy: ninja deletes the depfile once read.
cp "$CARGO_TARGET_DIR/$profile/libgstredspice.d" "$depfile"

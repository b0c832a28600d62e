#!/bin/sh
# Builds the Rust cdylib with cargo and puts it where meson expects it: the
# real file, its soname and its linker name as symlinks (as glycin's build
# does), and cargo's dep-info as ninja's depfile.
set -eu
src=$1
out=$2
soname=$3
link=$4
depfile=$5
profile=$6
localedir=$7
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
export REDSPICE_INSTALL_LOCALEDIR="$localedir"
if [ "$profile" = release ]; then
    cargo build --manifest-path "$src/Cargo.toml" --lib --release
else
    cargo build --manifest-path "$src/Cargo.toml" --lib
fi
cp "$CARGO_TARGET_DIR/$profile/libredspice.so" "$out.tmp"
mv -f "$out.tmp" "$out"
ln -sf "$(basename "$out")" "$soname"
ln -sf "$(basename "$soname")" "$link"
# A copy: ninja deletes the depfile once read.
cp "$CARGO_TARGET_DIR/$profile/libredspice.d" "$depfile"

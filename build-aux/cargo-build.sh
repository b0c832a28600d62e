#!/bin/sh
# Builds the Rust cdylib with cargo and puts it where meson expects it, under
# its soname, with the linker name as a symlink (as glycin's build does).
set -eu
src=$1
out=$2
link=$3
profile=$4
localedir=$5
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
export REDSPICE_INSTALL_LOCALEDIR="$localedir"
if [ "$profile" = release ]; then
    cargo build --manifest-path "$src/Cargo.toml" --lib --release
else
    cargo build --manifest-path "$src/Cargo.toml" --lib
fi
cp "$CARGO_TARGET_DIR/$profile/libredspice.so" "$out.tmp"
mv -f "$out.tmp" "$out"
ln -sf "$(basename "$out")" "$link"

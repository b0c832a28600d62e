"""Update latency for the benchmarks: every frame carries its number as a
stamp of black and white blocks, and the client reads the number back from
its own surface memory to tell when that frame was shown.

The stamp (BENCH_STAMP_* in benches/bench.h): a row of STAMP_BITS blocks of
STAMP_BLOCK x STAMP_BLOCK pixels, white for 1 and black for 0: 12 bits of
the frame number (modulo STAMP_MODULO), most significant first, then 4 check
bits. benches/workload.c paints it for the benchmark servers, stamp_row()
for tools/bench-streams.

benches/client.py, benches/run.py and tools/bench-streams import this.
"""

import ctypes
import math

STAMP_BITS = 16
STAMP_BLOCK = 16
STAMP_MODULO = 4096
STAMP_WIDTH = STAMP_BITS * STAMP_BLOCK  # pixels


def check_bits(n):
    """The 4 check bits of a 12-bit frame number."""
    return (n ^ (n >> 4) ^ (n >> 8) ^ 0x5) & 0xF


def stamp_row(n):
    """One pixel row of frame n's stamp: STAMP_WIDTH x8r8g8b8 pixels
    (bytes B,G,R,X)."""
    n %= STAMP_MODULO
    word = n | (check_bits(n) << 12)
    row = bytearray()
    for bit in range(STAMP_BITS):
        v = 255 if word >> (STAMP_BITS - 1 - bit) & 1 else 0
        row += bytes((v, v, v, 0)) * STAMP_BLOCK
    return bytes(row)


def decode_stamp(rows, inset):
    """The frame number in `rows` (x8r8g8b8 bytes of the stamp's STAMP_WIDTH
    pixels, a few pixel rows across the blocks' middle), or None if they
    don't read as a valid stamp.

    A bit is 1 when the mean colour of its block's columns, `inset` pixels
    left out on either side (lossy codecs blur the block edges), is at least
    128."""
    word = 0
    for bit in range(STAMP_BITS):
        total = 0
        count = 0
        for row in rows:
            for x in range(bit * STAMP_BLOCK + inset, (bit + 1) * STAMP_BLOCK - inset):
                i = x * 4
                total += row[i] + row[i + 1] + row[i + 2]
                count += 3
        word = (word << 1) | (1 if total >= 128 * count else 0)
    n = word & 0xFFF
    return n if word >> 12 == check_bits(n) else None


def read_stamp(address, stride, x, y, row_offsets, inset):
    """decode_stamp() of the stamp whose top-left pixel is (x, y) on a
    surface in this process's memory (a spice-gtk primary surface at
    `address`), read at pixel rows y + each of row_offsets."""
    rows = [ctypes.string_at(address + (y + dy) * stride + x * 4, STAMP_WIDTH * 4)
            for dy in row_offsets]
    return decode_stamp(rows, inset)


def percentile(values, p):
    """The p-th percentile (nearest rank) of values; NaN when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))]

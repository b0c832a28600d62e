"""The pixmap cache through the real spice-gtk client.

Sprites the application draws again go out once (CACHE_ME) and then as
FROM_CACHE references; spice-gtk waits forever for an id it lacks, so every
step must end with the client's surface equal to the server's, also after
the client's small cache has turned over several times, for a new client,
for clients of different settings side by side and for two displays
sharing one client's cache. tests/pixmap_cache.rs checks the same on the
wire, message by message.
"""

import random
from collections import OrderedDict

from helpers import HOST, random_pixels
from spice_harness import SpiceClient, wait_client_matches

TIME_LIMIT = 150

SPRITE = 64
SPRITE_PIXELS = SPRITE * SPRITE


def cache_client(res, server, cache_sprites, preferred_compression=None):
    """A spice-gtk client whose image cache holds `cache_sprites` sprites
    (spice-gtk announces its cache-size bytes / 4 as pixels)."""
    client = SpiceClient()
    client.session.props.cache_size = 4 * SPRITE_PIXELS * cache_sprites
    if preferred_compression is not None:
        client.session.props.preferred_compression = preferred_compression
    client.connect(HOST, server.port)
    client.wait_ready(displays=len(server.displays), server=server)
    res.add_client(client)
    return client


def sprites(seed, count):
    rng = random.Random(seed)
    return [random_pixels(rng, SPRITE, SPRITE, random_x=False) for _ in range(count)]


def lru_evictions(order, capacity):
    """Evictions of a least-recently-used cache of `capacity` sprites."""
    cache, evicted = OrderedDict(), 0
    for s in order:
        if s in cache:
            cache.move_to_end(s)
            continue
        if len(cache) == capacity:
            cache.popitem(last=False)
            evicted += 1
        cache[s] = True
    return evicted


def draw_sprites(server, clients, tiles, order, seed, display=0):
    """Draws `order` (indexes into `tiles`) at random places, each checked
    in every client, pixel for pixel."""
    rng = random.Random(seed)
    W, H = server.displays[display]
    for n, s in enumerate(order):
        x, y = rng.randrange(0, W - SPRITE), rng.randrange(0, H - SPRITE)
        server.draw(x, y, SPRITE, SPRITE, tiles[s], display=display)
        for c in clients:
            wait_client_matches(c, server, display,
                                what="sprite %d (%d of %d)" % (s, n + 1, len(order)))


def test_cache_fills_and_evicts_over_several_generations_exactly(res):
    capacity, kinds, count = 5, 8, 60
    rng = random.Random(3)
    order = [rng.randrange(kinds) for _ in range(count)]
    # The client's cache turns over at least three times.
    assert lru_evictions(order, capacity) >= 3 * capacity
    for compression in ["off", "lz", "glz", "auto"]:
        server = res.server(displays=[(320, 240)], image_compression=compression)
        client = cache_client(res, server, capacity)
        wait_client_matches(client, server, 0, what="initial surface")
        channel = client.displays[0].channel
        before = channel.props.total_read_bytes
        draw_sprites(server, [client], sprites(5, kinds), order, seed=7)
        got = channel.props.total_read_bytes - before
        if compression in ("off", "lz"):
            # Noise: without the cache every sprite is a bitmap (LZ does
            # not shrink it), so only references make it cheaper.
            literal = count * SPRITE_PIXELS * 4
            assert got < 0.8 * literal, "%s: %d bytes for %d sprites of %d bytes" % (
                compression, got, count, SPRITE_PIXELS * 4)


def test_a_new_client_is_exact_when_the_old_ones_images_come_again(res):
    server = res.server(displays=[(320, 240)], image_compression="glz")
    tiles = sprites(9, 6)
    rng = random.Random(4)
    order = [rng.randrange(len(tiles)) for _ in range(30)]
    old = cache_client(res, server, 4)
    draw_sprites(server, [old], tiles, order, seed=1)
    old.close()
    # A new session: nothing of the old one's cache may be referenced.
    new = cache_client(res, server, 4)
    wait_client_matches(new, server, 0, what="new client's first image")
    draw_sprites(server, [new], tiles, order, seed=2)


def test_clients_of_different_settings_side_by_side_are_exact(res):
    server = res.server(displays=[(320, 240)], image_compression="glz")
    big = cache_client(res, server, 50)
    # One sprite of cache: every other sprite evicts it; and no GLZ.
    small = cache_client(res, server, 1, preferred_compression=1)  # OFF
    tiles = sprites(12, 5)
    rng = random.Random(6)
    order = [rng.randrange(len(tiles)) for _ in range(40)]
    draw_sprites(server, [big, small], tiles, order, seed=3)


def test_two_displays_share_one_clients_cache_exactly(res):
    server = res.server(displays=[(240, 180), (240, 180)], image_compression="lz")
    client = cache_client(res, server, 3)
    tiles = sprites(15, 6)
    rng = random.Random(8)
    for n in range(40):
        d = n % 2
        x, y = rng.randrange(0, 240 - SPRITE), rng.randrange(0, 180 - SPRITE)
        server.draw(x, y, SPRITE, SPRITE, tiles[rng.randrange(len(tiles))], display=d)
        wait_client_matches(client, server, d, what="display %d, sprite %d" % (d, n + 1))
    wait_client_matches(client, server, 0, what="display 0 at the end")
    wait_client_matches(client, server, 1, what="display 1 at the end")

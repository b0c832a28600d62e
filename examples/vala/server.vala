/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A small redspice server in Vala: one 800x600 display with a gradient, a
 * grid of tiles and a bouncing square.
 *
 *   meson devenv -C _build sh -c 'valac --pkg redspice-1.0 --pkg gio-2.0 \
 *       --vapidir _build examples/vala/server.vala -o /tmp/red-vala-server'
 *   /tmp/red-vala-server        (run it inside meson devenv as well)
 *
 * REDSPICE_PORT=N picks another port (0: any free one);
 * REDSPICE_DEMO_SECONDS=N quits after N seconds.
 */

const int WIDTH = 800;
const int HEIGHT = 600;
const int SQUARE = 48;
const uint32 BACKGROUND = 0x202830;

/* A vertical gradient drawn from pixels: x8r8g8b8 in native byte order,
 * so one uint32 0x00RRGGBB per pixel. */
void draw_gradient (Red.Display display, int x, int y, int w, int h) {
    var pixels = new uint32[w * h];
    for (int row = 0; row < h; row++) {
        uint32 v = (uint32) (row * 255 / (h - 1));
        uint32 color = (v / 3) << 16 | (v / 2) << 8 | v;
        for (int col = 0; col < w; col++)
            pixels[row * w + col] = color;
    }
    /* GLib.Bytes takes a uint8[]: view the uint32s as bytes. */
    unowned uint8[] bytes = (uint8[]) pixels;
    bytes.length = pixels.length * 4;
    display.draw (x, y, w, h, new GLib.Bytes (bytes), (size_t) w * 4);
}

class Bouncer : Object {
    public Red.Display display { get; construct; }
    int x = 0;
    int y = 300;
    int dx = 5;
    int dy = 3;

    public Bouncer (Red.Display display) {
        Object (display: display);
    }

    public bool step () {
        display.fill (x, y, SQUARE, SQUARE, BACKGROUND);
        if (x + dx < 0 || x + dx > WIDTH - SQUARE)
            dx = -dx;
        if (y + dy < 300 || y + dy > HEIGHT - SQUARE)
            dy = -dy;
        x += dx;
        y += dy;
        display.fill (x, y, SQUARE, SQUARE, 0xffcc00);
        return Source.CONTINUE;
    }
}

int main (string[] args) {
    var port_env = Environment.get_variable ("REDSPICE_PORT");
    var server = new Red.Server ();
    server.address = "127.0.0.1";
    server.port = port_env != null ? (uint) int.parse (port_env) : 5930;
    server.name = "redspice Vala example";

    Red.Display display;
    try {
        display = server.add_display (WIDTH, HEIGHT);
        server.start ();
    } catch (Error e) {
        printerr ("Cannot start the server: %s\n", e.message);
        return 1;
    }
    print ("Serving on spice://127.0.0.1:%u\n", server.get_port ());

    server.client_connected.connect ((client) => {
        print ("client %u connected from %s\n", client.id, client.address ?? "?");
    });
    server.client_disconnected.connect ((client) => {
        print ("client %u left\n", client.id);
    });
    server.key_event.connect ((scancode, pressed) => {
        print ("key 0x%x %s\n", scancode, pressed ? "pressed" : "released");
    });
    server.pointer_position.connect ((display_id, x, y, buttons) => {
        print ("pointer at %d,%d on display %u, buttons 0x%x\n", x, y, display_id, buttons);
    });
    server.pointer_motion.connect ((dx, dy, buttons) => {
        print ("pointer moved by %d,%d, buttons 0x%x\n", dx, dy, buttons);
    });
    server.button_event.connect ((button, pressed, buttons) => {
        print ("button %u %s\n", button, pressed ? "pressed" : "released");
    });

    /* The top half: a gradient with a grid of tiles; the bottom half is
     * where the square bounces. */
    draw_gradient (display, 0, 0, WIDTH, 300);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            display.fill (40 + i * 92, 30 + j * 64, 80, 52, 0x3060c0 + i * 0x140000 + j * 0x2800);
    display.fill (0, 300, WIDTH, HEIGHT - 300, BACKGROUND);

    var bouncer = new Bouncer (display);
    Timeout.add (40, bouncer.step);

    var loop = new MainLoop ();
    Unix.signal_add (ProcessSignal.INT, () => { loop.quit (); return Source.REMOVE; });
    Unix.signal_add (ProcessSignal.TERM, () => { loop.quit (); return Source.REMOVE; });
    var seconds = int.parse (Environment.get_variable ("REDSPICE_DEMO_SECONDS") ?? "0");
    if (seconds > 0)
        Timeout.add_seconds (seconds, () => { loop.quit (); return Source.REMOVE; });
    loop.run ();

    server.stop ();
    return 0;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
//
// redspice demo: a small animated "desktop" served over SPICE.
//
//   meson devenv -C _build gjs -m "$PWD/examples/gjs/desktop.js"
//   remote-viewer spice://127.0.0.1:5930
//
// Environment:
//   REDSPICE_PORT=N            listen on port N instead of 5930 (0: any free port)
//   REDSPICE_DEMO_SECONDS=N    quit after N seconds
//   REDSPICE_DEMO_SNAPSHOT=F   after about one second, save the display as
//                              the PNG file F (needs GdkPixbuf); the cursor,
//                              which clients draw themselves, is painted in
//   REDSPICE_DEMO_FRAMES=N     stop animating after N frames (a still frame
//                              for tests); with REDSPICE_DEMO_RAW=F, write
//                              that frame's x8r8g8b8 pixels to the file F
//
// Everything is drawn in JavaScript into Uint32Arrays: a Uint32 holding
// 0x00RRGGBB is exactly the display's x8r8g8b8 native-endian pixel. (gjs's
// cairo binding cannot hand out an image surface's pixels, so cairo is not
// used.) Each frame sends only what changed: the video rectangle, the areas
// the moving shapes left and entered, a sliver of progress bar (fill), one
// new column of a scrolling graph (copy_area + draw), and once a second the
// clocks.

import GLib from 'gi://GLib';
import Red from 'gi://Red?version=1.0';
import System from 'system';

const W = 1024, H = 768;
const FPS = 30;

// ---------------------------------------------------------------- pixels

const rgb = (r, g, b) => ((r << 16) | (g << 8) | b) >>> 0;

function mix(c1, c2, t) {
    const r = ((c1 >> 16) & 255) + (((c2 >> 16) & 255) - ((c1 >> 16) & 255)) * t;
    const g = ((c1 >> 8) & 255) + (((c2 >> 8) & 255) - ((c1 >> 8) & 255)) * t;
    const b = (c1 & 255) + ((c2 & 255) - (c1 & 255)) * t;
    return rgb(r | 0, g | 0, b | 0);
}

// A 5x7 bitmap font: seven rows of five bits per glyph.
const FONT = {
    ' ': [0, 0, 0, 0, 0, 0, 0],
    '0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14],
    '2': [14, 17, 1, 2, 4, 8, 31], '3': [31, 2, 4, 2, 1, 17, 14],
    '4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14],
    '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8],
    '8': [14, 17, 17, 14, 17, 17, 14], '9': [14, 17, 17, 15, 1, 2, 12],
    ':': [0, 12, 12, 0, 12, 12, 0], '.': [0, 0, 0, 0, 0, 12, 12],
    '/': [0, 1, 2, 4, 8, 16, 0], '-': [0, 0, 0, 31, 0, 0, 0],
    '=': [0, 0, 31, 0, 31, 0, 0], '$': [4, 15, 20, 14, 5, 30, 4],
    '>': [8, 4, 2, 1, 2, 4, 8], '(': [2, 4, 8, 8, 8, 4, 2],
    ')': [8, 4, 2, 2, 2, 4, 8], ',': [0, 0, 0, 0, 12, 4, 8],
    'A': [14, 17, 17, 17, 31, 17, 17], 'B': [30, 17, 17, 30, 17, 17, 30],
    'C': [14, 17, 16, 16, 16, 17, 14], 'D': [28, 18, 17, 17, 17, 18, 28],
    'E': [31, 16, 16, 30, 16, 16, 31], 'F': [31, 16, 16, 30, 16, 16, 16],
    'G': [14, 17, 16, 23, 17, 17, 15], 'H': [17, 17, 17, 31, 17, 17, 17],
    'I': [14, 4, 4, 4, 4, 4, 14], 'J': [7, 2, 2, 2, 2, 18, 12],
    'K': [17, 18, 20, 24, 20, 18, 17], 'L': [16, 16, 16, 16, 16, 16, 31],
    'M': [17, 27, 21, 21, 17, 17, 17], 'N': [17, 17, 25, 21, 19, 17, 17],
    'O': [14, 17, 17, 17, 17, 17, 14], 'P': [30, 17, 17, 30, 16, 16, 16],
    'Q': [14, 17, 17, 17, 21, 18, 13], 'R': [30, 17, 17, 30, 20, 18, 17],
    'S': [15, 16, 16, 14, 1, 1, 30], 'T': [31, 4, 4, 4, 4, 4, 4],
    'U': [17, 17, 17, 17, 17, 17, 14], 'V': [17, 17, 17, 17, 17, 10, 4],
    'W': [17, 17, 17, 21, 21, 21, 10], 'X': [17, 17, 10, 4, 10, 17, 17],
    'Y': [17, 17, 17, 10, 4, 4, 4], 'Z': [31, 1, 2, 4, 8, 16, 31],
};

// A rectangle of pixels.
class Canvas {
    constructor(w, h) {
        this.w = w;
        this.h = h;
        this.px = new Uint32Array(w * h);
    }

    fillRect(x, y, w, h, color) {
        const x0 = Math.max(0, x), x1 = Math.min(this.w, x + w);
        const y0 = Math.max(0, y), y1 = Math.min(this.h, y + h);
        for (let j = y0; j < y1; j++)
            this.px.fill(color, j * this.w + x0, j * this.w + x1);
    }

    // Lays `alpha` (0..1) of `color` over the pixel at index i.
    blend(i, color, alpha) {
        if (alpha >= 1)
            this.px[i] = color;
        else if (alpha > 0)
            this.px[i] = mix(this.px[i], color, alpha);
    }

    // Copies a rectangle of `src` to (dx, dy).
    blit(src, sx, sy, w, h, dx, dy) {
        for (let j = 0; j < h; j++) {
            const from = (sy + j) * src.w + sx;
            this.px.set(src.px.subarray(from, from + w), (dy + j) * this.w + dx);
        }
    }

    text(str, x, y, scale, color) {
        for (const ch of str.toUpperCase()) {
            const glyph = FONT[ch] ?? FONT[' '];
            for (let row = 0; row < 7; row++) {
                for (let col = 0; col < 5; col++) {
                    if (glyph[row] & (16 >> col))
                        this.fillRect(x + col * scale, y + row * scale, scale, scale, color);
                }
            }
            x += 6 * scale;
        }
    }

    // Anti-aliased disc, optionally shaded like a ball lit from the top left.
    disc(cx, cy, r, color, shade = false) {
        const x0 = Math.max(0, Math.floor(cx - r - 1)), x1 = Math.min(this.w, Math.ceil(cx + r + 1));
        const y0 = Math.max(0, Math.floor(cy - r - 1)), y1 = Math.min(this.h, Math.ceil(cy + r + 1));
        for (let y = y0; y < y1; y++) {
            for (let x = x0; x < x1; x++) {
                const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                const a = r + 0.5 - Math.sqrt(dx * dx + dy * dy);
                if (a <= 0)
                    continue;
                let c = color;
                if (shade) {
                    const hx = dx + r * 0.35, hy = dy + r * 0.35;
                    const l = Math.sqrt(hx * hx + hy * hy) / (r * 1.4);
                    c = l < 0.5 ? mix(0xffffff, color, l * 2) : mix(color, 0, (l - 0.5) * 0.6);
                }
                this.blend(y * this.w + x, c, a);
            }
        }
    }

    // Anti-aliased thick line with round caps.
    line(x0, y0, x1, y1, width, color) {
        const half = width / 2;
        const bx0 = Math.max(0, Math.floor(Math.min(x0, x1) - half - 1));
        const bx1 = Math.min(this.w, Math.ceil(Math.max(x0, x1) + half + 1));
        const by0 = Math.max(0, Math.floor(Math.min(y0, y1) - half - 1));
        const by1 = Math.min(this.h, Math.ceil(Math.max(y0, y1) + half + 1));
        const vx = x1 - x0, vy = y1 - y0, len2 = vx * vx + vy * vy || 1;
        for (let y = by0; y < by1; y++) {
            for (let x = bx0; x < bx1; x++) {
                const px = x + 0.5 - x0, py = y + 0.5 - y0;
                const t = Math.max(0, Math.min(1, (px * vx + py * vy) / len2));
                const dx = px - t * vx, dy = py - t * vy;
                const a = half + 0.5 - Math.sqrt(dx * dx + dy * dy);
                if (a > 0)
                    this.blend(y * this.w + x, color, a);
            }
        }
    }

    bytes() {
        // new GLib.Bytes() copies, so the canvas may be reused at once.
        return new GLib.Bytes(new Uint8Array(this.px.buffer));
    }
}

// Sends a whole canvas to the display at (x, y).
function send(display, canvas, x, y) {
    display.draw(x, y, canvas.w, canvas.h, canvas.bytes(), canvas.w * 4);
}

// ---------------------------------------------------------------- server

const envPort = GLib.getenv('REDSPICE_PORT');
const port = envPort !== null && envPort !== '' ? parseInt(envPort, 10) : 5930;
if (!(port >= 0 && port <= 65535)) {
    printerr(`REDSPICE_PORT: not a port: ${envPort}`);
    System.exit(2);
}

const server = new Red.Server({address: '127.0.0.1', port, name: 'redspice demo'});
let display;
try {
    display = server.add_display(W, H);
    server.start();
} catch (e) {
    printerr(`Cannot start the server: ${e.message}`);
    System.exit(1);
}
const uri = `spice://127.0.0.1:${server.get_port()}`;
print(`redspice demo serving ${W}x${H} on ${uri}`);

server.connect('client-connected', (_s, client) =>
    print(`client ${client.id} connected from ${client.address}`));
server.connect('client-disconnected', (_s, client) =>
    print(`client ${client.id} disconnected`));
server.connect('key-event', (_s, scancode, pressed) =>
    print(`key 0x${scancode.toString(16)} ${pressed ? 'pressed' : 'released'}`));
server.connect('key-modifiers', (_s, modifiers) =>
    print(`lock keys 0x${modifiers.toString(16)}`));
server.connect('pointer-motion', (_s, dx, dy, buttons) =>
    print(`pointer moved by ${dx},${dy} buttons 0x${buttons.toString(16)}`));
server.connect('button-event', (_s, button, pressed, buttons) =>
    print(`button ${button} ${pressed ? 'pressed' : 'released'} buttons 0x${buttons.toString(16)}`));

// Until a client points somewhere, the demo moves the cursor by itself.
let followClient = false;
let cursorX = W / 2, cursorY = H / 2;
server.connect('pointer-position', (_s, displayId, x, y, buttons) => {
    print(`pointer at ${x},${y} on display ${displayId} buttons 0x${buttons.toString(16)}`);
    if (displayId === display.id) {
        followClient = true;
        cursorX = x;
        cursorY = y;
        display.move_cursor(x, y);
    }
});

// ---------------------------------------------------------------- layout

const PANEL_H = 28;
const TITLE_H = 26, BORDER = 4;
// Windows: content rectangles.
const VIDEO = {x: 44, y: 56 + TITLE_H, w: 320, h: 240};
const PROGRESS = {x: VIDEO.x + 8, y: VIDEO.y + VIDEO.h + 5, w: VIDEO.w - 16, h: 4};
const CLOCK = {x: 404, y: 56 + TITLE_H, w: 200, h: 200};
const TERM = {x: 644, y: 56 + TITLE_H, w: 340, h: 254};
const GRAPH = {x: TERM.x + 6, y: TERM.y + TERM.h - 86, w: TERM.w - 12, h: 80};
const PANEL_CLOCK = {x: W - 112, y: 0, w: 112, h: PANEL_H};
const UPTIME = {x: TERM.x + 6, y: TERM.y + 100, w: 200, h: 14};
const PROMPT = {x: TERM.x + 6 + 2 * 12, y: TERM.y + 124, w: 10, h: 14};
// The moving shapes stay between the windows and the dock.
const PLAY = {x: 0, y: 352, w: W, h: 368};
const DOCK = {x: 312, y: 726, w: 400, h: 38};

// ---------------------------------------------------------------- background

const bg = new Canvas(W, H);

function paintBackground() {
    // Wallpaper: a gradient with soft diagonal waves.
    const top = rgb(24, 40, 82), bottom = rgb(34, 140, 136);
    for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
            const t = y / H + 0.06 * Math.sin(x / 95 + y / 150) + 0.03 * Math.sin(x / 33 - y / 61);
            bg.px[y * W + x] = mix(top, bottom, Math.max(0, Math.min(1, t)));
        }
    }

    bg.fillRect(0, 0, W, PANEL_H, rgb(28, 28, 30));
    bg.text('REDSPICE DEMO', 12, 7, 2, rgb(235, 235, 235));
    bg.text(uri, 220, 7, 2, rgb(140, 170, 200));

    window_({...VIDEO, h: VIDEO.h + 14}, 'VIDEO', rgb(10, 10, 10));
    bg.fillRect(PROGRESS.x, PROGRESS.y, PROGRESS.w, PROGRESS.h, rgb(70, 70, 70));
    window_(CLOCK, 'CLOCK', rgb(236, 236, 232));
    window_(TERM, 'TERMINAL', rgb(18, 22, 20));
    const green = rgb(120, 230, 140);
    bg.text('$ REDSPICE-DEMO', TERM.x + 6, TERM.y + 8, 2, green);
    bg.text(`DISPLAY 0  ${W}X${H}`, TERM.x + 6, TERM.y + 32, 2, green);
    bg.text(uri, TERM.x + 6, TERM.y + 56, 2, green);
    bg.text(`${FPS} FPS`, TERM.x + 6, TERM.y + 80, 2, green);
    bg.text('$', TERM.x + 6, PROMPT.y, 2, green);
    bg.fillRect(GRAPH.x, GRAPH.y, GRAPH.w, GRAPH.h, rgb(8, 12, 10));

    // Dock with a few "application icons".
    for (let y = DOCK.y; y < DOCK.y + DOCK.h; y++) {
        for (let x = DOCK.x; x < DOCK.x + DOCK.w; x++)
            bg.blend(y * W + x, 0xffffff, 0.22);
    }
    const icons = [rgb(230, 80, 70), rgb(245, 180, 40), rgb(90, 190, 90), rgb(70, 140, 230), rgb(160, 100, 210)];
    icons.forEach((c, i) => {
        const ix = DOCK.x + 24 + i * 76;
        bg.fillRect(ix, DOCK.y + 5, 28, 28, c);
        bg.fillRect(ix + 6, DOCK.y + 11, 16, 16, mix(c, 0xffffff, 0.45));
    });
}

function window_(c, title, body) {
    const x = c.x - BORDER, y = c.y - TITLE_H, w = c.w + 2 * BORDER, h = c.h + TITLE_H + BORDER;
    for (let j = y + 6; j < y + h + 6; j++) { // shadow
        for (let i = x + 6; i < x + w + 6; i++)
            bg.blend(j * W + i, 0, 0.35);
    }
    bg.fillRect(x, y, w, h, rgb(58, 58, 62));
    for (let j = 0; j < TITLE_H - 2; j++)
        bg.fillRect(x + 1, y + 1 + j, w - 2, 1, mix(rgb(84, 84, 90), rgb(56, 56, 60), j / TITLE_H));
    bg.text(title, x + 10, y + 6, 2, rgb(230, 230, 230));
    [rgb(240, 90, 80), rgb(245, 190, 50), rgb(90, 200, 90)].forEach((col, i) =>
        bg.disc(x + w - 16 - i * 20, y + TITLE_H / 2, 6, col));
    bg.fillRect(c.x, c.y, c.w, c.h, body);
}

// ---------------------------------------------------------------- video

// Plasma computed at half resolution from tables, then doubled.
const VW = VIDEO.w / 2, VH = VIDEO.h / 2;
const SIN = new Int32Array(256);
for (let i = 0; i < 256; i++)
    SIN[i] = Math.round(64 + 63 * Math.sin(i * Math.PI / 128));
const RADIAL = new Int32Array(VW * VH);
for (let y = 0; y < VH; y++) {
    for (let x = 0; x < VW; x++)
        RADIAL[y * VW + x] = SIN[Math.round(Math.hypot(x - VW / 2, y - VH / 2) * 4) & 255];
}
const PALETTE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
    const a = i * Math.PI / 128;
    PALETTE[i] = rgb(128 + 127 * Math.sin(a), 128 + 127 * Math.sin(a + 2.1), 128 + 127 * Math.sin(a + 4.2));
}
const video = new Canvas(VIDEO.w, VIDEO.h);

function paintVideo(t) {
    const px = video.px, w = video.w;
    const t1 = t * 3, t2 = t * 2, t3 = t * 5;
    for (let y = 0; y < VH; y++) {
        const sy = SIN[(y * 3 - t2) & 255];
        let o = 2 * y * w;
        for (let x = 0; x < VW; x++) {
            const v = SIN[(x * 2 + t1) & 255] + sy + SIN[(x + y * 2 + t3) & 255] + RADIAL[y * VW + x];
            const c = PALETTE[((v >> 1) + t) & 255];
            px[o] = c; px[o + 1] = c; px[o + w] = c; px[o + w + 1] = c;
            o += 2;
        }
    }
    // A "recording" dot and a frame counter burnt into the picture.
    if ((t >> 4) & 1)
        video.disc(16, 16, 6, rgb(230, 30, 30));
    video.text(`${t}`.padStart(6, '0'), VIDEO.w - 82, 10, 2, 0xffffff);
}

// ---------------------------------------------------------------- clocks

const face = new Canvas(CLOCK.w, CLOCK.h);
const clock = new Canvas(CLOCK.w, CLOCK.h);
const CX = CLOCK.w / 2, CY = CLOCK.h / 2;

function paintFace() {
    face.fillRect(0, 0, face.w, face.h, rgb(236, 236, 232));
    face.disc(CX, CY, 92, rgb(60, 60, 66));
    face.disc(CX, CY, 88, rgb(252, 252, 248));
    for (let i = 0; i < 60; i++) {
        const a = i * Math.PI / 30, long = i % 5 === 0;
        const r0 = long ? 72 : 80, r1 = 85;
        face.line(CX + r0 * Math.sin(a), CY - r0 * Math.cos(a), CX + r1 * Math.sin(a), CY - r1 * Math.cos(a),
            long ? 3 : 1, rgb(40, 40, 44));
    }
}

function paintClock(now) {
    clock.px.set(face.px);
    const h = now.get_hour() % 12, m = now.get_minute(), s = now.get_second();
    const hand = (angle, len, width, color) => clock.line(CX - 10 * Math.sin(angle), CY + 10 * Math.cos(angle),
        CX + len * Math.sin(angle), CY - len * Math.cos(angle), width, color);
    hand((h + m / 60) * Math.PI / 6, 48, 7, rgb(30, 30, 34));
    hand((m + s / 60) * Math.PI / 30, 70, 4, rgb(30, 30, 34));
    hand(s * Math.PI / 30, 78, 2, rgb(210, 40, 40));
    clock.disc(CX, CY, 5, rgb(210, 40, 40));
}

const panelClock = new Canvas(PANEL_CLOCK.w, PANEL_CLOCK.h);
const uptime = new Canvas(UPTIME.w, UPTIME.h);
const startTime = GLib.get_monotonic_time();
const two = n => `${n}`.padStart(2, '0');

function updateClocks() {
    const now = GLib.DateTime.new_now_local();
    paintClock(now);
    send(display, clock, CLOCK.x, CLOCK.y);

    panelClock.blit(bg, PANEL_CLOCK.x, PANEL_CLOCK.y, PANEL_CLOCK.w, PANEL_CLOCK.h, 0, 0);
    panelClock.text(now.format('%H:%M:%S'), 8, 7, 2, 0xffffff);
    send(display, panelClock, PANEL_CLOCK.x, PANEL_CLOCK.y);

    const up = Math.floor((GLib.get_monotonic_time() - startTime) / 1e6);
    uptime.blit(bg, UPTIME.x, UPTIME.y, UPTIME.w, UPTIME.h, 0, 0);
    uptime.text(`UPTIME ${two(Math.floor(up / 3600))}:${two(Math.floor(up / 60) % 60)}:${two(up % 60)}`,
        0, 0, 2, rgb(120, 230, 140));
    send(display, uptime, UPTIME.x, UPTIME.y);
}

// ---------------------------------------------------------------- shapes

class Shape {
    constructor(kind, x, y, size, vx, vy, color) {
        Object.assign(this, {kind, x, y, w: size[0], h: size[1], vx, vy, color});
    }

    box() {
        return {x: Math.floor(this.x), y: Math.floor(this.y), w: this.w + 1, h: this.h + 1};
    }

    step() {
        this.x += this.vx;
        this.y += this.vy;
        if (this.x < PLAY.x || this.x + this.w >= PLAY.x + PLAY.w) {
            this.vx = -this.vx;
            this.x = Math.max(PLAY.x, Math.min(this.x, PLAY.x + PLAY.w - this.w - 1));
        }
        if (this.y < PLAY.y || this.y + this.h >= PLAY.y + PLAY.h) {
            this.vy = -this.vy;
            this.y = Math.max(PLAY.y, Math.min(this.y, PLAY.y + PLAY.h - this.h - 1));
        }
    }

    // Paints the shape into `canvas`, which shows the display area at (ox, oy).
    paint(canvas, ox, oy) {
        if (this.kind === 'ball') {
            const r = this.w / 2;
            canvas.disc(this.x + r - ox, this.y + r - oy, r, this.color, true);
        } else {
            const x = Math.round(this.x) - ox, y = Math.round(this.y) - oy;
            canvas.fillRect(x, y, this.w, this.h, mix(this.color, 0, 0.35));
            canvas.fillRect(x + 2, y + 2, this.w - 4, this.h - 4, this.color);
        }
    }
}

const shapes = [
    new Shape('rect', 100, 400, [90, 56], 3.2, 1.7, rgb(245, 180, 40)),
    new Shape('rect', 600, 600, [60, 60], -2.4, -2.9, rgb(230, 80, 70)),
    new Shape('rect', 820, 450, [110, 34], -4.1, 1.1, rgb(160, 100, 210)),
    new Shape('ball', 300, 500, [56, 56], 4.3, -3.1, rgb(70, 140, 230)),
    new Shape('ball', 500, 380, [40, 40], -3.3, 3.8, rgb(90, 200, 90)),
];

const intersects = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

function union(a, b) {
    const x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
    return {x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y};
}

// Moves the shapes and redraws the area each one left and entered: each
// damaged rectangle is composed from the background and every shape on it.
function updateShapes() {
    let damage = shapes.map(s => {
        const before = s.box();
        s.step();
        return union(before, s.box());
    });
    // Merge overlapping rectangles so no pixel is sent twice.
    for (let merged = true; merged;) {
        merged = false;
        for (let i = 0; i < damage.length && !merged; i++) {
            for (let j = i + 1; j < damage.length && !merged; j++) {
                if (intersects(damage[i], damage[j])) {
                    damage[i] = union(damage[i], damage[j]);
                    damage.splice(j, 1);
                    merged = true;
                }
            }
        }
    }
    for (const d of damage) {
        const c = new Canvas(d.w, d.h);
        c.blit(bg, d.x, d.y, d.w, d.h, 0, 0);
        for (const s of shapes) {
            if (intersects(s.box(), d))
                s.paint(c, d.x, d.y);
        }
        send(display, c, d.x, d.y);
    }
}

// ---------------------------------------------------------------- graph

// A scrolling "load" graph: copy_area moves it left, one column is drawn.
const STEP = 2;
const column = new Canvas(STEP, GRAPH.h);

function updateGraph(t) {
    display.copy_area(GRAPH.x + STEP, GRAPH.y, GRAPH.w - STEP, GRAPH.h, GRAPH.x, GRAPH.y);
    const v = 0.5 + 0.3 * Math.sin(t / 17) + 0.15 * Math.sin(t / 5.3) + 0.05 * Math.sin(t * 1.7);
    const top = Math.round(GRAPH.h * (1 - v));
    column.fillRect(0, 0, STEP, GRAPH.h, rgb(8, 12, 10));
    column.fillRect(0, top, STEP, GRAPH.h - top, rgb(40, 120, 60));
    column.fillRect(0, top, STEP, 2, rgb(120, 230, 140));
    send(display, column, GRAPH.x + GRAPH.w - STEP, GRAPH.y);
}

// ---------------------------------------------------------------- cursor

// A 32x32 arrow, white with a black outline and a soft shadow, as
// premultiplied ARGB32 (a Uint32 0xAARRGGBB is that format in native order).
function makeCursor() {
    const size = 32, poly = [[1, 1], [1, 23], [6.5, 18], [10.5, 27], [14, 25.5], [10, 17], [17.5, 17]];
    const inside = (x, y) => {
        let c = false;
        for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
            const [xi, yi] = poly[i], [xj, yj] = poly[j];
            if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
                c = !c;
        }
        return c;
    };
    const edge = (x, y) => {
        let best = Infinity;
        for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
            const [ax, ay] = poly[j], [bx, by] = poly[i];
            const vx = bx - ax, vy = by - ay;
            const t = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)));
            best = Math.min(best, Math.hypot(x - ax - t * vx, y - ay - t * vy));
        }
        return best;
    };
    const px = new Uint32Array(size * size);
    const N = 4;
    for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
            let white = 0, black = 0, shadow = 0;
            for (let sy = 0; sy < N; sy++) {
                for (let sx = 0; sx < N; sx++) {
                    const fx = x + (sx + 0.5) / N, fy = y + (sy + 0.5) / N;
                    const d = edge(fx, fy);
                    if (inside(fx, fy) && d > 1.1)
                        white++;
                    else if (inside(fx, fy) || d < 0.6)
                        black++;
                    else if (inside(fx - 2, fy - 2) || edge(fx - 2, fy - 2) < 1.5)
                        shadow++;
                }
            }
            const n = N * N;
            const a = (white + black) / n + (shadow / n) * 0.3;
            const v = Math.round(255 * white / n); // premultiplied grey
            px[y * size + x] = ((Math.round(a * 255) << 24) | (v << 16) | (v << 8) | v) >>> 0;
        }
    }
    return {size, hot: 1, px};
}

const cursor = makeCursor();
try {
    display.set_cursor(cursor.size, cursor.size, cursor.hot, cursor.hot,
        new GLib.Bytes(new Uint8Array(cursor.px.buffer)), cursor.size * 4);
} catch (e) {
    printerr(`Cannot set the cursor: ${e.message}`);
}

function updateCursor(t) {
    if (followClient)
        return;
    cursorX = Math.round(W / 2 + 420 * Math.sin(t * 0.021));
    cursorY = Math.round(H / 2 + 300 * Math.sin(t * 0.034 + 1));
    display.move_cursor(cursorX, cursorY);
}

// ---------------------------------------------------------------- snapshot

async function saveSnapshot(path) {
    const {default: GdkPixbuf} = await import('gi://GdkPixbuf?version=2.0');
    const [bytes, w, h] = display.snapshot();
    const data = bytes.toArray();
    const src = new Uint32Array(data.buffer, data.byteOffset, w * h);
    const out = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) {
        const p = src[i];
        out[i * 3] = (p >> 16) & 255;
        out[i * 3 + 1] = (p >> 8) & 255;
        out[i * 3 + 2] = p & 255;
    }
    // Clients draw the cursor themselves; paint it in where they would.
    for (let y = 0; y < cursor.size; y++) {
        for (let x = 0; x < cursor.size; x++) {
            const dx = cursorX - cursor.hot + x, dy = cursorY - cursor.hot + y;
            if (dx < 0 || dy < 0 || dx >= w || dy >= h)
                continue;
            const p = cursor.px[y * cursor.size + x], a = (p >>> 24) / 255, o = (dy * w + dx) * 3;
            out[o] = ((p >> 16) & 255) + out[o] * (1 - a);
            out[o + 1] = ((p >> 8) & 255) + out[o + 1] * (1 - a);
            out[o + 2] = (p & 255) + out[o + 2] * (1 - a);
        }
    }
    const pixbuf = GdkPixbuf.Pixbuf.new_from_bytes(new GLib.Bytes(out), GdkPixbuf.Colorspace.RGB,
        false, 8, w, h, w * 3);
    pixbuf.savev(path, 'png', [], []);
    print(`snapshot saved to ${path}`);
}

// ---------------------------------------------------------------- main

paintBackground();
paintFace();
send(display, bg, 0, 0);
updateClocks();

const loop = new GLib.MainLoop(null, false);
let frame = 0, lastSecond = -1, progress = 0;
const snapshotPath = GLib.getenv('REDSPICE_DEMO_SNAPSHOT');
const maxFrames = parseInt(GLib.getenv('REDSPICE_DEMO_FRAMES') ?? '', 10);
const rawPath = GLib.getenv('REDSPICE_DEMO_RAW');

let tick = GLib.timeout_add(GLib.PRIORITY_DEFAULT, Math.round(1000 / FPS), () => {
    frame++;

    paintVideo(frame);
    send(display, video, VIDEO.x, VIDEO.y);

    // The progress bar grows by a sliver each frame and starts over.
    const next = Math.min(PROGRESS.w, progress + 1);
    if (next > progress)
        display.fill(PROGRESS.x + progress, PROGRESS.y, next - progress, PROGRESS.h, 0xe04040);
    progress = next;
    if (progress === PROGRESS.w && frame % 60 === 0) {
        display.fill(PROGRESS.x, PROGRESS.y, PROGRESS.w, PROGRESS.h, 0x464646);
        progress = 0;
    }

    updateShapes();
    updateGraph(frame);
    updateCursor(frame);

    // A blinking block cursor at the terminal prompt.
    if (frame % 15 === 0)
        display.fill(PROMPT.x, PROMPT.y, PROMPT.w, PROMPT.h, (frame / 15) & 1 ? 0x78e68c : 0x121614);

    const second = Math.floor(GLib.get_real_time() / 1e6);
    if (second !== lastSecond) {
        lastSecond = second;
        updateClocks();
        // Each frame hands over about 400 KB of GLib.Bytes whose memory the
        // JavaScript garbage collector does not see; without a collection
        // now and then they pile up to ~190 MB before it runs.
        System.gc();
    }

    if (snapshotPath && frame === FPS) {
        saveSnapshot(snapshotPath).catch(e => printerr(`Cannot save the snapshot: ${e.message}`));
    }
    if (maxFrames > 0 && frame >= maxFrames) {
        if (rawPath) {
            const [bytes, w, h] = display.snapshot();
            GLib.file_set_contents(rawPath, bytes.toArray());
            print(`frame ${frame} (${w}x${h}) written to ${rawPath}`);
        }
        print('frozen');
        tick = 0;  // SOURCE_REMOVE removes it: no source_remove() at the end
        return GLib.SOURCE_REMOVE;
    }
    return GLib.SOURCE_CONTINUE;
});

function quit(why) {
    print(`${why}: stopping`);
    loop.quit();
    return GLib.SOURCE_REMOVE;
}

const SIGINT = 2, SIGTERM = 15;
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, SIGINT, () => quit('SIGINT'));
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, SIGTERM, () => quit('SIGTERM'));

const seconds = parseInt(GLib.getenv('REDSPICE_DEMO_SECONDS') ?? '', 10);
if (seconds > 0)
    GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, seconds, () => quit(`${seconds} s are up`));

loop.run();

if (tick)
    GLib.source_remove(tick);
server.stop();
print('bye');

// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Red API through GObject introspection, from gjs:
//
//   meson devenv -C _build gjs -m "$PWD/tests/gjs/test-api.js"
//
// Prints one line per check and then "N passed, M failed"; exits 1 when a
// check failed.

import GLib from 'gi://GLib';
import GIRepository from 'gi://GIRepository?version=2.0';
import GObject from 'gi://GObject';
import Red from 'gi://Red?version=1.0';
import System from 'system';

let passed = 0, failed = 0;

function check(name, fn) {
    try {
        fn();
        passed++;
        print(`ok - ${name}`);
    } catch (e) {
        failed++;
        print(`FAIL - ${name}: ${e.message}`);
        if (e.stack)
            printerr(e.stack);
    }
}

function assertEqual(actual, expected, what) {
    const a = JSON.stringify(actual), b = JSON.stringify(expected);
    if (a !== b)
        throw new Error(`${what}: expected ${b}, got ${a}`);
}

function assert(cond, what) {
    if (!cond)
        throw new Error(`${what}: assertion failed`);
}

// Calls fn, which must throw a GLib.Error of the Red domain with `code`.
function assertRedError(fn, code, what) {
    let error = null;
    try {
        fn();
    } catch (e) {
        error = e;
    }
    if (error === null)
        throw new Error(`${what}: no error thrown`);
    if (!(error instanceof GLib.Error))
        throw new Error(`${what}: threw ${error}, not a GLib.Error`);
    if (!error.matches(Red.error_quark(), code)) {
        throw new Error(`${what}: expected ${GLib.quark_to_string(Red.error_quark())} ${code}, ` +
            `got ${GLib.quark_to_string(error.domain)} ${error.code}: ${error.message}`);
    }
    return error;
}

// The four bytes of pixel (x, y) in a snapshot.
function pixel(snapshot, x, y) {
    const [bytes, width] = snapshot;
    const data = bytes.toArray();
    const o = (y * width + x) * 4;
    return Array.from(data.subarray(o, o + 4));
}

const typeName = klass => GObject.type_name(klass.$gtype);

function ancestry(gtype) {
    const names = [];
    for (let t = gtype; t !== GObject.TYPE_INVALID && t; t = GObject.type_parent(t))
        names.push(GObject.type_name(t));
    return names;
}

// ---------------------------------------------------------------- types

check('GType names', () => {
    assertEqual(typeName(Red.Server), 'RedServer', 'Red.Server');
    assertEqual(typeName(Red.Display), 'RedDisplay', 'Red.Display');
    assertEqual(typeName(Red.Client), 'RedClient', 'Red.Client');
    assertEqual(typeName(Red.Worker), 'RedWorker', 'Red.Worker');
    assertEqual(typeName(Red.AuthMode), 'RedAuthMode', 'Red.AuthMode');
    // gjs gives error-domain enums the GType of GError (Red.Error.$gtype
    // is GError), so ask the typelib for RedError's.
    const info = GIRepository.Repository.get_default().find_by_name('Red', 'Error');
    const errorType = GIRepository.registered_type_info_get_g_type(info);
    assertEqual(GObject.type_name(errorType), 'RedError', 'RedError');
    assert(GObject.type_is_a(errorType, GObject.TYPE_ENUM), 'RedError is an enum');
    assertEqual(GIRepository.enum_info_get_error_domain(info), 'red-error-quark', 'error domain');
});

check('class hierarchy', () => {
    assertEqual(ancestry(Red.DisplayChannel.$gtype), ['RedDisplayChannel', 'RedChannel', 'GObject'],
        'DisplayChannel ancestry');
    assertEqual(ancestry(Red.CursorChannel.$gtype), ['RedCursorChannel', 'RedChannel', 'GObject'],
        'CursorChannel ancestry');
    assertEqual(ancestry(Red.Server.$gtype), ['RedServer', 'GObject'], 'Server ancestry');
    assert(GObject.type_is_a(Red.InputsChannel.$gtype, Red.Channel.$gtype), 'InputsChannel is a Channel');
    assert(GObject.type_is_a(Red.MainChannel.$gtype, Red.Channel.$gtype), 'MainChannel is a Channel');
    assert(GObject.type_is_a(Red.DisplayChannelClient.$gtype, Red.ChannelClient.$gtype),
        'DisplayChannelClient is a ChannelClient');
    assert(GObject.type_test_flags(Red.Channel.$gtype, GObject.TypeFlags.ABSTRACT), 'Channel is abstract');
});

check('enums', () => {
    assertEqual([Red.AuthMode.NONE, Red.AuthMode.TICKET, Red.AuthMode.SASL], [0, 1, 2], 'AuthMode');
    assertEqual([Red.Error.FAILED, Red.Error.ADDRESS_IN_USE, Red.Error.INVALID_ARGUMENT,
        Red.Error.ALREADY_RUNNING],
    [0, 1, 2, 4], 'Error codes');
    assertEqual([Red.Error.NOT_RUNNING, Red.Error.TOO_MANY_CLIENTS], [undefined, undefined],
        'codes nothing raised are gone');
    assert(Red.error_quark() !== 0, 'error quark is set');
    assertEqual(Red.Error.quark(), Red.error_quark(), 'Red.Error.quark()');
    assertEqual(GLib.quark_to_string(Red.error_quark()), 'red-error-quark', 'error domain name');
});

// ---------------------------------------------------------------- server

const server = new Red.Server();

check('server defaults', () => {
    assert(server instanceof Red.Server && server instanceof GObject.Object, 'instanceof');
    assertEqual(server.address, '127.0.0.1', 'address');
    assertEqual(server.port, 0, 'port');
    assertEqual(server.tls_port, -1, 'tls-port');
    assertEqual(server.max_clients, 16, 'max-clients');
    assertEqual(server.auth, Red.AuthMode.NONE, 'auth');
    assertEqual(server.running, false, 'running');
    assertEqual(server.is_running(), false, 'is_running()');
    assertEqual(server.get_displays().length, 0, 'no displays');
    assertEqual(server.get_clients().length, 0, 'no clients');
});

check('server properties', () => {
    server.address = '127.0.0.1';
    server.name = 'test session';
    server.max_clients = 3;
    server['max-clients'] = 4;
    assertEqual(server.name, 'test session', 'name');
    assertEqual(server.max_clients, 4, 'max-clients');
    server.auth = Red.AuthMode.TICKET;
    assertEqual(server.auth, Red.AuthMode.TICKET, 'auth set to ticket');
    server.auth = Red.AuthMode.NONE;
    assertEqual(server.auth, Red.AuthMode.NONE, 'auth set to none');
    server.password = 'secret';
    assertEqual(server.auth, Red.AuthMode.TICKET, 'password selects ticket auth');
    server.auth = Red.AuthMode.NONE;
    server.set_ticket(null, 0);
    server.max_clients = 0;
    server.name = null;
    assertEqual(server.name, null, 'name cleared');
});

check('construct properties', () => {
    const s = new Red.Server({name: 'built', port: 0, 'max-clients': 2, auth: Red.AuthMode.TICKET});
    assertEqual([s.name, s.max_clients, s.auth], ['built', 2, Red.AuthMode.TICKET], 'values');
    assert(s.get_main_channel() instanceof Red.MainChannel, 'main channel');
    assert(s.get_inputs_channel() instanceof Red.InputsChannel, 'inputs channel');
    assert(s.main_context instanceof GLib.MainContext, 'main-context');
});

check('notify', () => {
    let notified = 0;
    const id = server.connect('notify::name', () => notified++);
    server.name = 'notify me';
    server.disconnect(id);
    server.name = 'not any more';
    assertEqual(notified, 1, 'notify::name emissions');
    server.name = null;
});

check('signals', () => {
    const got = [];
    const ids = [
        server.connect('key-event', (_s, scancode, pressed) => got.push(['key', scancode, pressed])),
        server.connect('pointer-motion', (_s, dx, dy, b) => got.push(['motion', dx, dy, b])),
        server.connect('pointer-position', (_s, d, x, y, b) => got.push(['position', d, x, y, b])),
        server.connect('button-event', (_s, b, pressed, mask) => got.push(['button', b, pressed, mask])),
        server.connect('key-modifiers', (_s, m) => got.push(['modifiers', m])),
    ];
    server.emit('key-event', 0xe01d, true);
    server.emit('pointer-motion', -3, 4, 1);
    server.emit('pointer-position', 0, 10, 20, 4);
    server.emit('button-event', 3, false, 0);
    server.emit('key-modifiers', 4);
    ids.forEach(id => server.disconnect(id));
    server.emit('key-event', 1, false);
    assertEqual(got, [['key', 0xe01d, true], ['motion', -3, 4, 1], ['position', 0, 10, 20, 4],
        ['button', 3, false, 0], ['modifiers', 4]], 'signal arguments');
    for (const name of ['client-connected', 'client-disconnected'])
        assert(GObject.signal_lookup(name, Red.Server.$gtype) > 0, `signal ${name}`);
});

// ---------------------------------------------------------------- displays

const W = 64, H = 48;
const display = server.add_display(W, H);

check('add_display', () => {
    assert(display instanceof Red.Display, 'a Red.Display');
    assertEqual([display.id, display.width, display.height], [0, W, H], 'id, width, height');
    assertEqual([display.get_id(), display.get_width(), display.get_height()], [0, W, H], 'getters');
    const second = server.add_display(16, 8);
    assertEqual([second.id, second.width, second.height], [1, 16, 8], 'second display');
    const all = server.get_displays();
    assertEqual(all.length, 2, 'get_displays() length');
    assert(all[0] === display && all[1] === second, 'get_displays() order');
});

check('display channels', () => {
    assert(display.display_channel instanceof Red.DisplayChannel, 'display-channel');
    assert(display.display_channel instanceof Red.Channel, 'display-channel is a Channel');
    assert(display.cursor_channel instanceof Red.CursorChannel, 'cursor-channel');
    assertEqual(display.display_channel.id, 0, 'display channel id');
    assertEqual(display.get_display_channel().get_channel_type(), Red.ChannelType.DISPLAY, 'channel type');
    assertEqual(display.cursor_channel.channel_type, Red.ChannelType.CURSOR, 'cursor channel type');
    assert(display.worker instanceof Red.Worker, 'worker');
    assertEqual(display.worker.display_id, 0, 'worker display-id');
});

check('invalid arguments', () => {
    const e = assertRedError(() => display.resize(0, 0), Red.Error.INVALID_ARGUMENT, 'resize(0, 0)');
    assert(!e.matches(Red.error_quark(), Red.Error.FAILED), 'not FAILED');
    assert(e.message.length > 0, 'has a message');
    assertRedError(() => display.resize(16385, 10), Red.Error.INVALID_ARGUMENT, 'resize(16385, 10)');
    assertRedError(() => server.add_display(0, 10), Red.Error.INVALID_ARGUMENT, 'add_display(0, 10)');
    assertRedError(() => display.set_cursor(0, 0, 0, 0, new GLib.Bytes(new Uint8Array(4)), 4),
        Red.Error.INVALID_ARGUMENT, 'set_cursor(0x0)');
    assertEqual([display.width, display.height], [W, H], 'size unchanged');
    assertEqual(server.get_displays().length, 2, 'no display added');
});

// ---------------------------------------------------------------- running

let port = 0;

check('start on port 0', () => {
    server.port = 0;
    server.start();
    port = server.get_port();
    assert(port > 0 && port < 65536, `get_port() ${port} is a port`);
    assertEqual(server.port, port, 'port property');
    assertEqual(server.running, true, 'running');
    assertEqual(server.is_running(), true, 'is_running()');
});

check('start twice', () => {
    assertRedError(() => server.start(), Red.Error.ALREADY_RUNNING, 'second start()');
    assertEqual(server.running, true, 'still running');
});

check('port in use', () => {
    const other = new Red.Server({port});
    assertRedError(() => other.start(), Red.Error.ADDRESS_IN_USE, 'start() on a taken port');
    assertEqual(other.running, false, 'not running');
});

check('fill and draw, then snapshot', () => {
    display.fill(0, 0, W, H, 0x102030);
    display.fill(4, 4, 8, 2, 0xff123456); // the top byte is ignored
    display.fill(W - 2, H - 2, 10, 10, 0x00ff00); // clipped
    // A 3x2 area, stride 16 (one pixel of padding per row); bytes B, G, R, X.
    const area = new Uint8Array([
        1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0xee, 0xee, 0xee, 0xee,
        10, 11, 12, 0, 13, 14, 15, 0, 16, 17, 18, 0, 0xee, 0xee, 0xee, 0xee,
    ]);
    display.draw(20, 10, 3, 2, new GLib.Bytes(area), 16);
    const snap = display.snapshot();
    assertEqual([snap[1], snap[2]], [W, H], 'snapshot size');
    assertEqual(snap[0].get_size(), W * H * 4, 'snapshot bytes');
    assertEqual(pixel(snap, 0, 0), [0x30, 0x20, 0x10, 0], 'background at 0,0');
    assertEqual(pixel(snap, 4, 4), [0x56, 0x34, 0x12, 0], 'filled at 4,4');
    assertEqual(pixel(snap, 11, 5), [0x56, 0x34, 0x12, 0], 'filled at 11,5');
    assertEqual(pixel(snap, 12, 5), [0x30, 0x20, 0x10, 0], 'right of the fill');
    assertEqual(pixel(snap, 4, 6), [0x30, 0x20, 0x10, 0], 'below the fill');
    assertEqual(pixel(snap, W - 1, H - 1), [0, 0xff, 0, 0], 'clipped fill in the corner');
    assertEqual(pixel(snap, W - 3, H - 3), [0x30, 0x20, 0x10, 0], 'outside the clipped fill');
    assertEqual(pixel(snap, 20, 10), [1, 2, 3, 0], 'drawn at 20,10');
    assertEqual(pixel(snap, 22, 10), [7, 8, 9, 0], 'drawn at 22,10');
    assertEqual(pixel(snap, 21, 11), [13, 14, 15, 0], 'drawn at 21,11');
    assertEqual(pixel(snap, 23, 10), [0x30, 0x20, 0x10, 0], 'stride padding not drawn');
});

check('copy_area', () => {
    display.copy_area(20, 10, 3, 2, 40, 30);
    const snap = display.snapshot();
    assertEqual(pixel(snap, 40, 30), [1, 2, 3, 0], 'copied at 40,30');
    assertEqual(pixel(snap, 42, 31), [16, 17, 18, 0], 'copied at 42,31');
    assertEqual(pixel(snap, 20, 10), [1, 2, 3, 0], 'source kept');
});

check('cursor', () => {
    const argb = new Uint32Array(16 * 16).fill(0x80400000); // premultiplied
    assert(display.set_cursor(16, 16, 1, 1, new GLib.Bytes(new Uint8Array(argb.buffer)), 64),
        'set_cursor() returns true');
    display.move_cursor(10, 10);
    display.hide_cursor();
    // The cursor is not part of the display's pixels.
    assertEqual(pixel(display.snapshot(), 10, 10), [0x30, 0x20, 0x10, 0], 'snapshot without cursor');
});

check('resize', () => {
    display.resize(W * 2, 8);
    assertEqual([display.width, display.height], [W * 2, 8], 'new size');
    const snap = display.snapshot();
    assertEqual([snap[1], snap[2]], [W * 2, 8], 'snapshot size');
    assertEqual(pixel(snap, 4, 4), [0x56, 0x34, 0x12, 0], 'kept pixel');
    assertEqual(pixel(snap, W + 5, 3), [0, 0, 0, 0], 'new area is black');
    display.resize(W, H);
});

check('stop', () => {
    server.stop();
    assertEqual(server.running, false, 'running');
    assertEqual(server.is_running(), false, 'is_running()');
    display.fill(0, 0, 1, 1, 0xabcdef);
    assertEqual(pixel(display.snapshot(), 0, 0), [0xef, 0xcd, 0xab, 0], 'drawing after stop');
    server.start();
    assert(server.running && server.get_port() > 0, 'starts again');
    server.stop();
    assertEqual(server.running, false, 'stopped again');
});

check('live object counts', () => {
    assert(Red.debug_get_live_objects('RedServer') >= 1, 'a RedServer is alive');
    assert(Red.debug_get_live_objects('RedDisplay') >= 2, 'two RedDisplays are alive');
    assertEqual(Red.debug_get_live_objects('NoSuchType'), -1, 'unknown type');
});

print(`${passed} passed, ${failed} failed`);
System.exit(failed === 0 ? 0 : 1);

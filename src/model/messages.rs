//! Messages that cross threads through the main dispatcher, towards the
//! server's main context (see `docs/threading.md`).

use crate::model::channel_client::ChannelClient;
use crate::model::client::Client;

/// Requests to the main thread, carried by the main dispatcher.
pub enum MainMessage {
    /// A channel client was created on its channel's thread: report it.
    ChannelClientJoined(ChannelClient),
    /// A channel client has disconnected on its thread: leave
    /// RedClient::channels (drops the owning reference).
    ChannelClientLeft {
        client: glib::WeakRef<Client>,
        channel_client: ChannelClient,
    },
    /// Disconnect a channel client of a main-thread channel.
    DisconnectChannelClient(ChannelClient),
    /// spice-server's red_client_disconnect: disconnect everything of the
    /// client, destroy it, emit `client-disconnected`. `tell_client`: the
    /// server ends the session (the client hears why), rather than the
    /// client having left.
    DestroyClient { client: Client, tell_client: bool },
    /// An input event from the inputs channel, to emit as a signal.
    Input(InputEvent),
    /// A channel client's link estimates changed: notify `bandwidth` and
    /// `round-trip-time` on the main thread, where the application gets
    /// its signals.
    LinkChanged {
        channel_client: ChannelClient,
        bandwidth: bool,
        round_trip: bool,
    },
    /// A client's display channels need another playout delay: its main
    /// channel gives the client its new multimedia time.
    PlayoutDelay(glib::WeakRef<Client>),
}

/// An input event, emitted as a `RedServer` signal on the main thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    /// Set-1 scancode; extended keys as 0xe0XX.
    Key { scancode: u32, pressed: bool },
    /// The client's lock keys (SPICE's modifier flags).
    Modifiers(u32),
    /// Relative motion (server mouse mode).
    Motion { dx: i32, dy: i32, buttons: u32 },
    /// An absolute position on a display (client mouse mode).
    Position {
        display_id: u32,
        x: i32,
        y: i32,
        buttons: u32,
    },
    /// A button pressed or released.
    Button {
        button: u32,
        pressed: bool,
        buttons: u32,
    },
}

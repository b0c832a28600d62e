//! The main channel (SPICE channel type 1), on the main thread.

declare_channel_pair! {
    /// The main channel: session set-up, mouse mode, channel list.
    channel MainChannel = "RedMainChannel", MainChannel;
    /// A client's main channel connection; its departure ends the client.
    client MainChannelClient = "RedMainChannelClient", MainChannelClient;
}

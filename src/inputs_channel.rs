//! The inputs channel (SPICE channel type 3), on the main thread.

declare_channel_pair! {
    /// The inputs channel: keyboard and mouse from clients.
    channel InputsChannel = "RedInputsChannel", InputsChannel;
    /// A client's inputs channel connection.
    client InputsChannelClient = "RedInputsChannelClient", InputsChannelClient;
}

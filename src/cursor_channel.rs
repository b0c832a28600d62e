//! The cursor channel (SPICE channel type 4) of one `RedDisplay`, running
//! in that display's `RedWorker` thread beside its display channel.

declare_channel_pair! {
    /// A display's cursor channel: pointer shape and position.
    channel CursorChannel = "RedCursorChannel", CursorChannel;
    /// A client's cursor channel connection, in the worker thread.
    client CursorChannelClient = "RedCursorChannelClient", CursorChannelClient;
}

//! The display channel (SPICE channel type 2) of one `RedDisplay`, running
//! in that display's `RedWorker` thread.

declare_channel_pair! {
    /// A display's display channel: surfaces and drawing.
    channel DisplayChannel = "RedDisplayChannel", DisplayChannel;
    /// A client's display channel connection, in the worker thread.
    client DisplayChannelClient = "RedDisplayChannelClient", DisplayChannelClient;
}

//! Declares a final channel class, its channel client class, and the
//! protocol state each client connection of that channel keeps. Each
//! channel module uses it once; the protocol type lives beside it.

macro_rules! declare_channel_pair {
    (
        $(#[$cmeta:meta])* channel $channel:ident = $channel_name:literal, $channel_counted:ident;
        $(#[$rmeta:meta])* client $rcc:ident = $rcc_name:literal, $rcc_counted:ident;
        protocol $protocol:ty;
    ) => {
        pub mod imp {
            use glib::subclass::prelude::*;

            use crate::model::channel::ChannelImpl;
            use crate::model::channel_client::ChannelClientImpl;
            use crate::base::live_objects::{Counted, CountedClass, Live};

            #[derive(Default)]
            pub struct $channel {
                _live: Live<$channel>,
            }

            impl CountedClass for $channel {
                const CLASS: Counted = Counted::$channel_counted;
            }

            #[glib::object_subclass]
            impl ObjectSubclass for $channel {
                const NAME: &'static str = $channel_name;
                type Type = super::$channel;
                type ParentType = crate::model::channel::Channel;
            }

            impl ObjectImpl for $channel {}
            impl ChannelImpl for $channel {}

            #[derive(Default)]
            pub struct $rcc {
                _live: Live<$rcc>,
            }

            impl CountedClass for $rcc {
                const CLASS: Counted = Counted::$rcc_counted;
            }

            #[glib::object_subclass]
            impl ObjectSubclass for $rcc {
                const NAME: &'static str = $rcc_name;
                type Type = super::$rcc;
                type ParentType = crate::model::channel_client::ChannelClient;
            }

            impl ObjectImpl for $rcc {}
            impl ChannelClientImpl for $rcc {}
        }

        glib::wrapper! {
            $(#[$cmeta])*
            pub struct $channel(ObjectSubclass<imp::$channel>)
                @extends crate::model::channel::Channel;
        }

        glib::wrapper! {
            $(#[$rmeta])*
            pub struct $rcc(ObjectSubclass<imp::$rcc>)
                @extends crate::model::channel_client::ChannelClient;
        }

        impl $rcc {
            /// Runs `f` on this client's protocol state and outbox, then
            /// lets the protocol refill and flushes. `Err` means: disconnect.
            #[allow(dead_code)]
            pub(crate) fn with_protocol(
                &self,
                f: impl FnOnce(&mut $protocol, &mut $crate::model::connection::Outbox)
                    -> $crate::model::connection::Result,
            ) -> $crate::model::connection::Result {
                use glib::prelude::*;
                $crate::model::connection::with_io(self.upcast_ref(), |io, _| {
                    match io.protocol_as::<$protocol>() {
                        Some((protocol, out)) => f(protocol, out),
                        None => Ok(()),
                    }
                })
            }
        }

        impl $channel {
            /// Runs `f` on the protocol state of every client of this
            /// channel; one whose connection fails is disconnected. On the
            /// channel's thread.
            #[allow(dead_code)]
            pub(crate) fn for_each_protocol(
                &self,
                mut f: impl FnMut(&mut $protocol, &mut $crate::model::connection::Outbox)
                    -> $crate::model::connection::Result,
            ) {
                use glib::prelude::*;
                for rcc in $crate::model::channel::ChannelExt::clients(self) {
                    let Some(rcc) = rcc.downcast_ref::<$rcc>() else {
                        continue;
                    };
                    if let Err(error) = rcc.with_protocol(|p, out| f(p, out)) {
                        $crate::model::connection::disconnect_after(rcc.upcast_ref(), &error);
                    }
                }
            }
        }
    };
}

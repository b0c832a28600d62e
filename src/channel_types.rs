//! Declares a final channel class and its channel client class. Each
//! channel module uses it once; protocol state lives beside it.

macro_rules! declare_channel_pair {
    (
        $(#[$cmeta:meta])* channel $channel:ident = $channel_name:literal, $channel_counted:ident;
        $(#[$rmeta:meta])* client $rcc:ident = $rcc_name:literal, $rcc_counted:ident;
    ) => {
        pub mod imp {
            use glib::subclass::prelude::*;

            use crate::channel::ChannelImpl;
            use crate::channel_client::ChannelClientImpl;
            use crate::live_objects::{Counted, CountedClass, Live};

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
                type ParentType = crate::channel::Channel;
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
                type ParentType = crate::channel_client::ChannelClient;
            }

            impl ObjectImpl for $rcc {}
            impl ChannelClientImpl for $rcc {}
        }

        glib::wrapper! {
            $(#[$cmeta])*
            pub struct $channel(ObjectSubclass<imp::$channel>)
                @extends crate::channel::Channel;
        }

        glib::wrapper! {
            $(#[$rmeta])*
            pub struct $rcc(ObjectSubclass<imp::$rcc>)
                @extends crate::channel_client::ChannelClient;
        }
    };
}

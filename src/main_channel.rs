//! The main channel (SPICE channel type 1), on the main thread.

declare_channel_pair! {
    /// The main channel: session set-up, mouse mode, channel list.
    channel MainChannel = "RedMainChannel", MainChannel;
    /// A client's main channel connection; its departure ends the client.
    client MainChannelClient = "RedMainChannelClient", MainChannelClient;
}

use glib::prelude::*;

use crate::channel::ChannelExt;
use crate::channel_client::ChannelClient;
use crate::connection::{with_io, ChannelProtocol, Outbox};
use crate::protocol::constants::{cap, channel, mouse_mode};
use crate::protocol::main_messages::{
    ChannelsList, MainInit, MouseMode, MultiMediaTime, Name, Uuid,
};
use crate::protocol::{Caps, ChannelId, ClientMessage, MainClientMessage};
use crate::server::Server;

/// Both mouse modes: the inputs channel takes absolute positions (with
/// their display id) as well as relative motion.
const SUPPORTED_MOUSE_MODES: u16 = mouse_mode::SERVER | mouse_mode::CLIENT;

/// The multimedia clock: monotonic milliseconds, as spice-server's.
pub(crate) fn mm_time() -> u32 {
    (glib::monotonic_time() / 1000) as u32
}

/// The main channel's side of one client connection (main thread).
pub(crate) struct MainProtocol {
    server: glib::WeakRef<Server>,
    session_id: u32,
    client_caps: Caps,
}

impl MainProtocol {
    pub(crate) fn new(server: &Server, session_id: u32, client_caps: Caps) -> Self {
        MainProtocol {
            server: server.downgrade(),
            session_id,
            client_caps,
        }
    }
}

impl ChannelProtocol for MainProtocol {
    fn start(&mut self, _rcc: &ChannelClient, out: &mut Outbox) -> Result<(), String> {
        let server = self.server.upgrade().ok_or("the server is gone")?;
        out.send(&MainInit {
            session_id: self.session_id,
            display_channels_hint: server.displays().len() as u32,
            supported_mouse_modes: u32::from(SUPPORTED_MOUSE_MODES),
            current_mouse_mode: u32::from(server.mouse_mode()),
            agent_connected: 0,
            agent_tokens: 0,
            multi_media_time: mm_time(),
            ram_hint: 0,
        })?;
        if self.client_caps.has(cap::main::NAME_AND_UUID) {
            if let Some(name) = server.property::<Option<String>>("name") {
                out.send(&Name { name: &name })?;
            }
            if let Some(uuid) = server
                .property::<Option<String>>("uuid")
                .as_deref()
                .and_then(crate::server::parse_uuid)
            {
                out.send(&Uuid { uuid })?;
            }
        }
        Ok(())
    }

    fn handle(
        &mut self,
        rcc: &ChannelClient,
        message: ClientMessage<'_>,
        out: &mut Outbox,
    ) -> Result<(), String> {
        let ClientMessage::Main(message) = message else {
            return Err(format!(
                "unexpected message {} on the main channel",
                message.msg_type()
            ));
        };
        let server = self.server.upgrade().ok_or("the server is gone")?;
        match message {
            MainClientMessage::AttachChannels => {
                let mut channels = vec![ChannelId {
                    channel_type: channel::INPUTS,
                    id: 0,
                }];
                for display in server.displays() {
                    let id = display.id() as u8;
                    channels.push(ChannelId {
                        channel_type: channel::DISPLAY,
                        id,
                    });
                    channels.push(ChannelId {
                        channel_type: channel::CURSOR,
                        id,
                    });
                }
                out.send(&ChannelsList {
                    channels: &channels,
                })?;
                out.send(&MultiMediaTime { time: mm_time() })?;
            }
            MainClientMessage::MouseModeRequest { mode }
                if mode == mouse_mode::SERVER || mode == mouse_mode::CLIENT =>
            {
                server.set_mouse_mode(mode);
                let message = MouseMode {
                    supported_modes: SUPPORTED_MOUSE_MODES,
                    current_mode: mode,
                };
                out.send(&message)?;
                for other in server.main_channel().clients() {
                    if &other != rcc {
                        let _ = with_io(&other, |io, _| io.out.send(&message));
                    }
                }
            }
            // No agent, no migration: accepted and ignored.
            _ => {}
        }
        Ok(())
    }

    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

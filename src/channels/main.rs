//! The main channel (SPICE channel type 1), on the main thread.

declare_channel_pair! {
    /// The main channel: session set-up, mouse mode, channel list.
    channel MainChannel = "RedMainChannel", MainChannel;
    /// A client's main channel connection; its departure ends the client.
    client MainChannelClient = "RedMainChannelClient", MainChannelClient;
    protocol MainProtocol;
}

use std::sync::Arc;

use glib::prelude::*;

use crate::base::clock::mm_time;
use crate::model::channel::ChannelExt;
use crate::model::channel_client::{ChannelClient, ChannelClientExt};
use crate::model::client::Client;
use crate::model::connection::{ChannelProtocol, Outbox, Result};
use crate::model::error::ConnectionError;
use crate::model::link::{ClientPlayout, PLAYOUT_START_MS};
use crate::protocol::constants::{cap, channel, mouse_mode};
use crate::protocol::main_messages::{
    ChannelsList, MainInit, MouseMode, MultiMediaTime, Name, Uuid,
};
use crate::protocol::{Caps, ChannelId, ClientMessage, MainClientMessage};

/// Both mouse modes: the inputs channel takes absolute positions (with
/// their display id) as well as relative motion.
const SUPPORTED_MOUSE_MODES: u16 = mouse_mode::SERVER | mouse_mode::CLIENT;

/// What the main channel needs of the session it serves (the server,
/// which owns the main channel); `None` once the server is gone.
pub(crate) trait MainChannelHost: Send + 'static {
    /// The ids of the displays, in order.
    fn display_ids(&self) -> Option<Vec<u32>>;
    /// The session's name and UUID, if set.
    fn name_and_uuid(&self) -> Option<(Option<String>, Option<[u8; 16]>)>;
    /// The current mouse mode (`mouse_mode::SERVER` or `CLIENT`).
    fn mouse_mode(&self) -> Option<u16>;
    /// A client asked for another mouse mode.
    fn set_mouse_mode(&self, mode: u16);
}

/// The main channel's side of one client connection (main thread).
pub(crate) struct MainProtocol {
    host: Box<dyn MainChannelHost>,
    session_id: u32,
    client_caps: Caps,
    /// The playout delays the client's display channels need.
    playout: Option<Arc<ClientPlayout>>,
    /// The delay the client's multimedia clock was last given.
    delay_ms: u32,
}

impl MainProtocol {
    pub(crate) fn new(host: Box<dyn MainChannelHost>, session_id: u32, client_caps: Caps) -> Self {
        MainProtocol {
            host,
            session_id,
            client_caps,
            playout: None,
            delay_ms: PLAYOUT_START_MS,
        }
    }

    /// The multimedia time the client's clock starts from: the server's
    /// minus the playout delay its display channels need, so that stream
    /// frames, stamped with the server's time when they are queued, are
    /// not late when they arrive (spice-gtk drops or rushes frames whose
    /// stamp its clock has passed).
    fn client_mm_time(&mut self) -> u32 {
        self.delay_ms = self
            .playout
            .as_ref()
            .map_or(PLAYOUT_START_MS, |p| p.delay_ms());
        mm_time().wrapping_sub(self.delay_ms)
    }

    /// MULTI_MEDIA_TIME when the delay changed.
    fn give_playout_delay(&mut self, out: &mut Outbox) -> Result {
        let needed = self
            .playout
            .as_ref()
            .map_or(PLAYOUT_START_MS, |p| p.delay_ms());
        if needed == self.delay_ms {
            return Ok(());
        }
        red_debug!("playout delay {} ms -> {needed} ms", self.delay_ms);
        let time = self.client_mm_time();
        out.send(&MultiMediaTime { time })
    }
}

/// Gives `client` the playout delay its display channels now need; on the
/// main thread (`MainMessage::PlayoutDelay`).
pub(crate) fn give_playout_delay(client: &Client) {
    let Some(mcc) = client.main_channel_client() else {
        return;
    };
    let Some(mcc) = mcc.downcast_ref::<MainChannelClient>() else {
        return;
    };
    if let Err(error) = mcc.with_protocol(|p, out| p.give_playout_delay(out)) {
        crate::model::connection::disconnect_after(mcc.upcast_ref(), &error);
    }
}

impl ChannelProtocol for MainProtocol {
    fn start(&mut self, rcc: &ChannelClient, out: &mut Outbox) -> Result {
        self.playout = rcc.client().map(|c| c.shared(0, ClientPlayout::default));
        let multi_media_time = self.client_mm_time();
        let displays = self.host.display_ids().ok_or(ConnectionError::Gone)?;
        let mouse_mode = self.host.mouse_mode().ok_or(ConnectionError::Gone)?;
        out.send(&MainInit {
            session_id: self.session_id,
            display_channels_hint: displays.len() as u32,
            supported_mouse_modes: u32::from(SUPPORTED_MOUSE_MODES),
            current_mouse_mode: u32::from(mouse_mode),
            agent_connected: 0,
            agent_tokens: 0,
            multi_media_time,
            ram_hint: 0,
        })?;
        if self.client_caps.has(cap::main::NAME_AND_UUID) {
            let (name, uuid) = self.host.name_and_uuid().ok_or(ConnectionError::Gone)?;
            if let Some(name) = name {
                out.send(&Name { name: &name })?;
            }
            if let Some(uuid) = uuid {
                out.send(&Uuid { uuid })?;
            }
        }
        // As spice-server does: the client's link, timed at connect.
        out.start_net_test()
    }

    fn handle(
        &mut self,
        rcc: &ChannelClient,
        message: ClientMessage<'_>,
        out: &mut Outbox,
    ) -> Result {
        let ClientMessage::Main(message) = message else {
            return Err(ConnectionError::unexpected("main", message.msg_type()));
        };
        match message {
            MainClientMessage::AttachChannels => {
                let mut channels = vec![ChannelId {
                    channel_type: channel::INPUTS,
                    id: 0,
                }];
                for id in self.host.display_ids().ok_or(ConnectionError::Gone)? {
                    let id = id as u8;
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
                let time = self.client_mm_time();
                out.send(&MultiMediaTime { time })?;
            }
            MainClientMessage::MouseModeRequest { mode }
                if mode == mouse_mode::SERVER || mode == mouse_mode::CLIENT =>
            {
                self.host.set_mouse_mode(mode);
                let message = MouseMode {
                    supported_modes: SUPPORTED_MOUSE_MODES,
                    current_mode: mode,
                };
                out.send(&message)?;
                // Every other client learns the new mode too.
                let channel = rcc.channel().and_then(|c| c.downcast::<MainChannel>().ok());
                for other in channel.map(|c| c.clients()).unwrap_or_default() {
                    if &other != rcc {
                        if let Some(other) = other.downcast_ref::<MainChannelClient>() {
                            let _ = other.with_protocol(|_, out| out.send(&message));
                        }
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

//! What the server decides about a connection in the link stage, and what
//! becomes of one that linked: a new client and its main channel, or
//! another channel of an existing client, handed to the channel's thread.

use glib::prelude::*;
use glib::subclass::prelude::*;

use super::link_stage::Linked;
use super::settings::Settings;
use super::ticket::TicketKey;
use super::Server;
use crate::base::enums::AuthMode;
use crate::base::sync::lock;
use crate::channels::display::LinkedChannel;
use crate::channels::inputs::{InputsChannelClient, InputsProtocol};
use crate::channels::main::{MainChannelClient, MainChannelHost, MainProtocol};
use crate::display::encoder::parse_video_codecs;
use crate::model::channel_client::new_channel_client;
use crate::model::client::Client;
use crate::model::connection::attach;
use crate::protocol::constants::{channel, link_err};
use crate::protocol::link::ticket_password;
use crate::protocol::LinkMess;
use crate::worker::WorkerMessage;

/// The server as its main channel sees it: weak, so a connection never
/// keeps the server alive.
struct MainChannelHostImpl(glib::WeakRef<Server>);

impl MainChannelHost for MainChannelHostImpl {
    fn display_ids(&self) -> Option<Vec<u32>> {
        let server = self.0.upgrade()?;
        Some(server.displays().iter().map(|d| d.id()).collect())
    }

    fn name_and_uuid(&self) -> Option<(Option<String>, Option<[u8; 16]>)> {
        let settings = self.0.upgrade()?.settings();
        let uuid = settings.uuid_bytes();
        Some((settings.name, uuid))
    }

    fn mouse_mode(&self) -> Option<u16> {
        Some(self.0.upgrade()?.mouse_mode())
    }

    fn set_mouse_mode(&self, mode: u16) {
        if let Some(server) = self.0.upgrade() {
            server.set_mouse_mode(mode);
        }
    }
}

impl Server {
    /// Whether a channel of that type and id exists.
    pub(crate) fn has_channel(&self, channel_type: u8, id: u8) -> bool {
        match channel_type {
            channel::MAIN | channel::INPUTS => id == 0,
            channel::DISPLAY | channel::CURSOR => {
                self.displays().iter().any(|d| d.id() == u32::from(id))
            }
            _ => false,
        }
    }

    fn client_by_id(&self, id: u32) -> Option<Client> {
        self.clients().into_iter().find(|c| c.id() == id)
    }

    /// Whether a new client would exceed `max-clients`.
    pub(crate) fn is_full(&self) -> bool {
        let max = self.settings().max_clients as usize;
        max > 0 && self.clients().len() >= max
    }

    /// Decides a link once the ticket is in: SPICE's link error code.
    pub(crate) fn check_link(&self, mess: &LinkMess, key: &TicketKey, ciphertext: &[u8]) -> u32 {
        let plaintext = key.decrypt(ciphertext);
        let accepted = match self.settings().auth {
            // spice-server with ticketing off accepts any ticket too.
            AuthMode::None => true,
            AuthMode::Ticket => plaintext
                .as_deref()
                .map(ticket_password)
                .is_some_and(|attempt| self.ticket_accepts(attempt)),
            AuthMode::Sasl => false,
        };
        if !accepted {
            return link_err::PERMISSION_DENIED;
        }
        self.admit(mess)
    }

    /// Decides an authenticated link (ticket or SASL): SPICE's link error
    /// code.
    pub(crate) fn admit(&self, mess: &LinkMess) -> u32 {
        if mess.channel_type == channel::MAIN {
            // Another client may have linked since the link reply said
            // there was room.
            if self.is_full() {
                return link_err::ERROR;
            }
            return link_err::OK;
        }
        match self.client_by_id(mess.connection_id) {
            Some(_) => link_err::OK,
            None => link_err::BAD_CONNECTION_ID,
        }
    }

    /// A connection passed the link stage: give it to its channel.
    pub(crate) fn link_done(&self, linked: Linked) {
        let Linked {
            mess,
            socket,
            peer,
            input,
        } = linked;
        match mess.channel_type {
            channel::MAIN => {
                let id = self.new_session_id();
                let client = Client::new(id, Some(&peer), self.main_core(), self.main_dispatcher());
                let mcc: MainChannelClient =
                    new_channel_client(self.main_channel().upcast_ref(), &client);
                self.add_client(&client);
                let host = Box::new(MainChannelHostImpl(self.downgrade()));
                let protocol = MainProtocol::new(host, id, mess.channel_caps.clone());
                attach(
                    mcc.upcast_ref(),
                    socket,
                    input,
                    &mess.common_caps,
                    Box::new(protocol),
                );
            }
            channel::INPUTS => {
                let Some(client) = self.client_by_id(mess.connection_id) else {
                    return;
                };
                let icc: InputsChannelClient =
                    new_channel_client(self.inputs_channel().upcast_ref(), &client);
                let protocol =
                    InputsProtocol::new(self.main_dispatcher().clone(), self.key_modifiers());
                attach(
                    icc.upcast_ref(),
                    socket,
                    input,
                    &mess.common_caps,
                    Box::new(protocol),
                );
            }
            channel::DISPLAY | channel::CURSOR => {
                let Some(client) = self.client_by_id(mess.connection_id) else {
                    return;
                };
                let Some(display) = self
                    .displays()
                    .into_iter()
                    .find(|d| d.id() == u32::from(mess.channel_id))
                else {
                    return;
                };
                let Some(worker) = display.worker() else {
                    return;
                };
                let Settings {
                    image_compression,
                    video_codecs,
                    ..
                } = self.settings();
                let linked = LinkedChannel {
                    channel_type: mess.channel_type,
                    client,
                    socket,
                    input,
                    common_caps: mess.common_caps,
                    channel_caps: mess.channel_caps,
                    image_compression,
                    video_codecs: parse_video_codecs(&video_codecs),
                };
                worker.dispatch(WorkerMessage::Connect(Box::new(linked)), false);
            }
            _ => {}
        }
    }

    /// An unguessable, unused, non-zero session (connection) id.
    fn new_session_id(&self) -> u32 {
        loop {
            let id: u32 = rand::random();
            if id != 0 && self.client_by_id(id).is_none() {
                return id;
            }
        }
    }

    /// Registers a linked client and emits `client-connected`.
    pub(crate) fn add_client(&self, client: &Client) {
        lock(&self.imp().clients).push(client.clone());
        self.emit_by_name::<()>("client-connected", &[client]);
    }
}

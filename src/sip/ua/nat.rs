//! NAT traversal for the UA: learning the public address from rport/received (RFC 3581) in
//! the `use_rport` modes, and the keep-alives of `keepalivetype`/`keepaliveival`.

use super::{
    KeepAliveType, RportMode, UaEvent, UserAgent, format_hostport, is_public, random_token,
};
use crate::sip::headers::Via;
use crate::sip::message::{Method, SipMessage};
use crate::sip::transport::{Transmit, Transport};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

impl UserAgent {
    /// Learns the public address from the top Via of a response (RFC 3581).
    pub(super) fn learn_address(&mut self, resp: &SipMessage, now: Instant) {
        let Some(via) = resp
            .headers
            .list("Via")
            .first()
            .and_then(|v| Via::parse(v).ok())
        else {
            return;
        };
        if via.sent_by() != format_hostport(self.cfg.local).to_ascii_lowercase() {
            return;
        }
        let ip = via
            .params
            .value("received")
            .and_then(|r| r.trim_matches(['[', ']']).parse::<IpAddr>().ok())
            .unwrap_or(self.cfg.local.ip());
        let port = via
            .params
            .value("rport")
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(self.cfg.local.port());
        let seen = SocketAddr::new(ip, port);
        let current = self.contact_addr();
        if seen == current {
            self.rport_candidate = None;
            return;
        }
        let use_it = match self.cfg.rport {
            RportMode::Off | RportMode::AskOnly => false,
            RportMode::EvenOnPublic => true,
            RportMode::Always => !is_public(self.cfg.local.ip()),
            RportMode::WhenSure => {
                let sure = self.rport_candidate == Some(seen);
                self.rport_candidate = Some(seen);
                sure
            }
        };
        if use_it && self.cfg.transport == Transport::Udp {
            self.public_addr = Some(seen);
            self.rport_candidate = None;
            let contact = Self::contact_uri(&self.cfg, seen);
            if let Some(r) = &mut self.registration {
                r.update_contact(now, contact);
            }
            self.events.push_back(UaEvent::PublicAddress { addr: seen });
        }
    }

    pub(super) fn send_keepalive(&mut self, now: Instant) {
        self.keepalive_at = Some(now + self.cfg.keepalive_interval);
        let Some(dest) = self.cfg.first_hop else {
            return;
        };
        let bytes: &[u8] = match self.cfg.keepalive {
            KeepAliveType::None => return,
            KeepAliveType::SpaceCrlf => b" \r\n",
            KeepAliveType::Crlf => b"\r\n",
            KeepAliveType::CrlfCrlf => b"\r\n\r\n",
            KeepAliveType::Notify => {
                let mut req =
                    SipMessage::request(Method::Notify, format!("sip:{}", self.cfg.domain));
                let tag = random_token(&mut self.rng, 10);
                let call_id = random_token(&mut self.rng, 24);
                req.headers.push("Max-Forwards", "70");
                req.headers.push(
                    "From",
                    format!("<sip:{}@{}>;tag={tag}", self.cfg.user, self.cfg.domain),
                );
                req.headers.push("To", format!("<sip:{}>", self.cfg.domain));
                req.headers.push("Call-ID", call_id);
                req.headers.push("CSeq", "1 NOTIFY");
                req.headers.push("Event", "keep-alive");
                self.send_request(now, req);
                return;
            }
        };
        self.transmits.push_back(Transmit {
            dest,
            bytes: bytes.to_vec(),
        });
    }
}

//! One call's media as a sans-IO state machine: datagrams go in with the time they arrived,
//! the audio engine puts in what the far end should hear and takes out what it said, one
//! bridge frame at a time; RTP/RTCP transmits, events and the next deadline come out. No
//! socket, no clock, no device: the driver's thin socket task and the audio engine move the
//! bytes and frames, and the tests run it on a virtual clock.
//!
//! What it does: symmetric RTP with latching (RFC 4961, `rtp::latch`), a new SSRC resets the
//! jitter buffer, direction gating (nothing sent when we may not send, nothing played when we
//! do not receive), `mediatimeout`, the RTCP schedule (first report after 1 s, then every 5 s;
//! rtcp-mux), RFC 4733 DTMF both ways, the ringback heard until the far end's audio arrives,
//! and NAT opening packets for early media.
//!
//! Frames: the codec works on `ptime` frames, the bridge on [`BRIDGE_FRAME_MS`] ones; a FIFO
//! each way turns one into the other, so a 30 ms or 60 ms call sits on a 20 ms bridge.

use super::dtmf::{DtmfReceiver, DtmfSender, DtmfTick};
pub use super::keying::Via;
use super::keying::{Keying, KeyingError, KeyingEvent};
use super::pipeline::{PipelineError, ReceivePath, SendPath};
use super::silence::{SilenceGate, SilenceSettings, SlotAction};
use super::tone::{Tone, ToneKind};
use crate::model::MediaStats;
use crate::rtp::latch::{RtpLatch, Verdict};
use crate::rtp::rtcp::{ReceptionStats, build_report, parse_compound};
use crate::rtp::{RtpSender, parse};
use crate::sdp::{Direction, Negotiated, OpusParams};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The bridge's frame length: every port gives and takes this much audio per tick.
pub const BRIDGE_FRAME_MS: u32 = 20;

/// Samples in one bridge frame at `rate`.
pub fn bridge_frame(rate: u32) -> usize {
    (rate * BRIDGE_FRAME_MS / 1000) as usize
}

/// Media settings that are the same for every call.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Jitter buffer delay: minimum (start) and maximum target in frames.
    pub jitter: (usize, usize),
    /// `mediatimeout`: no RTP for this long ends the call (zero: never).
    pub media_timeout: Duration,
    /// What we capture and want for Opus (band, DTX).
    pub opus: OpusParams,
    /// `natopenpackets` / `natopenpackettype`: packets sent towards the peer when media starts
    /// without us sending (early media), and whether they are RTP silence (else CRLFCRLF).
    pub nat_open: (u32, bool),
    /// Silence suppression, sending while muted, keep-alives.
    pub silence: SilenceSettings,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub via: Via,
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

/// What the session tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A telephone event (RFC 4733) ended.
    Dtmf(char),
    /// No RTP arrived for `mediatimeout` while we expect to receive.
    Timeout,
    /// RTP from a source other than the call's was dropped (said once per call).
    Foreign(SocketAddr),
    /// DTLS-SRTP keyed the call with this suite (the far end's certificate is the one its
    /// SDP announced); media flows from now on.
    Secured(String),
    /// DTLS-SRTP could not key the call: no media will flow (the call should end).
    SecurityFailed(String),
}

/// The RTP streams' random starting points (RFC 3550 §5.1: SSRC, sequence, timestamp).
#[derive(Debug, Clone, Copy)]
pub struct StreamStart {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
}

/// Why a call's media could not be started or changed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Keying(#[from] KeyingError),
}

/// One call's media.
#[derive(Debug)]
pub struct MediaSession {
    n: Negotiated,
    cfg: SessionConfig,
    /// The bridge's rate: what `put_frame` gives and `get_frame` takes.
    rate: u32,
    send: SendPath,
    receive: ReceivePath,
    /// Captured audio not yet encoded (less than a ptime frame).
    to_encode: Vec<i16>,
    /// Decoded audio not yet taken by the bridge.
    to_play: VecDeque<i16>,
    decoded: Vec<i16>,
    payload: Vec<u8>,
    sender: RtpSender,
    latch: RtpLatch,
    remote: SocketAddr,
    rtcp_remote: SocketAddr,
    rx_stats: ReceptionStats,
    rtt: Option<f64>,
    dtmf: DtmfSender,
    dtmf_in: DtmfReceiver,
    event_ts: u32,
    started: Instant,
    last_rx: Instant,
    timed_out: bool,
    next_rtcp: Instant,
    got_rtp: bool,
    ringback: Option<Tone>,
    mic_muted: bool,
    speaker_muted: bool,
    gate: SilenceGate,
    /// Clear, SRTP (SDES) or DTLS-SRTP: every RTP and RTCP packet passes it both ways.
    keying: Keying,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SessionEvent>,
}

/// RTCP among RTP on one port: payload types 192-223 (RFC 5761 §4).
fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 2 && (64..=95).contains(&(data[1] & 0x7f))
}

fn ptime(n: &Negotiated) -> u32 {
    n.ptime.clamp(10, 60)
}

/// The send and receive paths for one negotiation at the bridge's rate.
fn build_paths(
    n: &Negotiated,
    cfg: &SessionConfig,
    rate: u32,
) -> Result<(SendPath, ReceivePath), PipelineError> {
    let send = SendPath::new(n.codec, ptime(n), rate, &n.opus, &cfg.opus)?;
    let mut agreed = vec![(n.payload_type, n.codec)];
    agreed.extend(n.codecs.iter().filter(|c| c.0 != n.payload_type));
    let recv = ReceivePath::new(&agreed, ptime(n), rate, cfg.jitter)?.with_comfort_noise(n.cn_pt);
    Ok((send, recv))
}

fn rtcp_address(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
}

impl MediaSession {
    /// Starts the media of a negotiated call whose bridge runs at `rate`; NAT opening packets
    /// are queued when we do not send yet.
    pub fn new(
        n: Negotiated,
        cfg: SessionConfig,
        rate: u32,
        start: StreamStart,
        now: Instant,
    ) -> Result<MediaSession, SessionError> {
        let (send, receive) = build_paths(&n, &cfg, rate)?;
        let keying = Keying::new(&n, rtcp_address(n.remote), now)?;
        let mut s = MediaSession {
            sender: RtpSender::new(n.payload_type, start.ssrc, start.seq, start.timestamp),
            latch: RtpLatch::new(n.remote),
            remote: n.remote,
            rtcp_remote: rtcp_address(n.remote),
            to_encode: Vec::with_capacity(send.device_samples * 2),
            to_play: VecDeque::with_capacity(bridge_frame(rate) * 4),
            decoded: vec![0; (rate * ptime(&n) / 1000) as usize],
            payload: Vec::with_capacity(1500),
            send,
            receive,
            rate,
            rx_stats: ReceptionStats::default(),
            rtt: None,
            dtmf: DtmfSender::default(),
            dtmf_in: DtmfReceiver::default(),
            event_ts: 0,
            started: now,
            last_rx: now,
            timed_out: false,
            // The first report goes out early, so the peer's first report can already carry
            // our SR (and short calls learn the round trip), then every 5 s.
            next_rtcp: now + Duration::from_secs(1),
            got_rtp: false,
            ringback: None,
            mic_muted: false,
            speaker_muted: false,
            gate: SilenceGate::new(cfg.silence, rate),
            keying,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            n,
            cfg,
        };
        s.open_nat();
        s.flush_keying();
        Ok(s)
    }

    /// Moves what the DTLS handshakes have to send into the transmits, and what they
    /// achieved into the events.
    fn flush_keying(&mut self) {
        while let Some((via, to, data)) = self.keying.poll_transmit() {
            self.transmits.push_back(Transmit { via, to, data });
        }
        while let Some(ev) = self.keying.poll_event() {
            self.events.push_back(match ev {
                KeyingEvent::Secured(suite) => SessionEvent::Secured(suite),
                KeyingEvent::Failed(why) => SessionEvent::SecurityFailed(why),
            });
        }
    }

    fn sending(&self) -> bool {
        matches!(self.n.direction, Direction::SendRecv | Direction::SendOnly)
    }

    fn receiving(&self) -> bool {
        matches!(self.n.direction, Direction::SendRecv | Direction::RecvOnly)
    }

    /// NAT opening: the peer's media gets in once we have sent something its way.
    fn open_nat(&mut self) {
        if self.sending() {
            return;
        }
        let (count, as_rtp) = self.cfg.nat_open;
        for _ in 0..count {
            let data = if as_rtp {
                let silence = vec![0i16; self.send.device_samples];
                let _ = self.send.encode(&silence, &mut self.payload);
                self.sender
                    .packetize(&self.payload, self.send.clock_samples)
            } else {
                b"\r\n\r\n".to_vec()
            };
            self.transmits.push_back(Transmit {
                via: Via::Rtp,
                to: self.n.remote,
                data,
            });
        }
    }

    /// The bridge's rate changed (another playback device): new resamplers, and the jitter
    /// buffer starts over.
    pub fn set_rate(&mut self, rate: u32) -> Result<(), PipelineError> {
        if rate != self.rate {
            let (send, receive) = build_paths(&self.n, &self.cfg, rate)?;
            self.apply_paths(send, receive, rate);
        }
        Ok(())
    }

    fn apply_paths(&mut self, send: SendPath, receive: ReceivePath, rate: u32) {
        self.send = send;
        self.receive = receive;
        if rate != self.rate {
            self.gate = SilenceGate::new(self.cfg.silence, rate);
        }
        self.rate = rate;
        self.to_encode.clear();
        self.to_play.clear();
        self.decoded = vec![0; (rate * ptime(&self.n) / 1000) as usize];
    }

    /// A new negotiation (re-INVITE: hold, another address, another codec). Another codec
    /// gives new paths on the same RTP stream; if they cannot be built the old codec stays.
    pub fn update(&mut self, now: Instant, new: Negotiated) -> Result<(), SessionError> {
        // New keys first: with keys that cannot be used the call keeps its old media. The
        // same DTLS peer (its certificate unchanged) keeps its associations and keys.
        self.keying
            .update(&self.n, &new, rtcp_address(new.remote), now)?;
        self.flush_keying();
        if new.remote != self.n.remote {
            self.latch.resignal(new.remote);
            self.remote = new.remote;
            self.rtcp_remote = rtcp_address(new.remote);
        }
        let same_codec = (
            new.codec,
            new.payload_type,
            &new.codecs,
            new.ptime,
            new.opus,
        ) == (
            self.n.codec,
            self.n.payload_type,
            &self.n.codecs,
            self.n.ptime,
            self.n.opus,
        );
        if same_codec {
            self.n = new;
            return Ok(());
        }
        match build_paths(&new, &self.cfg, self.rate) {
            Ok((send, receive)) => {
                self.n = new;
                self.sender.payload_type = self.n.payload_type;
                self.apply_paths(send, receive, self.rate);
                Ok(())
            }
            Err(e) => {
                // Keep the codec the paths were built for, take the rest (direction, address).
                let old = std::mem::replace(&mut self.n, new);
                self.n.codec = old.codec;
                self.n.payload_type = old.payload_type;
                self.n.codecs = old.codecs;
                self.n.ptime = old.ptime;
                self.n.opus = old.opus;
                Err(e.into())
            }
        }
    }

    /// Digits to send as RFC 4733 events (space: a 500 ms pause).
    pub fn dtmf(&mut self, digits: &str) {
        self.dtmf.push(digits);
    }

    /// Mutes what we send (nothing goes out, or silence with `sendrtponmuted`; see
    /// `silence.rs`) and/or what we play.
    pub fn mute(&mut self, mic: bool, speaker: bool) {
        self.mic_muted = mic;
        self.speaker_muted = speaker;
    }

    /// Plays the ringback tone instead of silence until the far end's audio arrives, or stops
    /// it.
    pub fn ringback(&mut self, on: bool) {
        self.ringback =
            (on && !self.got_rtp).then(|| Tone::new(ToneKind::Ringback, self.rate, 1.0));
    }

    /// True once RTP of the call has arrived.
    pub fn has_far_audio(&self) -> bool {
        self.got_rtp
    }

    /// A datagram on the RTP socket (RTCP multiplexed there too, RFC 5761 §4).
    pub fn on_rtp_datagram(&mut self, now: Instant, ntp: u64, from: SocketAddr, data: &[u8]) {
        // RFC 7983: DTLS shares the port, told apart by its first byte.
        if self.keying.on_dtls(now, Via::Rtp, from, data) {
            self.flush_keying();
            return;
        }
        if is_rtcp(data) {
            if self.latch.is_peer_host(from) && self.on_rtcp(Via::Rtp, data, ntp) {
                self.last_rx = now;
            }
            return;
        }
        // Decrypted before anything else looks at it: a packet that fails SRTP's
        // authentication neither latches nor counts as the peer being alive.
        let Some(data) = self.keying.open(Via::Rtp, false, data) else {
            return;
        };
        let Ok(p) = parse(&data) else { return };
        let known = Some(p.payload_type) == self.n.dtmf_pt || self.receive.accepts(p.payload_type);
        if !known {
            return;
        }
        match self.latch.check(now, from, p.ssrc, p.seq) {
            Verdict::Drop { first } => {
                if first {
                    self.events.push_back(SessionEvent::Foreign(from));
                }
                return;
            }
            Verdict::Accept { new_stream, source } => {
                // Symmetric RTP: answer to where the peer's media really comes from. A new
                // SSRC is a new stream: its sequence numbers start elsewhere.
                if new_stream {
                    self.receive.reset();
                }
                self.remote = source;
            }
        }
        self.last_rx = now;
        self.got_rtp = true;
        if Some(p.payload_type) == self.n.dtmf_pt {
            if let Some(digit) = self.dtmf_in.receive(p.timestamp, &p.payload) {
                self.events.push_back(SessionEvent::Dtmf(digit));
            }
            return;
        }
        let elapsed = now.saturating_duration_since(self.started).as_secs_f64();
        let arrival = (elapsed * f64::from(self.n.codec.clock_rate())) as u64 as u32;
        self.rx_stats.on_rtp(p.ssrc, p.seq, p.timestamp, arrival);
        if self.receiving() {
            self.receive.push(p.seq, p.payload_type, p.payload);
        }
    }

    /// A datagram on the RTCP socket: symmetric RTCP answers to where the reports come from.
    /// The peer's reports also show it alive for `mediatimeout`: a far end that suppresses
    /// silence or is muted without sending RTP still reports (RFC 3550 §6).
    pub fn on_rtcp_datagram(&mut self, now: Instant, ntp: u64, from: SocketAddr, data: &[u8]) {
        // Without rtcp-mux a DTLS-SRTP call has a handshake on this port too.
        if self.keying.on_dtls(now, Via::Rtcp, from, data) {
            self.flush_keying();
            return;
        }
        if self.latch.is_peer_host(from) && self.on_rtcp(Via::Rtcp, data, ntp) {
            self.rtcp_remote = from;
            self.last_rx = now;
        }
    }

    /// The peer's sender report feeds our reception statistics, its report about our stream
    /// gives the round trip. False for anything that is not RTCP.
    fn on_rtcp(&mut self, via: Via, data: &[u8], ntp: u64) -> bool {
        let Some(data) = self.keying.open(via, true, data) else {
            return false;
        };
        let Some(r) = parse_compound(&data, self.sender.ssrc, ntp) else {
            return false;
        };
        if let Some((_, their_ntp)) = r.sender {
            self.rx_stats.on_sender_report(their_ntp, ntp);
        }
        if let Some(units) = r.rtt {
            self.rtt = Some(f64::from(units) * 1000.0 / 65536.0);
        }
        true
    }

    /// What the far end should hear for one bridge frame (the mix for this call): encoded and
    /// sent once a ptime frame is complete, or replaced by telephone events while digits go.
    pub fn put_frame(&mut self, frame: &[i16]) {
        self.gate.hear(frame);
        if self.mic_muted {
            self.to_encode.resize(self.to_encode.len() + frame.len(), 0);
        } else {
            self.to_encode.extend_from_slice(frame);
        }
        let need = self.send.device_samples;
        while self.to_encode.len() >= need {
            self.encode_one(need);
            self.to_encode.drain(..need);
        }
    }

    fn encode_one(&mut self, need: usize) {
        let sending = self.sending();
        let samples = self.send.clock_samples;
        // Event durations count in telephone-event's own 8 kHz clock, whatever the audio
        // codec's RTP clock is (Opus: 48 kHz).
        let event_units = ptime(&self.n) * 8;
        match (self.n.dtmf_pt, self.dtmf.tick(event_units)) {
            (Some(pt), DtmfTick::Event { payloads, first }) => {
                if first {
                    self.event_ts = self.sender.timestamp();
                }
                for p in payloads {
                    let data = self.sender.event(pt, &p, self.event_ts, first);
                    if sending {
                        self.transmits.push_back(Transmit {
                            via: Via::Rtp,
                            to: self.remote,
                            data,
                        });
                    }
                }
                self.sender.skip(samples);
            }
            _ if sending => {
                // Comfort noise runs on an 8 kHz clock: only with codecs that do too.
                let cn = self.n.cn_pt.filter(|_| self.n.codec.clock_rate() == 8000);
                let slot = Duration::from_millis(u64::from(ptime(&self.n)));
                let frame = &self.to_encode[..need];
                match self.gate.slot(frame, self.mic_muted, cn.is_some(), slot) {
                    SlotAction::Send { marker } => {
                        if marker {
                            self.sender.mark_next();
                        }
                        self.send_audio(need, samples);
                    }
                    SlotAction::Comfort { level } => {
                        let ts = self.sender.timestamp();
                        if let Some(pt) = cn {
                            let data = self.sender.event(pt, &[level], ts, false);
                            self.push_rtp(data);
                        }
                        self.sender.skip(samples);
                    }
                    SlotAction::KeepAlive => {
                        self.push_rtp(Vec::new());
                        self.sender.skip(samples);
                    }
                    SlotAction::Nothing => self.sender.skip(samples),
                }
            }
            _ => {
                let slot = Duration::from_millis(u64::from(ptime(&self.n)));
                if self.gate.idle(slot) == SlotAction::KeepAlive {
                    self.push_rtp(Vec::new());
                }
                self.sender.skip(samples);
            }
        }
    }

    fn push_rtp(&mut self, data: Vec<u8>) {
        self.transmits.push_back(Transmit {
            via: Via::Rtp,
            to: self.remote,
            data,
        });
    }

    fn send_audio(&mut self, need: usize, samples: u32) {
        if let Err(e) = self.send.encode(&self.to_encode[..need], &mut self.payload) {
            tracing::debug!("encoding failed: {e}");
            self.payload.clear();
        }
        if self.payload.is_empty() {
            // Opus DTX: nothing to send for this frame.
            self.sender.skip(samples);
        } else {
            let data = self.sender.packetize(&self.payload, samples);
            self.push_rtp(data);
        }
    }

    /// What the far end said for one bridge frame: decoded, concealed or buffering silence
    /// out of the jitter buffer, or the ringback while the far end is still silent. Gives
    /// false when the frame is only silence we made up (nothing received yet, not receiving,
    /// speaker muted), so the bridge can skip it.
    pub fn get_frame(&mut self, out: &mut [i16]) -> bool {
        while self.to_play.len() < out.len() {
            self.receive.play(&mut self.decoded);
            if let Some(tone) = self.ringback.as_mut() {
                if self.got_rtp {
                    self.ringback = None;
                } else {
                    tone.fill(&mut self.decoded);
                }
            }
            self.to_play.extend(self.decoded.iter().copied());
        }
        let n = out.len();
        for (o, s) in out.iter_mut().zip(self.to_play.drain(..n)) {
            *o = s;
        }
        let audible = (self.got_rtp && self.receiving()) || self.ringback.is_some();
        if self.speaker_muted || !audible {
            out.fill(0);
            return false;
        }
        true
    }

    /// Timers: `mediatimeout`, the RTCP schedule and DTLS retransmissions.
    pub fn handle_timeout(&mut self, now: Instant, ntp: u64) {
        self.keying.handle_timeout(now);
        self.flush_keying();
        if !self.receiving() {
            self.last_rx = now;
        } else if !self.cfg.media_timeout.is_zero()
            && !self.timed_out
            && now.saturating_duration_since(self.last_rx) >= self.cfg.media_timeout
        {
            self.timed_out = true;
            self.events.push_back(SessionEvent::Timeout);
        }
        if now >= self.next_rtcp {
            self.next_rtcp = now + Duration::from_secs(5);
            let sent = (self.sender.packets > 0).then(|| {
                (
                    self.sender.packets as u32,
                    self.sender.octets as u32,
                    self.sender.timestamp(),
                )
            });
            let data = build_report(self.sender.ssrc, sent, &mut self.rx_stats, ntp);
            // rtcp-mux (RFC 5761): reports share the RTP port and address.
            let (via, to) = if self.n.rtcp_mux {
                (Via::Rtp, self.remote)
            } else {
                (Via::Rtcp, self.rtcp_remote)
            };
            self.transmits.push_back(Transmit { via, to, data });
        }
    }

    /// When `handle_timeout` wants to run next.
    pub fn poll_timeout(&self) -> Instant {
        let mut next = self.next_rtcp;
        if self.receiving() && !self.cfg.media_timeout.is_zero() && !self.timed_out {
            next = next.min(self.last_rx + self.cfg.media_timeout);
        }
        if let Some(due) = self.keying.poll_timeout() {
            next = next.min(due);
        }
        next
    }

    /// The next datagram to send, SRTP-protected when the call is encrypted (the CRLF NAT
    /// opening packets are no RTP and go as they are).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            let t = self.transmits.pop_front()?;
            let rtcp = t.via == Via::Rtcp || is_rtcp(&t.data);
            if let Some(data) = self.keying.seal(t.via, rtcp, t.data) {
                return Some(Transmit { data, ..t });
            }
        }
    }

    /// The next thing to tell the owner.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// The call's statistics so far.
    pub fn stats(&self) -> MediaStats {
        MediaStats {
            sent: self.sender.packets,
            received: self.rx_stats.received,
            lost: self.rx_stats.lost(),
            jitter_ms: f64::from(self.rx_stats.jitter()) * 1000.0
                / f64::from(self.n.codec.clock_rate()),
            rtt_ms: self.rtt,
            concealed: self.receive.stats().concealed,
            foreign_dropped: self.latch.dropped(),
            srtp_refused: self.keying.refused(),
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

//! One call's media: a task that every ptime takes a frame from the capture device, encodes
//! and sends it, and plays the next frame out of the jitter buffer (decoded or concealed) to the
//! playback device. RTP is symmetric: we send to where the peer's RTP comes from (RFC 4961).

use crate::audio::{AudioSink, AudioSource};
use crate::media::dtmf::{DtmfReceiver, DtmfSender, DtmfTick};
use crate::media::jitter::{JitterBuffer, JitterStats, Playout};
use crate::media::{Concealer, FRAME_SAMPLES, decode, encode};
use crate::rtp::{RtpSender, parse};
use crate::sdp::{Direction, Negotiated};
use rand::Rng;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// Binds the RTP socket of a new call: `base` and up (even ports), or a random even port in
/// 20000-21000 when `base` is 0.
pub async fn bind_rtp(ip: IpAddr, base: u16) -> anyhow::Result<UdpSocket> {
    for attempt in 0..50u16 {
        let port = if base == 0 {
            rand::rng().random_range(10_000..10_500) * 2
        } else {
            base.saturating_add(attempt * 2)
        };
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(ip, port)).await {
            return Ok(s);
        }
    }
    anyhow::bail!("no free RTP port")
}

/// Commands for a running media task.
#[derive(Debug)]
enum Control {
    Update(Negotiated),
    Dtmf(String),
    Mute { mic: bool, speaker: bool },
    Stop(oneshot::Sender<JitterStats>),
}

/// What a media task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A telephone event (RFC 4733) ended on `line`.
    Dtmf { line: u32, digit: char },
    /// No RTP arrived on `line` for `mediatimeout` while we expect to receive.
    Timeout { line: u32 },
}

/// The handle the driver keeps per line.
#[derive(Debug)]
pub struct MediaHandle {
    control: mpsc::UnboundedSender<Control>,
}

impl MediaHandle {
    /// Starts the media of a call on its RTP socket.
    pub fn start(
        line: u32,
        socket: UdpSocket,
        negotiated: Negotiated,
        devices: (Box<dyn AudioSource>, Box<dyn AudioSink>),
        jitter_frames: usize,
        media_timeout: Duration,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> MediaHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let limits = (jitter_frames, media_timeout);
        tokio::spawn(run(line, socket, negotiated, devices, rx, limits, events));
        MediaHandle { control: tx }
    }

    /// Mutes the microphone (silence is sent, so the stream stays alive) and/or the speaker.
    pub fn mute(&self, mic: bool, speaker: bool) {
        let _ = self.control.send(Control::Mute { mic, speaker });
    }

    /// Sends digits as RFC 4733 events (space: 500 ms pause).
    pub fn dtmf(&self, digits: &str) {
        let _ = self.control.send(Control::Dtmf(digits.to_string()));
    }

    /// New negotiation (re-INVITE: hold, other address, other codec).
    pub fn update(&self, n: Negotiated) {
        let _ = self.control.send(Control::Update(n));
    }

    /// Stops the task after finishing the playback device (a WAV file gets its header).
    pub async fn stop(self) -> Option<JitterStats> {
        let (tx, rx) = oneshot::channel();
        self.control.send(Control::Stop(tx)).ok()?;
        rx.await.ok()
    }
}

async fn run(
    line: u32,
    socket: UdpSocket,
    mut n: Negotiated,
    (mut source, mut sink): (Box<dyn AudioSource>, Box<dyn AudioSink>),
    mut control: mpsc::UnboundedReceiver<Control>,
    (jitter_frames, media_timeout): (usize, Duration),
    events: mpsc::UnboundedSender<MediaEvent>,
) {
    // mediatimeout: the last time RTP arrived (or we started expecting it).
    let mut last_rx = tokio::time::Instant::now();
    let mut timed_out = false;
    let (mut mic_muted, mut speaker_muted) = (false, false);
    let mut dtmf = DtmfSender::default();
    let mut dtmf_in = DtmfReceiver::default();
    let mut event_ts = 0u32;
    let (ssrc, seq, ts) = {
        let mut rng = rand::rng();
        (rng.random(), rng.random(), rng.random())
    };
    let mut sender = RtpSender::new(n.payload_type, ssrc, seq, ts);
    let mut jitter = JitterBuffer::new(jitter_frames, 50);
    let mut conceal = Concealer::default();
    let mut remote = n.remote;
    let mut latched = false;
    let mut remote_ssrc: Option<u32> = None;
    let frame_time = Duration::from_millis(u64::from(n.ptime.clamp(10, 60)));
    let samples = (FRAME_SAMPLES as u32 * n.ptime.clamp(10, 60)) / 20;
    let mut tick = tokio::time::interval(frame_time);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut pcm = vec![0i16; samples as usize];
    let mut payload = Vec::with_capacity(samples as usize);
    let mut out = Vec::with_capacity(samples as usize);
    let mut buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            _ = tick.tick() => {
                source.read(&mut pcm);
                if mic_muted {
                    pcm.fill(0);
                }
                let sending = matches!(n.direction, Direction::SendRecv | Direction::SendOnly);
                match (n.dtmf_pt, dtmf.tick(samples)) {
                    (Some(pt), DtmfTick::Event { payloads, first }) => {
                        if first {
                            event_ts = sender.timestamp();
                        }
                        for p in payloads {
                            let packet = sender.event(pt, &p, event_ts, first);
                            if sending && let Err(e) = socket.send_to(&packet, remote).await {
                                debug!("RTP send to {remote} failed: {e}");
                            }
                        }
                        sender.skip(samples);
                    }
                    _ if sending => {
                        encode(n.codec, &pcm, &mut payload);
                        let packet = sender.packetize(&payload, samples);
                        if let Err(e) = socket.send_to(&packet, remote).await {
                            debug!("RTP send to {remote} failed: {e}");
                        }
                    }
                    _ => sender.skip(samples),
                }
                match jitter.pop() {
                    Playout::Frame(p) => {
                        decode(n.codec, &p, &mut out);
                        conceal.good(&out);
                    }
                    Playout::Missing => conceal.conceal(&mut out),
                    Playout::Buffering => {
                        out.clear();
                        out.resize(samples as usize, 0);
                    }
                }
                if speaker_muted {
                    out.fill(0);
                }
                if let Err(e) = sink.write(&out) {
                    warn!("playback device failed: {e:#}");
                }
                let expecting = matches!(n.direction, Direction::SendRecv | Direction::RecvOnly);
                if !expecting {
                    last_rx = tokio::time::Instant::now();
                } else if !media_timeout.is_zero() && !timed_out && last_rx.elapsed() >= media_timeout {
                    timed_out = true;
                    let _ = events.send(MediaEvent::Timeout { line });
                }
            }
            recv = socket.recv_from(&mut buf) => match recv {
                Ok((len, from)) => {
                    let Ok(p) = parse(&buf[..len]) else { continue };
                    last_rx = tokio::time::Instant::now();
                    if Some(p.payload_type) == n.dtmf_pt {
                        if let Some(digit) = dtmf_in.receive(p.timestamp, &p.payload) {
                            let _ = events.send(MediaEvent::Dtmf { line, digit });
                        }
                        continue;
                    }
                    if p.payload_type != n.payload_type {
                        continue;
                    }
                    if !latched || remote_ssrc != Some(p.ssrc) {
                        // Symmetric RTP: answer to where the peer's media really comes from.
                        // A new SSRC is a new stream: its sequence numbers start elsewhere.
                        if remote_ssrc.is_some_and(|s| s != p.ssrc) {
                            jitter.reset();
                        }
                        remote = from;
                        latched = true;
                        remote_ssrc = Some(p.ssrc);
                    }
                    if matches!(n.direction, Direction::SendRecv | Direction::RecvOnly) {
                        jitter.push(p.seq, p.payload);
                    }
                }
                Err(e) => debug!("RTP receive error: {e}"),
            },
            ctl = control.recv() => match ctl {
                Some(Control::Update(new)) => {
                    if new.remote != n.remote {
                        remote = new.remote;
                        latched = false;
                    }
                    n = new;
                }
                Some(Control::Dtmf(digits)) => dtmf.push(&digits),
                Some(Control::Mute { mic, speaker }) => {
                    mic_muted = mic;
                    speaker_muted = speaker;
                }
                Some(Control::Stop(done)) => {
                    if let Err(e) = sink.finish() {
                        warn!("closing the playback device: {e:#}");
                    }
                    let _ = done.send(jitter.stats);
                    return;
                }
                None => {
                    let _ = sink.finish();
                    return;
                }
            },
        }
    }
}

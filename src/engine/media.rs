//! One call's media: a task that every ptime takes a frame from the capture device, encodes
//! and sends it, and plays the next frame out of the jitter buffer (decoded or concealed) to the
//! playback device. RTP is symmetric: we send to where the peer's RTP comes from (RFC 4961).

use crate::audio::{AudioSink, AudioSource};
use crate::media::dtmf::{DtmfReceiver, DtmfSender, DtmfTick};
use crate::media::pipeline::{PipelineError, ReceivePath, SendPath};
use crate::media::tone::{Tone, ToneKind};
use crate::model::MediaStats;
use crate::rtp::latch::{RtpLatch, Verdict};
use crate::rtp::rtcp::{ReceptionStats, build_report, ntp_from_unix, parse_compound};
use crate::rtp::{RtpSender, parse};
use crate::sdp::{Direction, Negotiated, OpusParams};
use rand::Rng;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// Binds the RTP socket of a new call: `base` and up (even ports), or a random even port in
/// 20000-21000 when `base` is 0.
pub(super) async fn bind_rtp(ip: IpAddr, base: u16) -> anyhow::Result<RtpSockets> {
    for attempt in 0..50u16 {
        let port = if base == 0 {
            rand::rng().random_range(10_000..10_500) * 2
        } else {
            base.saturating_add(attempt * 2)
        };
        if let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, port)).await
            && let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, port + 1)).await
        {
            return Ok(RtpSockets { rtp, rtcp });
        }
    }
    anyhow::bail!("no free RTP port pair")
}

/// A call's media sockets: RTP on an even port, RTCP on the next one (RFC 3550 §11).
#[derive(Debug)]
pub(super) struct RtpSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

/// Media settings from the parameters, the same for every call.
#[derive(Debug, Clone)]
pub(super) struct MediaConfig {
    /// Jitter buffer delay: minimum (start) and maximum target in frames.
    pub jitter: (usize, usize),
    /// `mediatimeout`: no RTP for this long ends the call (zero: never).
    pub media_timeout: Duration,
    /// What we capture and want for Opus (band, DTX).
    pub opus: OpusParams,
    /// `volumein` / `volumeout` as linear gains.
    pub gain_in: f32,
    pub gain_out: f32,
    /// `natopenpackets` / `natopenpackettype`: packets sent towards the peer when media starts
    /// without us sending (early media), so that a NAT lets the peer's media in; and whether
    /// they are RTP packets of silence (else CRLFCRLF).
    pub nat_open: (u32, bool),
}

/// A 0..100 volume setting as a gain: 50 leaves the level alone, each step is 0.3 dB
/// (±15 dB at the ends), 0 is silence.
pub(super) fn volume_gain(volume: i64) -> f32 {
    if volume <= 0 {
        0.0
    } else {
        10f32.powf((volume.min(100) - 50) as f32 * 0.3 / 20.0)
    }
}

fn apply_gain(frame: &mut [i16], gain: f32) {
    if (gain - 1.0).abs() > f32::EPSILON {
        for s in frame {
            *s = (f32::from(*s) * gain).clamp(-32768.0, 32767.0) as i16;
        }
    }
}

/// The send and receive paths for one negotiation and one pair of devices.
fn build_paths(
    n: &Negotiated,
    cfg: &MediaConfig,
    rates: (u32, u32),
) -> Result<(SendPath, ReceivePath), PipelineError> {
    let ptime = n.ptime.clamp(10, 60);
    let send = SendPath::new(n.codec, ptime, rates.0, &n.opus, &cfg.opus)?;
    let mut agreed = vec![(n.payload_type, n.codec)];
    agreed.extend(n.codecs.iter().filter(|c| c.0 != n.payload_type));
    let recv = ReceivePath::new(&agreed, ptime, rates.1, cfg.jitter)?;
    Ok((send, recv))
}

/// Commands for a running media task.
enum Control {
    Update(Negotiated),
    /// Other sound devices (`changeaudiodevimmediate`): the call goes on with them.
    Devices {
        source: Option<Box<dyn AudioSource>>,
        sink: Option<Box<dyn AudioSink>>,
    },
    Dtmf(String),
    Mute {
        mic: bool,
        speaker: bool,
    },
    Ringback(bool),
    Stop(oneshot::Sender<MediaStats>),
}

/// What a media task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MediaEvent {
    /// A telephone event (RFC 4733) ended on `line`.
    Dtmf { line: u32, digit: char },
    /// No RTP arrived on `line` for `mediatimeout` while we expect to receive.
    Timeout { line: u32 },
    /// The media of `line` could not start or continue (codec trouble).
    Failed { line: u32, reason: String },
    /// A sound device failed, was replaced or came back; the call goes on.
    Device { line: u32, message: String },
    /// RTP from a source other than the call's was dropped (said once per call).
    Foreign { line: u32, from: SocketAddr },
}

/// Our NTP time for RTCP (the driver may read the clock; the RTCP logic itself does not).
fn now_ntp() -> u64 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    ntp_from_unix(unix)
}

/// A compound RTCP packet from the peer: its sender report feeds our reception statistics,
/// its report about our stream gives the round trip.
/// Gives false for anything that is not RTCP.
fn on_rtcp(data: &[u8], ssrc: u32, rx: &mut ReceptionStats, rtt: &mut Option<f64>) -> bool {
    let now = now_ntp();
    let Some(r) = parse_compound(data, ssrc, now) else {
        return false;
    };
    if let Some((_, ntp)) = r.sender {
        rx.on_sender_report(ntp, now);
    }
    if let Some(units) = r.rtt {
        *rtt = Some(f64::from(units) * 1000.0 / 65536.0);
    }
    true
}

/// The handle the driver keeps per line.
#[derive(Debug)]
pub(super) struct MediaHandle {
    control: mpsc::UnboundedSender<Control>,
}

impl MediaHandle {
    /// Starts the media of a call on its RTP socket.
    pub(super) fn start(
        line: u32,
        socket: RtpSockets,
        negotiated: Negotiated,
        devices: (Box<dyn AudioSource>, Box<dyn AudioSink>),
        cfg: MediaConfig,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> MediaHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(line, socket, negotiated, devices, rx, cfg, events));
        MediaHandle { control: tx }
    }

    /// Mutes the microphone (silence is sent, so the stream stays alive) and/or the speaker.
    pub(super) fn mute(&self, mic: bool, speaker: bool) {
        let _ = self.control.send(Control::Mute { mic, speaker });
    }

    /// Plays the ringback tone instead of silence until the peer's media arrives (the far
    /// end rings and may or may not send its own ringback), or stops it.
    pub(super) fn ringback(&self, on: bool) {
        let _ = self.control.send(Control::Ringback(on));
    }

    /// Sends digits as RFC 4733 events (space: 500 ms pause).
    pub(super) fn dtmf(&self, digits: &str) {
        let _ = self.control.send(Control::Dtmf(digits.to_string()));
    }

    /// Moves the call to other sound devices (`None`: keep that one); the old playback
    /// device is finished (a WAV file gets its header).
    pub(super) fn switch_devices(
        &self,
        source: Option<Box<dyn AudioSource>>,
        sink: Option<Box<dyn AudioSink>>,
    ) {
        let _ = self.control.send(Control::Devices { source, sink });
    }

    /// New negotiation (re-INVITE: hold, other address, other codec).
    pub(super) fn update(&self, n: Negotiated) {
        let _ = self.control.send(Control::Update(n));
    }

    /// Stops the task after finishing the playback device (a WAV file gets its header).
    pub(super) async fn stop(self) -> Option<MediaStats> {
        let (tx, rx) = oneshot::channel();
        self.control.send(Control::Stop(tx)).ok()?;
        rx.await.ok()
    }
}

async fn run(
    line: u32,
    RtpSockets { rtp: socket, rtcp }: RtpSockets,
    mut n: Negotiated,
    (mut source, mut sink): (Box<dyn AudioSource>, Box<dyn AudioSink>),
    mut control: mpsc::UnboundedReceiver<Control>,
    cfg: MediaConfig,
    events: mpsc::UnboundedSender<MediaEvent>,
) {
    let media_timeout = cfg.media_timeout;
    let mut rates = (source.sample_rate(), sink.sample_rate());
    let (mut send, mut receive) = match build_paths(&n, &cfg, rates) {
        Ok(p) => p,
        Err(e) => {
            let _ = events.send(MediaEvent::Failed {
                line,
                reason: e.to_string(),
            });
            let _ = sink.finish();
            return;
        }
    };
    // mediatimeout: the last time RTP arrived (or we started expecting it).
    let mut last_rx = tokio::time::Instant::now();
    let mut timed_out = false;
    let (mut mic_muted, mut speaker_muted) = (false, false);
    // RTCP: reception statistics, a report every 5 s, the round trip from the peer's reports.
    let mut rx_stats = ReceptionStats::default();
    let started = tokio::time::Instant::now();
    let mut rtcp_remote = SocketAddr::new(n.remote.ip(), n.remote.port().wrapping_add(1));
    // The first report goes out early, so the peer's first report can already carry our SR
    // (and we learn the round trip on short calls), then every 5 s.
    let mut rtcp_tick =
        tokio::time::interval_at(started + Duration::from_secs(1), Duration::from_secs(5));
    let mut rtt: Option<f64> = None;
    let mut rtcp_buf = vec![0u8; 1500];
    let mut dtmf = DtmfSender::default();
    let mut dtmf_in = DtmfReceiver::default();
    let mut event_ts = 0u32;
    let (ssrc, seq, ts) = {
        let mut rng = rand::rng();
        (rng.random(), rng.random(), rng.random())
    };
    let mut sender = RtpSender::new(n.payload_type, ssrc, seq, ts);
    // Where our RTP goes: the source the latch took, else the signalled address.
    let mut latch = RtpLatch::new(n.remote);
    let mut remote = n.remote;
    let mut ringback: Option<Tone> = None;
    let mut got_rtp = false;
    // NAT opening: the peer's media gets in once we have sent something its way.
    if !matches!(n.direction, Direction::SendRecv | Direction::SendOnly) {
        let (count, as_rtp) = cfg.nat_open;
        for _ in 0..count {
            let packet = if as_rtp {
                let mut payload = Vec::new();
                let silence = vec![0i16; send.device_samples];
                let _ = send.encode(&silence, &mut payload);
                sender.packetize(&payload, send.clock_samples)
            } else {
                b"\r\n\r\n".to_vec()
            };
            if let Err(e) = socket.send_to(&packet, n.remote).await {
                debug!("NAT opening packet to {} failed: {e}", n.remote);
            }
        }
    }
    let frame_time = Duration::from_millis(u64::from(n.ptime.clamp(10, 60)));
    let mut tick = tokio::time::interval(frame_time);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut pcm = vec![0i16; send.device_samples];
    let mut payload = Vec::with_capacity(1500);
    let mut out = vec![0i16; (rates.1 * n.ptime.clamp(10, 60) / 1000) as usize];
    let mut buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            _ = tick.tick() => {
                source.read(&mut pcm);
                apply_gain(&mut pcm, cfg.gain_in);
                if mic_muted {
                    pcm.fill(0);
                }
                let sending = matches!(n.direction, Direction::SendRecv | Direction::SendOnly);
                let samples = send.clock_samples;
                // Event durations count in telephone-event's own 8 kHz clock, whatever the
                // audio codec's RTP clock is (Opus: 48 kHz).
                let event_units = n.ptime.clamp(10, 60) * 8;
                match (n.dtmf_pt, dtmf.tick(event_units)) {
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
                        if let Err(e) = send.encode(&pcm, &mut payload) {
                            debug!("encoding failed: {e}");
                            payload.clear();
                        }
                        if payload.is_empty() {
                            // Opus DTX: nothing to send for this frame.
                            sender.skip(samples);
                        } else {
                            let packet = sender.packetize(&payload, samples);
                            if let Err(e) = socket.send_to(&packet, remote).await {
                                debug!("RTP send to {remote} failed: {e}");
                            }
                        }
                    }
                    _ => sender.skip(samples),
                }
                receive.play(&mut out);
                if let Some(tone) = ringback.as_mut() {
                    if got_rtp {
                        ringback = None;
                    } else {
                        tone.fill(&mut out);
                    }
                }
                if speaker_muted {
                    out.fill(0);
                }
                apply_gain(&mut out, cfg.gain_out);
                if let Err(e) = sink.write(&out) {
                    warn!("playback device failed: {e:#}");
                }
                // Device trouble is reported; a device that came back at another rate gets new
                // resamplers (and the jitter buffer starts over).
                while let Some(message) = source.take_notice().or_else(|| sink.take_notice()) {
                    let _ = events.send(MediaEvent::Device { line, message });
                }
                let now = (source.sample_rate(), sink.sample_rate());
                if now != rates {
                    match build_paths(&n, &cfg, now) {
                        Ok((s, r)) => {
                            rates = now;
                            send = s;
                            receive = r;
                            pcm = vec![0i16; send.device_samples];
                            out = vec![0i16; (rates.1 * n.ptime.clamp(10, 60) / 1000) as usize];
                        }
                        Err(e) => warn!("line {line}: device rate {now:?}: {e}"),
                    }
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
                    if len >= 2 && (64..=95).contains(&(buf[1] & 0x7f)) {
                        // RTCP multiplexed on the RTP port (RFC 5761 §4), from the peer's host.
                        if latch.is_peer_host(from) {
                            on_rtcp(&buf[..len], sender.ssrc, &mut rx_stats, &mut rtt);
                        }
                        continue;
                    }
                    let Ok(p) = parse(&buf[..len]) else { continue };
                    let known = Some(p.payload_type) == n.dtmf_pt || receive.accepts(p.payload_type);
                    if !known {
                        continue;
                    }
                    match latch.check(std::time::Instant::now(), from, p.ssrc, p.seq) {
                        Verdict::Drop { first } => {
                            if first {
                                let _ = events.send(MediaEvent::Foreign { line, from });
                            }
                            continue;
                        }
                        Verdict::Accept { new_stream, source } => {
                            // Symmetric RTP: answer to where the peer's media really comes
                            // from. A new SSRC is a new stream: its sequence numbers start
                            // elsewhere.
                            if new_stream {
                                receive.reset();
                            }
                            remote = source;
                        }
                    }
                    last_rx = tokio::time::Instant::now();
                    got_rtp = true;
                    if Some(p.payload_type) == n.dtmf_pt {
                        if let Some(digit) = dtmf_in.receive(p.timestamp, &p.payload) {
                            let _ = events.send(MediaEvent::Dtmf { line, digit });
                        }
                        continue;
                    }
                    let arrival = (started.elapsed().as_secs_f64() * f64::from(n.codec.clock_rate())) as u64 as u32;
                    rx_stats.on_rtp(p.ssrc, p.seq, p.timestamp, arrival);
                    if matches!(n.direction, Direction::SendRecv | Direction::RecvOnly) {
                        receive.push(p.seq, p.payload_type, p.payload);
                    }
                }
                Err(e) => debug!("RTP receive error: {e}"),
            },
            _ = rtcp_tick.tick() => {
                let now_ntp = now_ntp();
                let sent = (sender.packets > 0).then(|| {
                    (sender.packets as u32, sender.octets as u32, sender.timestamp())
                });
                let report = build_report(sender.ssrc, sent, &mut rx_stats, now_ntp);
                // rtcp-mux (RFC 5761): reports share the RTP port and address.
                let (via, to) = if n.rtcp_mux { (&socket, remote) } else { (&rtcp, rtcp_remote) };
                if let Err(e) = via.send_to(&report, to).await {
                    debug!("RTCP send to {to} failed: {e}");
                }
            }
            recv = rtcp.recv_from(&mut rtcp_buf) => if let Ok((len, from)) = recv
                && latch.is_peer_host(from)
                && on_rtcp(&rtcp_buf[..len], sender.ssrc, &mut rx_stats, &mut rtt)
            {
                // Symmetric RTCP: report to where the peer's reports come from.
                rtcp_remote = from;
            },
            ctl = control.recv() => match ctl {
                Some(Control::Update(new)) => {
                    if new.remote != n.remote {
                        latch.resignal(new.remote);
                        remote = new.remote;
                        rtcp_remote = SocketAddr::new(new.remote.ip(), new.remote.port().wrapping_add(1));
                    }
                    if (new.codec, new.payload_type, &new.codecs, new.ptime, new.opus)
                        != (n.codec, n.payload_type, &n.codecs, n.ptime, n.opus)
                    {
                        // Another codec or frame size: new paths, same RTP stream.
                        match build_paths(&new, &cfg, rates) {
                            Ok((s, r)) => {
                                send = s;
                                receive = r;
                                sender.payload_type = new.payload_type;
                                pcm = vec![0i16; send.device_samples];
                                out = vec![0i16; (rates.1 * new.ptime.clamp(10, 60) / 1000) as usize];
                                if new.ptime != n.ptime {
                                    let period = Duration::from_millis(u64::from(new.ptime.clamp(10, 60)));
                                    tick = tokio::time::interval(period);
                                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                                }
                            }
                            Err(e) => warn!("line {line}: keeping the old codec: {e}"),
                        }
                    }
                    n = new;
                }
                Some(Control::Devices { source: s, sink: k }) => {
                    // The resamplers follow below if the new devices run at other rates.
                    if let Some(s) = s {
                        source = s;
                    }
                    if let Some(k) = k {
                        if let Err(e) = sink.finish() {
                            warn!("closing the previous playback device: {e:#}");
                        }
                        sink = k;
                    }
                }
                Some(Control::Dtmf(digits)) => dtmf.push(&digits),
                Some(Control::Mute { mic, speaker }) => {
                    mic_muted = mic;
                    speaker_muted = speaker;
                }
                Some(Control::Ringback(on)) => {
                    ringback = (on && !got_rtp).then(|| Tone::new(ToneKind::Ringback, rates.1, 1.0));
                }
                Some(Control::Stop(done)) => {
                    if let Err(e) = sink.finish() {
                        warn!("closing the playback device: {e:#}");
                    }
                    let _ = done.send(MediaStats {
                        sent: sender.packets,
                        received: rx_stats.received,
                        lost: rx_stats.lost(),
                        jitter_ms: f64::from(rx_stats.jitter()) * 1000.0 / f64::from(n.codec.clock_rate()),
                        rtt_ms: rtt,
                        concealed: receive.stats().concealed,
                        foreign_dropped: latch.dropped(),
                    });
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

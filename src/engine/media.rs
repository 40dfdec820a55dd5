//! One call's media I/O: the call's [`MediaSession`] (sans-IO, `crate::media::session`) sits
//! behind a short lock shared by a thin task that moves its datagrams and timers, and by the
//! call's port on the audio engine, which gives and takes its frames on the engine's one clock
//! and sends the RTP they produce. RTP is symmetric: we send to where the peer's RTP comes
//! from (RFC 4961).

use crate::audio::engine::CallPort;
use crate::media::session::SessionError;
use crate::media::session::{MediaSession, SessionConfig, SessionEvent, StreamStart, Via};
use crate::model::MediaStats;
use crate::rtp::rtcp::ntp_from_unix;
use crate::sdp::Negotiated;
use rand::Rng;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

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
    pub session: SessionConfig,
    /// `volumein` / `volumeout` as linear gains.
    pub gain_in: f32,
    pub gain_out: f32,
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

/// What a call's media reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MediaEvent {
    /// A telephone event (RFC 4733) ended on `line`.
    Dtmf { line: u32, digit: char },
    /// No RTP arrived on `line` for `mediatimeout` while we expect to receive.
    Timeout { line: u32 },
    /// The media of `line` could not start or continue (codec trouble).
    Failed { line: u32, reason: String },
    /// A sound device failed, was replaced or came back; the calls go on.
    Device { message: String },
    /// The sound of a PlaySound played to its end.
    PlayEnded,
    /// A recording of `line` started, ended or failed.
    Recording {
        line: u32,
        state: crate::model::RecordingState,
    },
    /// RTP from a source other than the call's was dropped (said once per call).
    Foreign { line: u32, from: SocketAddr },
    /// DTLS-SRTP keyed `line` with this SRTP suite.
    Secured { line: u32, suite: String },
    /// DTLS-SRTP could not key `line`: no media can flow.
    SecurityFailed { line: u32, reason: String },
}

/// Our NTP time for RTCP (the driver may read the clock; the RTCP logic itself does not).
fn now_ntp() -> u64 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    ntp_from_unix(unix)
}

/// What the socket task, the engine's port and the driver share of one call.
struct Shared {
    line: u32,
    session: Mutex<MediaSession>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    events: mpsc::UnboundedSender<MediaEvent>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, MediaSession> {
        // A panic elsewhere while holding the lock leaves a usable session.
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends what the session queued (never waiting: a full socket buffer drops the packet,
    /// as the network would) and passes its events on.
    fn flush(&self, session: &mut MediaSession) {
        while let Some(t) = session.poll_transmit() {
            let socket = match t.via {
                Via::Rtp => &self.rtp,
                Via::Rtcp => &self.rtcp,
            };
            if let Err(e) = socket.try_send_to(&t.data, t.to) {
                debug!("media send to {} failed: {e}", t.to);
            }
        }
        let line = self.line;
        while let Some(ev) = session.poll_event() {
            let ev = match ev {
                SessionEvent::Dtmf(digit) => MediaEvent::Dtmf { line, digit },
                SessionEvent::Timeout => MediaEvent::Timeout { line },
                SessionEvent::Foreign(from) => MediaEvent::Foreign { line, from },
                SessionEvent::Secured(suite) => MediaEvent::Secured { line, suite },
                SessionEvent::SecurityFailed(reason) => MediaEvent::SecurityFailed { line, reason },
            };
            let _ = self.events.send(ev);
        }
    }
}

/// The call's port on the audio engine.
struct Port(Arc<Shared>);

impl CallPort for Port {
    fn set_rate(&mut self, rate: u32) {
        let mut s = self.0.lock();
        if let Err(e) = s.set_rate(rate) {
            let _ = self.0.events.send(MediaEvent::Failed {
                line: self.0.line,
                reason: e.to_string(),
            });
        }
    }

    fn get_frame(&mut self, out: &mut [i16]) -> bool {
        self.0.lock().get_frame(out)
    }

    fn put_frame(&mut self, frame: &[i16]) {
        let mut s = self.0.lock();
        s.put_frame(frame);
        self.0.flush(&mut s);
    }
}

/// The handle the driver keeps per line.
pub(super) struct MediaHandle {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<oneshot::Sender<MediaStats>>>,
}

impl std::fmt::Debug for MediaHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaHandle(line {})", self.shared.line)
    }
}

impl MediaHandle {
    /// Starts the media of a call on its RTP sockets; gives the handle and the port to add to
    /// the audio engine.
    pub(super) fn start(
        line: u32,
        RtpSockets { rtp, rtcp }: RtpSockets,
        negotiated: Negotiated,
        cfg: &MediaConfig,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Result<(MediaHandle, Box<dyn CallPort>), SessionError> {
        let start = {
            let mut rng = rand::rng();
            StreamStart {
                ssrc: rng.random(),
                seq: rng.random(),
                timestamp: rng.random(),
            }
        };
        let rate = negotiated.codec.sample_rate();
        let session =
            MediaSession::new(negotiated, cfg.session.clone(), rate, start, Instant::now())?;
        let shared = Arc::new(Shared {
            line,
            session: Mutex::new(session),
            rtp,
            rtcp,
            events,
        });
        {
            // NAT opening packets go out at once.
            let mut s = shared.lock();
            shared.flush(&mut s);
        }
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(run(shared.clone(), stopped));
        Ok((
            MediaHandle {
                shared: shared.clone(),
                stop: Some(stop),
            },
            Box::new(Port(shared)),
        ))
    }

    /// Mutes the microphone (nothing is sent unless `sendrtponmuted`) and/or the speaker.
    pub(super) fn mute(&self, mic: bool, speaker: bool) {
        self.shared.lock().mute(mic, speaker);
    }

    /// Plays the ringback tone instead of silence until the peer's media arrives (the far
    /// end rings and may or may not send its own ringback), or stops it.
    pub(super) fn ringback(&self, on: bool) {
        self.shared.lock().ringback(on);
    }

    /// Sends digits as RFC 4733 events (space: 500 ms pause).
    pub(super) fn dtmf(&self, digits: &str) {
        self.shared.lock().dtmf(digits);
    }

    /// New negotiation (re-INVITE: hold, other address, other codec); a codec that cannot be
    /// set up keeps the old one.
    pub(super) fn update(&self, n: Negotiated) {
        if let Err(e) = self.shared.lock().update(Instant::now(), n) {
            tracing::warn!("line {}: keeping the old codec: {e}", self.shared.line);
        }
    }

    /// Stops the socket task; gives the call's statistics.
    pub(super) async fn stop(mut self) -> Option<MediaStats> {
        let (tx, rx) = oneshot::channel();
        self.stop.take()?.send(tx).ok()?;
        rx.await.ok()
    }
}

/// The thin task: datagrams and timers into the session, its transmits out.
async fn run(shared: Arc<Shared>, mut stop: oneshot::Receiver<oneshot::Sender<MediaStats>>) {
    let mut buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 1500];
    let mut deadline = shared.lock().poll_timeout();
    loop {
        tokio::select! {
            recv = shared.rtp.recv_from(&mut buf) => match recv {
                Ok((len, from)) => {
                    let mut s = shared.lock();
                    s.on_rtp_datagram(Instant::now(), now_ntp(), from, &buf[..len]);
                    shared.flush(&mut s);
                    // A datagram may move a timer (a DTLS flight answered, another due).
                    deadline = s.poll_timeout();
                }
                Err(e) => debug!("RTP receive error: {e}"),
            },
            recv = shared.rtcp.recv_from(&mut rtcp_buf) => if let Ok((len, from)) = recv {
                let mut s = shared.lock();
                s.on_rtcp_datagram(Instant::now(), now_ntp(), from, &rtcp_buf[..len]);
                shared.flush(&mut s);
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                let mut s = shared.lock();
                s.handle_timeout(Instant::now(), now_ntp());
                shared.flush(&mut s);
                deadline = s.poll_timeout();
            },
            done = &mut stop => {
                if let Ok(done) = done {
                    let _ = done.send(shared.lock().stats());
                }
                return;
            }
        }
    }
}

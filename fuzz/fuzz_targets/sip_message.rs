//! The message entry point: bytes from the network into a user agent (parse, validation,
//! transaction dispatch, UAS answers), as a datagram and as a TCP stream cut by the framer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softphone::sip::digest::Secret;
use softphone::sip::registration::AcceptExpires;
use softphone::sip::stream::{Frame, StreamFramer};
use softphone::sip::transaction::timers::TimerConfig;
use softphone::sip::transport::{Destination, Transport};
use softphone::sip::ua::{KeepAliveType, RportMode, UaConfig, UserAgent};
use std::time::{Duration, Instant};

fn ua() -> UserAgent {
    let cfg = UaConfig {
        user: "1001".into(),
        auth_user: None,
        display_name: None,
        password: Some(Secret::new("pw")),
        ha1_md5: None,
        realm: None,
        domain: "127.0.0.1".into(),
        first_hop: Some(Destination {
            transport: Transport::Udp,
            addr: "127.0.0.1:5060".parse().unwrap(),
        }),
        fallback_hops: Vec::new(),
        outbound_proxy: None,
        local: "127.0.0.1:5070".parse().unwrap(),
        transport: Transport::Udp,
        register: true,
        register_interval: 120,
        accept_expires: AcceptExpires::Shorter,
        rport: RportMode::Always,
        keepalive: KeepAliveType::CrlfCrlf,
        keepalive_interval: Duration::from_secs(28),
        capability_request: true,
        timers: TimerConfig::default(),
        unregister_on_exit: true,
        wait_for_unregister: Duration::from_secs(2),
        user_agent: "fuzz".into(),
        max_lines: 4,
        prefix: String::new(),
        reject_on_busy: false,
        ring_timeout: Duration::from_secs(90),
        call_timeout: Duration::ZERO,
        media: softphone::sip::ua::MediaPrefs::default(),
        progress_mode: 2,
        incoming: softphone::sip::ua::IncomingPolicy::from_params("", "", "", true),
        transfer: softphone::sip::refer::TransferPrefs::default(),
        // Both extensions on, so that fuzzed PRACKs and session timers reach their code.
        use_100rel: true,
        check_target: Default::default(),
        // Unsolicited message-summary NOTIFYs reach the MWI parser.
        voicemail: softphone::sip::ua::VoicemailMode::Unsolicited,
        presence_enabled: false,
        presence_expires: 3600,
        // Watchers are taken, so that fuzzed SUBSCRIBEs reach the notifier.
        watcher_policy: softphone::sip::ua::WatcherPolicy::Everyone,
        session_timer: softphone::sip::session_expires::SessionTimerPrefs { interval: Some(90) },
    };
    UserAgent::new(cfg, 1)
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let server = Destination {
        transport: Transport::Udp,
        addr: "127.0.0.1:5060".parse().unwrap(),
    };
    // As a datagram from the server (so responses can match our REGISTER/OPTIONS), twice
    // (retransmission path), then the timers.
    let mut a = ua();
    a.start(now);
    a.handle_datagram(now, server, data);
    a.handle_datagram(now, server, data);
    a.handle_timeout(now + Duration::from_secs(40));
    while a.poll_transmit().is_some() {}
    while a.poll_event().is_some() {}
    // As a TCP stream.
    let mut b = ua();
    let tcp = Destination {
        transport: Transport::Tcp,
        addr: server.addr,
    };
    let mut framer = StreamFramer::default();
    framer.push(data);
    while let Ok(Some(frame)) = framer.next_frame() {
        match frame {
            Frame::Message(m) => b.handle_datagram(now, tcp, &m),
            Frame::Ping => b.handle_keepalive_ping(tcp),
            Frame::Pong => {}
        }
    }
    while b.poll_transmit().is_some() {}
});

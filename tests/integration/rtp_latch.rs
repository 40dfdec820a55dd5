//! The RTP latch (`softphone::rtp::latch`) on a virtual clock: which source a call's media
//! is taken from, and when another may take over.

use softphone::rtp::latch::{RtpLatch, SILENCE, Verdict};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
fn the_signalled_source_is_taken_and_kept() {
    let t0 = Instant::now();
    let mut l = RtpLatch::new(addr(4000));
    assert_eq!(
        l.check(t0, addr(4000), 7, 100),
        Verdict::Accept {
            new_stream: true,
            source: addr(4000)
        }
    );
    // Loud packets from another port are dropped, the first one reported.
    assert_eq!(l.check(t0, addr(5000), 9, 1), Verdict::Drop { first: true });
    for seq in 2..50 {
        assert_eq!(
            l.check(t0, addr(5000), 9, seq),
            Verdict::Drop { first: false }
        );
    }
    assert_eq!(l.dropped(), 49);
    assert!(matches!(
        l.check(t0, addr(4000), 7, 101),
        Verdict::Accept {
            new_stream: false,
            ..
        }
    ));
    assert_eq!(l.destination(), addr(4000));
    // Even after a silence, a stranger's own stream does not take over...
    let later = t0 + SILENCE * 2;
    assert!(matches!(
        l.check(later, addr(5000), 9, 60),
        Verdict::Drop { .. }
    ));
    // ...but the same stream continuing from a rebound port does.
    assert_eq!(
        l.check(later, addr(4002), 7, 103),
        Verdict::Accept {
            new_stream: false,
            source: addr(4002)
        }
    );
    assert_eq!(l.destination(), addr(4002));
}

#[test]
fn the_same_stream_from_elsewhere_waits_for_silence() {
    let t0 = Instant::now();
    let mut l = RtpLatch::new(addr(4000));
    l.check(t0, addr(4000), 7, 100);
    // A copy of the far end's SSRC and sequence from another port while it still talks.
    let soon = t0 + Duration::from_millis(100);
    assert!(matches!(
        l.check(soon, addr(6000), 7, 101),
        Verdict::Drop { .. }
    ));
    assert_eq!(l.destination(), addr(4000));
}

#[test]
fn behind_a_nat_the_first_stream_is_taken_after_probation() {
    let t0 = Instant::now();
    let mut l = RtpLatch::new(addr(4000));
    // A single stray packet from elsewhere is not enough.
    assert_eq!(
        l.check(t0, addr(7000), 1, 10),
        Verdict::Drop { first: false }
    );
    assert_eq!(
        l.check(t0, addr(7001), 2, 500),
        Verdict::Drop { first: false }
    );
    // A stream in sequence is.
    assert_eq!(
        l.check(t0, addr(7001), 2, 501),
        Verdict::Drop { first: false }
    );
    assert_eq!(
        l.check(t0, addr(7001), 2, 502),
        Verdict::Accept {
            new_stream: true,
            source: addr(7001)
        }
    );
    assert!(l.is_peer_host(addr(9999)));
    // A re-INVITE with another address learns again.
    l.resignal(addr(4100));
    assert_eq!(l.destination(), addr(4100));
    assert!(matches!(
        l.check(t0, addr(4100), 3, 1),
        Verdict::Accept {
            new_stream: true,
            ..
        }
    ));
}

//! Registration in the simulated world: loss, timers, back-off, 423, stale nonces, rport/NAT,
//! keep-alives, shutdown — all on the virtual clock, replayable by seed.

use crate::sim::{NAT_ADDR, RegistrarBehaviour, Sim, addr, ua_config};
use softphone::sip::transaction::timers::TimerConfig;
use softphone::sip::ua::{KeepAliveType, RportMode, UaCommand, UaEvent};
use std::time::Duration;

fn secs(d: &Duration) -> f64 {
    d.as_secs_f64()
}

#[test]
fn registers_and_stays_registered_through_30_percent_loss() {
    for seed in 1..=25 {
        let mut sim = Sim::new(seed, ua_config("pw"), RegistrarBehaviour::default());
        sim.loss = 0.3;
        sim.delay_ms = (5, 120); // more than T1/4 of spread: reordering happens too
        sim.ua_start();
        assert!(
            sim.run_until(120, |s| s.is_registered()),
            "seed {seed}: {:?}",
            sim.events
        );
        // Ten minutes: refreshes every 120 s must keep the binding alive the whole time.
        for _ in 0..60 {
            sim.run_for(10);
            let live = sim.registrar.live_bindings(sim.now);
            assert_eq!(
                live.len(),
                1,
                "seed {seed} at {:?}: {live:?}",
                sim.now - sim.start
            );
        }
        assert!(
            sim.registrar.authorized_ok >= 5,
            "seed {seed}: refreshes happened"
        );
    }
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut sim = Sim::new(seed, ua_config("pw"), RegistrarBehaviour::default());
        sim.loss = 0.4;
        sim.ua_start();
        sim.run_for(300);
        sim.ua_sent.clone()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn timer_e_retransmits_and_timer_f_fails_then_backoff_doubles() {
    let mut sim = Sim::new(1, ua_config("pw"), RegistrarBehaviour::default());
    sim.server_up = false;
    sim.ua_start();
    sim.run_until(40, |s| {
        s.count(|e| matches!(e, UaEvent::RegisterFailed { .. })) == 1
    });
    let sends: Vec<f64> = sim.registers_sent().iter().map(|(t, _)| secs(t)).collect();
    // Timer E: T1, 2T1, 4T1, then capped at T2 = 4 s, until timer F = 64*T1 = 32 s.
    let expected = [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5];
    assert_eq!(sends, expected);
    let (t, ev) = sim.events.last().cloned().expect("event");
    assert_eq!(secs(&t), 32.0);
    assert_eq!(
        ev,
        UaEvent::RegisterFailed {
            code: 408,
            reason: "Request Timeout (no response)".into(),
            retry_in: Some(Duration::from_secs(5)),
        }
    );
    // Retries back off 5, 10, 20, 40 s (base 10*T1), each attempt again lasting 32 s.
    sim.run_until(400, |s| {
        s.count(|e| matches!(e, UaEvent::RegisterFailed { .. })) == 5
    });
    let retries: Vec<Option<Duration>> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            UaEvent::RegisterFailed { retry_in, .. } => Some(*retry_in),
            _ => None,
        })
        .collect();
    let s = |n| Some(Duration::from_secs(n));
    assert_eq!(retries, vec![s(5), s(10), s(20), s(40), s(80)]);
    // The server comes back: the next retry registers.
    sim.server_up = true;
    assert!(sim.run_until(200, |s| s.is_registered()));
}

#[test]
fn timer_scale_parameter_scales_everything() {
    let mut cfg = ua_config("pw");
    cfg.timers = TimerConfig::scaled(20);
    let mut sim = Sim::new(1, cfg, RegistrarBehaviour::default());
    sim.server_up = false;
    sim.ua_start();
    sim.run_until(80, |s| {
        s.count(|e| matches!(e, UaEvent::RegisterFailed { .. })) == 1
    });
    let (t, _) = sim.events.last().cloned().expect("event");
    assert_eq!(secs(&t), 64.0, "64*T1 with T1 = 1 s");
    assert_eq!(secs(&sim.registers_sent()[1].0), 1.0);
}

#[test]
fn wrong_password_fails_after_one_fresh_challenge() {
    let mut sim = Sim::new(3, ua_config("wrong"), RegistrarBehaviour::default());
    sim.ua_start();
    sim.run_until(10, |s| {
        s.count(|e| matches!(e, UaEvent::RegisterFailed { .. })) == 1
    });
    // Unauthenticated, then answered, then answered once more with a new nonce: rejected.
    assert_eq!(sim.registrar.registers_seen, 3);
    let failed = sim
        .events
        .iter()
        .find_map(|(_, e)| match e {
            UaEvent::RegisterFailed { code, reason, .. } => Some((*code, reason.clone())),
            _ => None,
        })
        .expect("failure");
    assert_eq!(failed, (401, "Unauthorized (credentials rejected)".into()));
}

#[test]
fn min_expires_423_is_followed() {
    let behaviour = RegistrarBehaviour {
        min_expires: 3600,
        ..Default::default()
    };
    let mut sim = Sim::new(2, ua_config("pw"), behaviour);
    sim.ua_start();
    assert!(sim.run_until(10, |s| s.is_registered()), "{:?}", sim.events);
    let regs = sim.registers_sent();
    assert!(
        regs[0].1.contains("Expires: 250\r\n"),
        "registerinterval*2+10"
    );
    assert!(regs.last().expect("reg").1.contains("Expires: 3600\r\n"));
    assert_eq!(
        sim.count(|e| matches!(e, UaEvent::RegisterFailed { .. })),
        0
    );
}

#[test]
fn stale_nonce_reauthenticates_without_failing() {
    let behaviour = RegistrarBehaviour {
        stale_after_success: true,
        ..Default::default()
    };
    let mut sim = Sim::new(4, ua_config("pw"), behaviour);
    sim.ua_start();
    assert!(sim.run_until(10, |s| s.is_registered()));
    sim.run_for(130); // one refresh, answered 401 stale=true, then accepted
    assert_eq!(sim.registrar.authorized_ok, 2);
    assert_eq!(
        sim.count(|e| matches!(e, UaEvent::RegisterFailed { .. })),
        0
    );
    assert!(sim.is_registered());
}

#[test]
fn server_error_503_with_retry_after() {
    let behaviour = RegistrarBehaviour {
        fail_with: Some(503),
        ..Default::default()
    };
    let mut sim = Sim::new(5, ua_config("pw"), behaviour);
    sim.ua_start();
    sim.run_until(5, |s| {
        s.count(|e| matches!(e, UaEvent::RegisterFailed { .. })) == 1
    });
    assert!(matches!(
        sim.events.last(),
        Some((_, UaEvent::RegisterFailed { code: 503, .. }))
    ));
    sim.registrar.behaviour.fail_with = None;
    assert!(sim.run_until(30, |s| s.is_registered()));
}

#[test]
fn rport_learns_public_address_when_sure_and_rebinds() {
    let mut sim = Sim::new(6, ua_config("pw"), RegistrarBehaviour::default());
    sim.nat = Some(addr(NAT_ADDR));
    sim.ua_start();
    assert!(sim.run_until(10, |s| s.is_registered()));
    // Mode 1 needs two responses agreeing: the 401 and the 200 both showed the NAT address.
    assert!(
        sim.events.iter().any(|(_, e)| *e
            == UaEvent::PublicAddress {
                addr: addr(NAT_ADDR)
            }),
        "{:?}",
        sim.events
    );
    sim.run_for(5);
    let live = sim.registrar.live_bindings(sim.now);
    assert_eq!(
        live,
        vec![format!("sip:1001@{NAT_ADDR}")],
        "old contact removed, public one bound: {:?}\n{:#?}",
        sim.events,
        sim.registers_sent()
    );
    let last = sim.registers_sent().last().expect("reg").1.clone();
    assert!(last.contains(&format!("<sip:1001@{NAT_ADDR}>")), "{last}");
    // Via still carries the local address.
    assert!(
        last.contains("Via: SIP/2.0/UDP 192.168.1.10:5070;"),
        "{last}"
    );
}

#[test]
fn rport_modes_off_and_ask_only_keep_the_local_contact() {
    for mode in [RportMode::Off, RportMode::AskOnly] {
        let mut cfg = ua_config("pw");
        cfg.rport = mode;
        let mut sim = Sim::new(7, cfg, RegistrarBehaviour::default());
        sim.nat = Some(addr(NAT_ADDR));
        sim.ua_start();
        // The registrar answers to the NAT address only when rport is asked for; with mode 0
        // the response goes to the sent-by port, which the NAT drops here: no registration.
        sim.run_for(60);
        assert_eq!(sim.count(|e| matches!(e, UaEvent::PublicAddress { .. })), 0);
        let regs = sim.registers_sent();
        assert_eq!(regs[0].1.contains(";rport"), mode == RportMode::AskOnly);
        assert!(
            regs.iter()
                .all(|(_, r)| r.contains("<sip:1001@192.168.1.10:5070>"))
        );
    }
}

#[test]
fn keepalives_follow_type_and_interval() {
    for (kind, bytes) in [
        (KeepAliveType::CrlfCrlf, &b"\r\n\r\n"[..]),
        (KeepAliveType::Crlf, &b"\r\n"[..]),
        (KeepAliveType::SpaceCrlf, &b" \r\n"[..]),
    ] {
        let mut cfg = ua_config("pw");
        cfg.keepalive = kind;
        cfg.keepalive_interval = Duration::from_secs(28);
        let mut sim = Sim::new(8, cfg, RegistrarBehaviour::default());
        sim.ua_start();
        sim.run_for(100);
        let times: Vec<f64> = sim
            .ua_sent
            .iter()
            .filter(|(_, _, b)| b == bytes)
            .map(|(t, _, _)| t.as_secs_f64())
            .collect();
        assert_eq!(times.len(), 3, "{kind:?}: {times:?}");
        assert!(
            (times[1] - times[0] - 28.0).abs() < 1e-9 && (times[2] - times[1] - 28.0).abs() < 1e-9
        );
    }
    // NOTIFY keep-alives are requests (a transaction, answered by the server).
    let mut cfg = ua_config("pw");
    cfg.keepalive = KeepAliveType::Notify;
    let mut sim = Sim::new(8, cfg, RegistrarBehaviour::default());
    sim.ua_start();
    sim.run_for(60);
    let notifies = sim
        .ua_sent
        .iter()
        .filter(|(_, _, b)| {
            b.starts_with(b"NOTIFY ") && String::from_utf8_lossy(b).contains("Event: keep-alive")
        })
        .count();
    assert_eq!(notifies, 2);
}

#[test]
fn shutdown_unregisters_and_is_bounded_by_waitforunregister() {
    let mut sim = Sim::new(9, ua_config("pw"), RegistrarBehaviour::default());
    sim.ua_start();
    assert!(sim.run_until(10, |s| s.is_registered()));
    sim.ua.handle_command(sim.now, UaCommand::Shutdown);
    assert!(sim.run_until(5, |s| s.ua.is_stopped()));
    assert!(sim.registrar.live_bindings(sim.now).is_empty());
    assert!(sim.events.iter().any(|(_, e)| *e == UaEvent::Unregistered));
    // Server gone: shutdown still ends, exactly at waitforunregister (2 s).
    let mut sim = Sim::new(10, ua_config("pw"), RegistrarBehaviour::default());
    sim.ua_start();
    assert!(sim.run_until(10, |s| s.is_registered()));
    sim.server_up = false;
    let asked = sim.now;
    sim.ua.handle_command(sim.now, UaCommand::Shutdown);
    assert!(sim.run_until(10, |s| s.ua.is_stopped()));
    assert_eq!(sim.now - asked, Duration::from_secs(2));
}

#[test]
fn accept_expires_modes() {
    use softphone::sip::registration::AcceptExpires;
    // (mode, what the server grants, expires we report, refresh interval after the 200).
    // We ask 250 (registerinterval 120 * 2 + 10) and refresh at min(120, granted * 3/4).
    for (mode, grant, reported, refresh) in [
        (AcceptExpires::Shorter, 60, 60, 45.0),
        (AcceptExpires::Always, 60, 60, 45.0),
        (AcceptExpires::Ignore, 60, 250, 120.0),
        (AcceptExpires::Shorter, 3600, 250, 120.0),
        (AcceptExpires::Always, 3600, 3600, 120.0),
    ] {
        let mut cfg = ua_config("pw");
        cfg.accept_expires = mode;
        let behaviour = RegistrarBehaviour {
            grant: Some(grant),
            ..Default::default()
        };
        let mut sim = Sim::new(11, cfg, behaviour);
        sim.delay_ms = (0, 0);
        sim.ua_start();
        assert!(sim.run_until(5, |s| s.is_registered()));
        assert!(
            sim.events
                .iter()
                .any(|(_, e)| *e == UaEvent::Registered { expires: reported }),
            "{mode:?} {grant}: {:?}",
            sim.events
        );
        let first_ok = sim.now;
        sim.run_until(200, |s| s.registrar.authorized_ok >= 2);
        let gap = (sim.now - first_ok).as_secs_f64();
        assert!((gap - refresh).abs() < 0.01, "{mode:?} {grant}: {gap}");
    }
}

#[test]
fn stray_responses_do_not_move_the_contact() {
    let mut sim = Sim::new(12, ua_config("pw"), RegistrarBehaviour::default());
    sim.ua_start();
    assert!(sim.run_until(10, |s| s.is_registered()));
    // Twice, so that rport mode 1 would be "sure" if it listened to strays.
    for _ in 0..2 {
        let forged = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.1.10:5070;branch=z9hG4bKforged;received=6.6.6.6;rport=666\r\n\
From: <sip:1001@sim.example>;tag=x\r\nTo: <sip:1001@sim.example>;tag=y\r\nCall-ID: forged\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
        let src = softphone::sip::transport::Destination {
            transport: softphone::sip::transport::Transport::Udp,
            addr: addr("6.6.6.6:666"),
        };
        sim.ua.handle_datagram(sim.now, src, forged.as_bytes());
    }
    sim.run_for(130);
    assert_eq!(sim.count(|e| matches!(e, UaEvent::PublicAddress { .. })), 0);
    assert_eq!(
        sim.registrar.live_bindings(sim.now),
        vec!["sip:1001@192.168.1.10:5070".to_string()]
    );
}

/// A changed account while registered: the old binding is removed first, then the new account
/// registers (and call preferences alone do not re-register).
#[test]
fn a_changed_account_unregisters_the_old_one_then_registers() {
    let mut sim = Sim::new(3, ua_config("pw"), RegistrarBehaviour::default());
    sim.ua_start();
    assert!(sim.run_until(10, |s| s.is_registered()));
    let sent_before = sim.registers_sent().len();
    let mut same = ua_config("pw");
    same.max_lines = 2;
    assert_eq!(
        sim.ua.reconfigure(sim.now, same),
        softphone::sip::ua::Reconfigured::Preferences
    );
    sim.run_for(5);
    assert_eq!(
        sim.registers_sent().len(),
        sent_before,
        "no REGISTER for preferences"
    );
    let mut other = ua_config("pw");
    other.user = "1002".into();
    assert_eq!(
        sim.ua.reconfigure(sim.now, other),
        softphone::sip::ua::Reconfigured::Account
    );
    assert!(sim.run_until(10, |s| {
        s.registrar
            .live_bindings(s.now)
            .iter()
            .any(|b| b.contains("1002@"))
            && s.is_registered()
    }));
    let live = sim.registrar.live_bindings(sim.now);
    assert!(live.iter().all(|b| !b.contains("1001@")), "{live:?}");
    let regs = sim.registers_sent();
    let unregister = regs[sent_before..]
        .iter()
        .position(|(_, r)| {
            r.contains("<sip:1001@") && (r.contains("expires=0") || r.contains("Expires: 0"))
        })
        .expect("an un-REGISTER of the old account");
    let register_new = regs[sent_before..]
        .iter()
        .position(|(_, r)| r.contains("<sip:1002@"))
        .expect("a REGISTER of the new account");
    assert!(unregister < register_new, "{regs:#?}");
}

#[test]
fn a_silent_preferred_server_fails_over_and_is_tried_again_later() {
    use softphone::sip::transport::{Destination, Transport};
    let dead = addr("198.51.100.9:5060");
    let mut cfg = ua_config("pw");
    let live = cfg.first_hop.expect("the sim's registrar");
    cfg.first_hop = Some(Destination {
        transport: Transport::Udp,
        addr: dead,
    });
    cfg.fallback_hops = vec![live];
    let mut sim = Sim::new(3, cfg, RegistrarBehaviour::default());
    sim.ua_start();
    // Timer F on the silent one (32 s), then at once the next SRV target.
    assert!(sim.run_until(40, |s| s.is_registered()), "{:?}", sim.events);
    let to = |s: &Sim| -> Vec<(u64, std::net::SocketAddr)> {
        s.ua_sent
            .iter()
            .filter(|(_, _, b)| b.starts_with(b"REGISTER "))
            .map(|(t, a, _)| (t.as_secs(), *a))
            .collect()
    };
    let sent = to(&sim);
    assert!(
        sent.iter().take_while(|(_, a)| *a == dead).count() >= 10,
        "{sent:?}"
    );
    let first_live = sent
        .iter()
        .position(|(_, a)| *a == live.addr)
        .expect("failed over");
    assert_eq!(sent[first_live].0, 32, "{sent:?}");
    assert!(sim.events.iter().any(|(_, e)| matches!(
        e,
        UaEvent::RegisterFailed { code: 408, retry_in: Some(d), .. } if d.is_zero()
    )));
    // Half the registration interval later the preferred one is asked again; still silent,
    // so the registration ends up on the live one again, with its binding kept throughout.
    sim.run_for(60 + 40);
    let sent = to(&sim);
    let back = sent[first_live..]
        .iter()
        .find(|(_, a)| *a == dead)
        .expect("preferred retried");
    assert!((90..=95).contains(&back.0), "{sent:?}");
    assert!(sim.is_registered(), "{:?}", sim.events);
    assert_eq!(sim.registrar.live_bindings(sim.now).len(), 1);
}

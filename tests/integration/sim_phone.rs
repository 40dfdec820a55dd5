//! The sans-IO line policy (`softphone::phone`) on a virtual clock: core events in, the
//! driver's actions out. Autohold/automute, line switching, mute by direction, DTMF routing,
//! ringing and early media, auto-answer, the current line and the call records.

use softphone::model::{
    AutoMode, CallDirection, CallState, Cdr, ConferenceOp, CurrentLineCause, DefaultMute,
    DiscParty, DtmfMode, Event, MuteDirection,
};
use softphone::phone::{Action, Phone, PhonePrefs, RecordingNames, RingKind};
use softphone::sdp::{Codec, Direction, Negotiated, OpusParams};
use softphone::sip::ua::UaEvent;
use std::time::{Duration, Instant};

fn prefs() -> PhonePrefs {
    PhonePrefs {
        autoaccept: false,
        default_mute: DefaultMute::Microphone,
        auto_hold: AutoMode::Never,
        auto_mute: AutoMode::Never,
        dtmf_mode: DtmfMode::Rfc4733OrInfo,
        ring_mode: 2,
        early_send: false,
        record_calls: false,
        recording_names: RecordingNames::default(),
    }
}

fn call(line: u32, state: CallState, direction: CallDirection) -> UaEvent {
    call_by(line, state, direction, true)
}

fn call_by(line: u32, state: CallState, direction: CallDirection, by_us: bool) -> UaEvent {
    UaEvent::Call {
        line,
        state,
        direction,
        peer: format!("10{line:02}"),
        peer_display: String::new(),
        call_id: format!("call-{line}"),
        peer_uri: format!("sip:10{line:02}@pbx"),
        reason: if state == CallState::Terminated {
            "hung up".into()
        } else {
            String::new()
        },
        ended_by_us: by_us,
    }
}

fn negotiated(direction: Direction, events: bool) -> Negotiated {
    Negotiated {
        codec: Codec::Pcmu,
        payload_type: 0,
        codecs: vec![(0, Codec::Pcmu)],
        opus: OpusParams {
            max_rate: 48_000,
            fec: true,
            dtx: true,
        },
        rtcp_mux: false,
        remote: "127.0.0.1:4000".parse().unwrap(),
        dtmf_pt: events.then_some(101),
        cn_pt: None,
        direction,
        ptime: 20,
        srtp: None,
        dtls: None,
    }
}

fn media(line: u32, n: Negotiated) -> UaEvent {
    UaEvent::Media {
        line,
        negotiated: Some(n),
    }
}

/// A phone on a virtual clock.
struct World {
    phone: Phone,
    t0: Instant,
    now: Duration,
}

impl World {
    fn new(prefs: PhonePrefs) -> World {
        World {
            phone: Phone::new(prefs, "1001"),
            t0: Instant::now(),
            now: Duration::ZERO,
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Feeds `ev`; gives the actions other than reports, and the reports.
    fn feed(&mut self, ev: UaEvent) -> (Vec<Action>, Vec<Event>) {
        let wall = 1_000_000 + i64::try_from(self.now.as_millis()).unwrap();
        self.phone.on_ua_event(self.t0 + self.now, wall, &ev);
        self.drain()
    }

    fn drain(&mut self) -> (Vec<Action>, Vec<Event>) {
        let (mut acts, mut evs) = (Vec::new(), Vec::new());
        while let Some(a) = self.phone.poll_action() {
            match a {
                Action::Report(e) => evs.push(e),
                Action::StopLevelMeter => {}
                a => acts.push(a),
            }
        }
        (acts, evs)
    }

    /// Brings `line` up with media, as the core reports an answered call.
    fn connect(&mut self, line: u32, direction: CallDirection) -> (Vec<Action>, Vec<Event>) {
        let first = if direction == CallDirection::Incoming {
            CallState::Incoming
        } else {
            CallState::Calling
        };
        self.feed(call(line, first, direction));
        self.feed(media(line, negotiated(Direction::SendRecv, true)));
        self.feed(call(line, CallState::Connected, direction))
    }
}

#[test]
fn an_answered_incoming_call_holds_the_others_with_autohold_1() {
    let mut w = World::new(PhonePrefs {
        auto_hold: AutoMode::OnIncoming,
        auto_mute: AutoMode::OnIncoming,
        ..prefs()
    });
    w.connect(1, CallDirection::Outgoing);
    assert_eq!(w.phone.current_line(), Some(1));
    let (acts, evs) = w.connect(2, CallDirection::Incoming);
    assert!(
        acts.contains(&Action::Hold { line: 1, on: true }),
        "{acts:?}"
    );
    assert!(acts.contains(&Action::MuteMedia {
        line: 1,
        microphone: true,
        speaker: false
    }));
    assert!(evs.contains(&Event::CurrentLine {
        line: Some(2),
        cause: CurrentLineCause::NewCall
    }));
    // An outgoing call does not with autohold=1.
    let mut w = World::new(PhonePrefs {
        auto_hold: AutoMode::OnIncoming,
        ..prefs()
    });
    w.connect(1, CallDirection::Incoming);
    let (acts, _) = w.connect(2, CallDirection::Outgoing);
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Hold { .. })),
        "{acts:?}"
    );
}

#[test]
fn switching_lines_with_autohold_and_automute_4() {
    let mut w = World::new(PhonePrefs {
        auto_hold: AutoMode::OnLineSwitch,
        auto_mute: AutoMode::OnLineSwitch,
        ..prefs()
    });
    w.connect(1, CallDirection::Outgoing);
    w.connect(2, CallDirection::Outgoing);
    // The core reports line 2 held (a switch earlier); picking line 1 holds 2... picking 2
    // back resumes it.
    w.phone.set_line(1).unwrap();
    let (acts, evs) = w.drain();
    assert_eq!(
        acts,
        vec![
            Action::Hold { line: 2, on: true },
            Action::MuteMedia {
                line: 2,
                microphone: true,
                speaker: false
            }
        ]
    );
    assert_eq!(
        evs[0],
        Event::CurrentLine {
            line: Some(1),
            cause: CurrentLineCause::Selected
        }
    );
    w.feed(UaEvent::Hold {
        line: 2,
        local: true,
        remote: false,
    });
    w.phone.set_line(2).unwrap();
    let (acts, _) = w.drain();
    assert!(acts.contains(&Action::Hold { line: 1, on: true }));
    assert!(acts.contains(&Action::Hold { line: 2, on: false }));
    assert!(acts.contains(&Action::MuteMedia {
        line: 2,
        microphone: false,
        speaker: false
    }));
    assert!(w.phone.set_line(7).is_err());
}

#[test]
fn mute_by_direction_keeps_the_other_direction() {
    let mut w = World::new(prefs());
    assert!(w.phone.mute(1, true, MuteDirection::Both).is_err());
    w.connect(1, CallDirection::Outgoing);
    w.phone.mute(1, true, MuteDirection::Speaker).unwrap();
    w.phone.mute(1, true, MuteDirection::Default).unwrap();
    w.drain();
    // Unmuting the microphone leaves the speaker muted.
    w.phone.mute(1, false, MuteDirection::Microphone).unwrap();
    let (acts, evs) = w.drain();
    assert_eq!(
        acts,
        vec![Action::MuteMedia {
            line: 1,
            microphone: false,
            speaker: true
        }]
    );
    assert_eq!(
        evs,
        vec![Event::Mute {
            line: 1,
            microphone: false,
            speaker: true
        }]
    );
    w.phone.mute(1, false, MuteDirection::Both).unwrap();
    let (acts, _) = w.drain();
    assert_eq!(
        acts,
        vec![Action::MuteMedia {
            line: 1,
            microphone: false,
            speaker: false
        }]
    );
}

#[test]
fn dtmf_goes_where_dtmfmode_and_the_peer_allow() {
    let mut w = World::new(prefs());
    w.connect(1, CallDirection::Outgoing);
    assert_eq!(w.phone.dtmf_routes(1), Ok((true, false)));
    w.feed(media(1, negotiated(Direction::SendRecv, false)));
    assert_eq!(w.phone.dtmf_routes(1), Ok((false, true)));
    w.phone.set_prefs(PhonePrefs {
        dtmf_mode: DtmfMode::Rfc4733Only,
        ..prefs()
    });
    assert!(w.phone.dtmf_routes(1).is_err());
    assert!(w.phone.dtmf_routes(3).is_err());
}

#[test]
fn ringing_ringback_and_early_media() {
    let mut w = World::new(prefs());
    let (acts, _) = w.feed(call(1, CallState::Calling, CallDirection::Outgoing));
    assert!(acts.is_empty(), "{acts:?}");
    let (acts, _) = w.feed(call(1, CallState::Ringing, CallDirection::Outgoing));
    assert_eq!(
        acts,
        vec![Action::Ring {
            line: 1,
            kind: RingKind::Ringback
        }]
    );
    // Early media: receive only until the answer, and it takes the speaker over.
    let (acts, _) = w.feed(media(1, negotiated(Direction::SendRecv, true)));
    assert!(matches!(&acts[..], [Action::StartMedia { negotiated, .. }]
        if negotiated.direction == Direction::RecvOnly));
    w.advance(Duration::from_secs(3));
    let (acts, evs) = w.feed(call(1, CallState::Connected, CallDirection::Outgoing));
    assert!(
        matches!(&acts[..], [Action::UpdateMedia { negotiated, .. }]
        if negotiated.direction == Direction::SendRecv),
        "{acts:?}"
    );
    assert!(matches!(
        &evs[0],
        Event::Call {
            answered_at_ms: Some(1_003_000),
            ..
        }
    ));
    // An incoming call rings on the ringer until answered; with autoaccept it is answered.
    let (acts, _) = w.feed(call(2, CallState::Incoming, CallDirection::Incoming));
    assert_eq!(
        acts,
        vec![Action::Ring {
            line: 2,
            kind: RingKind::Ringer
        }]
    );
    let (acts, _) = w.feed(call(2, CallState::Terminated, CallDirection::Incoming));
    assert!(acts.contains(&Action::EndLine { line: 2 }));
    // A call that replaces one of ours (INVITE with Replaces) is answered without ringing,
    // once: the next call on that line rings again.
    let (acts, events) = w.feed(UaEvent::Replacing { line: 3 });
    assert!(acts.is_empty() && events.is_empty());
    let (acts, _) = w.feed(call(3, CallState::Incoming, CallDirection::Incoming));
    assert_eq!(acts, vec![Action::Answer { line: 3 }]);
    w.feed(call(3, CallState::Terminated, CallDirection::Incoming));
    let (acts, _) = w.feed(call(3, CallState::Incoming, CallDirection::Incoming));
    assert_eq!(
        acts,
        vec![Action::Ring {
            line: 3,
            kind: RingKind::Ringer
        }]
    );
    // The server's auto-answer: before the call is reported it is answered without ringing;
    // for a call already ringing it answers now.
    let (acts, _) = w.feed(UaEvent::AutoAnswer { line: 4 });
    assert!(acts.is_empty());
    let (acts, _) = w.feed(call(4, CallState::Incoming, CallDirection::Incoming));
    assert_eq!(acts, vec![Action::Answer { line: 4 }]);
    let (acts, _) = w.feed(UaEvent::AutoAnswer { line: 3 });
    assert_eq!(acts, vec![Action::Answer { line: 3 }]);
    let mut w = World::new(PhonePrefs {
        autoaccept: true,
        early_send: true,
        ..prefs()
    });
    let (acts, _) = w.feed(call(1, CallState::Incoming, CallDirection::Incoming));
    assert_eq!(acts, vec![Action::Answer { line: 1 }]);
    let (acts, _) = w.feed(media(1, negotiated(Direction::SendRecv, true)));
    assert!(matches!(&acts[..], [Action::StartMedia { negotiated, .. }]
        if negotiated.direction == Direction::SendRecv));
}

#[test]
fn records_and_the_current_line_when_calls_end() {
    let mut w = World::new(prefs());
    w.feed(call(1, CallState::Incoming, CallDirection::Incoming));
    w.advance(Duration::from_millis(2_500));
    w.feed(media(1, negotiated(Direction::SendRecv, true)));
    w.feed(call(1, CallState::Connected, CallDirection::Incoming));
    w.connect(2, CallDirection::Outgoing);
    assert_eq!(w.phone.current_line(), Some(2));
    w.advance(Duration::from_secs(60));
    let (acts, evs) = w.feed(call(2, CallState::Terminated, CallDirection::Outgoing));
    assert!(evs.contains(&Event::CurrentLine {
        line: Some(1),
        cause: CurrentLineCause::Freed
    }));
    let cdr: Vec<&Cdr> = acts
        .iter()
        .filter_map(|a| match a {
            Action::StoreCdr(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(cdr.len(), 1);
    assert_eq!(
        (cdr[0].caller.as_str(), cdr[0].called.as_str()),
        ("1001", "1002")
    );
    assert_eq!((cdr[0].connect_ms, cdr[0].duration_ms), (0, 60_000));
    assert_eq!(cdr[0].disc_party, DiscParty::Local);
    let (acts, evs) = w.feed(call(1, CallState::Terminated, CallDirection::Incoming));
    assert!(evs.contains(&Event::CurrentLine {
        line: None,
        cause: CurrentLineCause::Freed
    }));
    assert!(acts.iter().any(|a| matches!(a, Action::StoreCdr(c)
        if c.connect_ms == 2_500 && c.duration_ms == 60_000)));
    assert!(!w.phone.media_running());
}

#[test]
fn an_answered_call_and_a_missed_one_on_the_same_line() {
    let mut w = World::new(prefs());
    let records = |acts: Vec<Action>| -> Vec<Cdr> {
        acts.into_iter()
            .filter_map(|a| match a {
                Action::StoreCdr(c) => Some(c),
                _ => None,
            })
            .collect()
    };
    w.feed(call_by(
        2,
        CallState::Incoming,
        CallDirection::Incoming,
        false,
    ));
    w.advance(Duration::from_millis(2_500));
    w.feed(call_by(
        2,
        CallState::Connected,
        CallDirection::Incoming,
        false,
    ));
    w.advance(Duration::from_secs(60));
    let (acts, _) = w.feed(call_by(
        2,
        CallState::Terminated,
        CallDirection::Incoming,
        false,
    ));
    let cdr = records(acts);
    assert_eq!(cdr.len(), 1);
    assert_eq!(
        (cdr[0].caller.as_str(), cdr[0].called.as_str()),
        ("1002", "1001")
    );
    assert_eq!((cdr[0].connect_ms, cdr[0].duration_ms), (2_500, 60_000));
    assert_eq!(cdr[0].started_ms, 1_000_000);
    assert_eq!(cdr[0].disc_party, DiscParty::Remote);
    assert!(!cdr[0].outgoing);
    // The line is free again: a new call there is a new record, never answered.
    w.advance(Duration::from_secs(8));
    w.feed(call_by(
        2,
        CallState::Incoming,
        CallDirection::Incoming,
        false,
    ));
    w.advance(Duration::from_secs(5));
    let (acts, _) = w.feed(call_by(
        2,
        CallState::Terminated,
        CallDirection::Incoming,
        true,
    ));
    let missed = records(acts);
    assert_eq!((missed[0].connect_ms, missed[0].duration_ms), (0, 0));
    assert_eq!(missed[0].started_ms, 1_070_500);
    assert_eq!(missed[0].disc_party, DiscParty::Local);
}

/// The conference's members as the driver is told them, in order.
fn conference_changes(acts: &[Action]) -> Vec<Vec<u32>> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Conference { lines } => Some(lines.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_conference_merges_adds_takes_out_holds_and_ends_with_its_calls() {
    let mut w = World::new(PhonePrefs {
        auto_hold: AutoMode::OnAnyCall,
        ..prefs()
    });
    w.connect(1, CallDirection::Outgoing);
    // One call is not a conference.
    assert!(w.phone.conference(&ConferenceOp::Merge).is_err());
    let (acts, _) = w.connect(2, CallDirection::Incoming);
    assert!(acts.contains(&Action::Hold { line: 1, on: true }));
    w.feed(UaEvent::Hold {
        line: 1,
        local: true,
        remote: false,
    });
    // Merging resumes the call autohold held, and mixes both.
    w.phone.conference(&ConferenceOp::Merge).unwrap();
    let (acts, evs) = w.drain();
    assert!(
        acts.contains(&Action::Hold { line: 1, on: false }),
        "{acts:?}"
    );
    assert_eq!(conference_changes(&acts), [vec![1, 2]]);
    assert!(evs.contains(&Event::Conference { lines: vec![1, 2] }));
    w.feed(UaEvent::Hold {
        line: 1,
        local: false,
        remote: false,
    });
    // Merging again changes nothing.
    w.phone.conference(&ConferenceOp::Merge).unwrap();
    assert!(conference_changes(&w.drain().0).is_empty());

    // A call placed into the conference joins on answer and holds nobody, though autohold
    // would hold the others for any other call.
    w.phone.may_add_to_conference().unwrap();
    w.phone.join_conference_when_answered(3);
    let (acts, _) = w.connect(3, CallDirection::Outgoing);
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Hold { on: true, .. })),
        "{acts:?}"
    );
    assert_eq!(conference_changes(&acts), [vec![1, 2, 3]]);
    assert_eq!(w.phone.conference_members(), [1, 2, 3]);
    assert_eq!(w.phone.current_line(), Some(3));

    // Taking one out holds it and leaves the other two talking.
    w.phone
        .conference(&ConferenceOp::Remove { line: 3 })
        .unwrap();
    let (acts, _) = w.drain();
    assert!(acts.contains(&Action::Hold { line: 3, on: true }));
    assert_eq!(conference_changes(&acts), [vec![1, 2]]);
    assert!(
        w.phone
            .conference(&ConferenceOp::Remove { line: 3 })
            .is_err(),
        "no longer a member"
    );

    // Holding the conference holds every member; resuming resumes them.
    w.phone
        .conference(&ConferenceOp::Hold { on: true })
        .unwrap();
    let (acts, _) = w.drain();
    assert_eq!(
        acts,
        [
            Action::Hold { line: 1, on: true },
            Action::Hold { line: 2, on: true }
        ]
    );

    // A member hangs up: one is left, the conference is over.
    let (acts, evs) = w.feed(call(2, CallState::Terminated, CallDirection::Incoming));
    assert_eq!(conference_changes(&acts), [Vec::<u32>::new()]);
    assert!(evs.contains(&Event::Conference { lines: vec![] }));
    assert!(w.phone.conference_members().is_empty());
    assert!(w.phone.conference(&ConferenceOp::Split).is_err());
    assert!(
        w.phone
            .conference(&ConferenceOp::Hold { on: false })
            .is_err()
    );
}

#[test]
fn splitting_a_conference_keeps_the_current_line_and_holds_the_rest() {
    let mut w = World::new(PhonePrefs {
        auto_hold: AutoMode::OnLineSwitch,
        ..prefs()
    });
    for line in 1..=3 {
        w.connect(line, CallDirection::Outgoing);
    }
    w.phone.conference(&ConferenceOp::Merge).unwrap();
    w.drain();
    // Switching between members holds neither, even with autohold 4.
    w.phone.set_line(1).unwrap();
    let (acts, _) = w.drain();
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Hold { .. })),
        "{acts:?}"
    );
    w.phone.conference(&ConferenceOp::Split).unwrap();
    let (acts, _) = w.drain();
    assert_eq!(
        acts,
        [
            Action::Hold { line: 2, on: true },
            Action::Hold { line: 3, on: true },
            Action::Conference { lines: vec![] }
        ]
    );
    // Nothing to add a party to without an answered call.
    let idle = World::new(prefs());
    assert!(idle.phone.may_add_to_conference().is_err());
}

#[test]
fn voicerecording_records_each_call_from_its_answer_and_record_starts_and_stops() {
    let mut w = World::new(PhonePrefs {
        record_calls: true,
        recording_names: RecordingNames {
            format: 4,
            prefix: "desk-".into(),
        },
        ..prefs()
    });
    // Ringing is not recorded; the answer starts the recording, named as voicerecfilename 4
    // says (UTC date-time, our user, the peer).
    w.feed(call(1, CallState::Calling, CallDirection::Outgoing));
    let (acts, _) = w.feed(call(1, CallState::Ringing, CallDirection::Outgoing));
    assert!(!acts.iter().any(|a| matches!(a, Action::Record { .. })));
    w.advance(Duration::from_secs(2));
    let (acts, _) = w.feed(call(1, CallState::Connected, CallDirection::Outgoing));
    let file = Some("desk-19700101001642_1001_1001.wav".to_string());
    assert!(acts.contains(&Action::Record { line: 1, file }), "{acts:?}");
    // A re-report of the answered call does not start it again.
    let (acts, _) = w.feed(call(1, CallState::Connected, CallDirection::Outgoing));
    assert!(!acts.iter().any(|a| matches!(a, Action::Record { .. })));
    w.phone.record(1, false, "", 0).unwrap();
    assert_eq!(
        w.drain().0,
        [Action::Record {
            line: 1,
            file: None
        }]
    );
    // By hand, with a name: only a file name in the folder is taken.
    w.phone.record(1, true, "../../etc/cron.d/job", 0).unwrap();
    let file = Some("desk-job.wav".to_string());
    assert_eq!(w.drain().0, [Action::Record { line: 1, file }]);
    // A call that is not answered, or no call, is refused.
    w.feed(call(2, CallState::Incoming, CallDirection::Incoming));
    assert!(w.phone.record(2, true, "", 0).is_err());
    assert!(w.phone.record(9, true, "", 0).is_err());
}

//! The typed model through the real binary: `--headless --format=json` prints one JSON event
//! per line (each parsed back into the model and fed to the same reducer the window uses) and
//! takes JSON commands as well as text ones, each reply tied to its request id; a call to
//! baresip through Kamailio, mute by direction, redial, refusals.

use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, speech};
use softphone::model::{
    CallState, Event, NoticeKind, PhoneState, Registration, Reply, RequestId, Severity,
};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// The softphone's JSON lines as model events, applied to a [`PhoneState`] in order.
struct JsonFace {
    sp: Softphone,
    state: PhoneState,
    /// Lines of `sp.seen` already applied.
    applied: usize,
}

impl JsonFace {
    /// Waits for an event satisfying `pred`; every line up to it must be a valid event, and
    /// the state takes each one.
    fn wait(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        let line = self.sp.wait_for(T, |line| {
            serde_json::from_str::<Event>(line).is_ok_and(|e| pred(&e))
        });
        for l in &self.sp.seen[self.applied..] {
            let ev: Event = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON event ({e}) while waiting for {what}: {l}"));
            self.state.apply(&ev);
        }
        self.applied = self.sp.seen.len();
        serde_json::from_str(&line).expect("checked above")
    }

    /// Waits for the reply to request `id`.
    fn reply(&mut self, id: u64) -> Reply {
        match self.wait(
            &format!("reply {id}"),
            |e| matches!(e, Event::Reply { id: r, .. } if *r == RequestId(id)),
        ) {
            Event::Reply { result, .. } => result,
            other => panic!("not a reply: {other:?}"),
        }
    }
}

#[test]
fn json_lines_both_ways_through_a_call_to_baresip() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, theirs) = speech(work.path(), "theirs", "Hello from baresip.", 20);
    let _bs = Baresip::start(&kam, "1002", &theirs, "PCMU");
    let sp = Softphone::user_1001(&kam, &["--format=json"]);
    let mut f = JsonFace {
        sp,
        state: PhoneState::default(),
        applied: 0,
    };
    f.wait(
        "start",
        |e| matches!(e, Event::Started { user } if user == "1001"),
    );
    f.wait("registration", |e| {
        matches!(e, Event::Registration(Registration::Registered { .. }))
    });
    // A JSON command names its id; the reply carries it.
    f.sp.send_line(r#"{"id":100,"type":"call","number":"1002"}"#);
    assert_eq!(f.reply(100), Reply::Line { line: 1 });
    f.wait("the answer", |e| {
        matches!(e, Event::Call { line: 1, state: CallState::Connected, peer, answered_at_ms: Some(_), .. } if peer == "1002")
    });
    // The reducer has followed the events: the line's media is PCMU.
    let media = f.state.lines[&1].media.clone().expect("media on line 1");
    assert_eq!(media.codec, "PCMU");
    // Mute by direction: each direction keeps its own state, whichever way it is asked.
    f.sp.send_line(r#"{"id":101,"type":"mute","line":1,"on":true,"direction":"speaker"}"#);
    assert_eq!(f.reply(101), Reply::Done);
    f.sp.send_line("Mute,1,on,2");
    f.wait("both muted", |e| {
        matches!(
            e,
            Event::Mute {
                line: 1,
                microphone: true,
                speaker: true
            }
        )
    });
    f.sp.send_line(r#"{"type":"mute","line":1,"on":false,"direction":"microphone"}"#);
    f.wait("the speaker still muted", |e| {
        matches!(
            e,
            Event::Mute {
                line: 1,
                microphone: false,
                speaker: true
            }
        )
    });
    let line = &f.state.lines[&1];
    assert!(!line.mic_muted && line.speaker_muted, "{line:?}");
    // A bad JSON line is a warning about the input; a refused command a failed reply.
    f.sp.send_line(r#"{"type":"fly"}"#);
    f.wait("the bad line", |e| {
        matches!(e, Event::Notice { severity: Severity::Warning, kind: NoticeKind::Input, text } if text.starts_with("JSON command"))
    });
    f.sp.send_line(r#"{"id":102,"type":"set_line","line":3}"#);
    assert_eq!(
        f.reply(102),
        Reply::Failed {
            kind: NoticeKind::Call,
            message: "no call on line 3".into()
        }
    );
    f.sp.send_line(r#"{"id":103,"type":"call","number":"sips:1002@127.0.0.1"}"#);
    assert!(
        matches!(f.reply(103), Reply::Failed { kind: NoticeKind::Call, message } if message.contains("needs TLS")),
    );
    // Text commands still work: hang up, then `Call` alone redials the last number.
    f.sp.send_line("Hangup,1");
    f.wait(
        "the first record",
        |e| matches!(e, Event::Cdr(c) if c.peer == "1002"),
    );
    f.sp.send_line("Call");
    f.wait("the redial answered", |e| {
        matches!(e, Event::Call { line: 1, state: CallState::Connected, peer, .. } if peer == "1002")
    });
    f.sp.send_line(r#"{"id":104,"type":"hangup","line":1}"#);
    assert_eq!(f.reply(104), Reply::Done);
    f.wait("the second record", |e| matches!(e, Event::Cdr(_)));
    f.sp.send_line(r#"{"id":105,"type":"exit"}"#);
    f.wait("the end", |e| *e == Event::Stopped);
    assert_eq!(f.state.history.len(), 2);
    assert!(f.state.lines.is_empty() && f.state.stopped);
    let status = crate::peers::wait_exit(&mut f.sp.child, Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    // No notification line slipped in: every line was an event.
    assert!(!f.sp.seen.iter().any(|l| l.starts_with("STATUS,")));
}

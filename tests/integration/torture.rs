//! The torture corpus in `tests/corpus/`: valid messages that a UA must accept (and answer
//! right) and invalid ones it must reject, each with the answer the softphone gives. rsip 0.4 is
//! run over the same corpus and its misjudgements are printed: that is why the core has its own
//! parser (see `src/sip/mod.rs`).

use crate::sim::ua_config;
use softphone::sip::parse::parse_message;
use softphone::sip::transport::{Destination, Transport};
use softphone::sip::ua::UserAgent;
use std::time::Instant;

fn corpus() -> Vec<(String, Vec<u8>, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let index = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, expected) = l.split_once('\t').expect("name<TAB>expected");
            let bytes = std::fs::read(dir.join(format!("{name}.sip"))).expect("corpus file");
            (name.to_string(), bytes, expected.to_string())
        })
        .collect()
}

/// What a fresh UA sends back for one datagram: a status code or "drop".
fn answer(bytes: &[u8]) -> String {
    let mut ua = UserAgent::new(ua_config("pw"), 1);
    let src = Destination {
        transport: Transport::Udp,
        addr: "127.0.0.1:5099".parse().expect("addr"),
    };
    ua.handle_datagram(Instant::now(), src, bytes);
    // The final answer: an INVITE gets 100 Trying first.
    let mut answers = Vec::new();
    while let Some(t) = ua.poll_transmit() {
        let text = String::from_utf8_lossy(&t.bytes).into_owned();
        answers.push(
            text.strip_prefix("SIP/2.0 ")
                .and_then(|s| s.get(..3))
                .unwrap_or("not a response")
                .to_string(),
        );
    }
    answers
        .iter()
        .find(|a| !a.starts_with('1'))
        .or(answers.first())
        .cloned()
        .unwrap_or_else(|| "drop".into())
}

#[test]
fn corpus_is_parsed_and_answered_as_expected() {
    let cases = corpus();
    assert!(cases.len() >= 40, "corpus too small: {}", cases.len());
    let mut wrong = Vec::new();
    let (mut rsip_rejects_valid, mut rsip_accepts_invalid) = (Vec::new(), Vec::new());
    for (name, bytes, expected) in &cases {
        let valid = name.starts_with("valid/");
        let parsed = parse_message(bytes);
        if parsed.is_ok() != valid {
            wrong.push(format!("{name}: parse gave {:?}", parsed.err()));
        }
        let got = answer(bytes);
        if &got != expected {
            wrong.push(format!("{name}: expected {expected}, answered {got}"));
        }
        match (valid, rsip::SipMessage::try_from(bytes.as_slice()).is_ok()) {
            (true, false) => rsip_rejects_valid.push(name.clone()),
            (false, true) => rsip_accepts_invalid.push(name.clone()),
            _ => {}
        }
    }
    eprintln!("rsip 0.4 rejects valid: {rsip_rejects_valid:?}");
    eprintln!("rsip 0.4 accepts invalid: {rsip_accepts_invalid:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

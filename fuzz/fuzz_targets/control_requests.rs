//! What a local client or a web page sends the control API: a line of the text protocol, a
//! form or JSON body, the Host and Origin headers, and the click-to-call policy read from
//! parameters. Nothing may panic or hang, and what a web page may do stays within its rights.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softphone::api::control::guard::{self, Caller, Policy};
use softphone::api::control::verbs::{self, Access, Plan};
use softphone::api::control::{body_params, parse_command};
use softphone::model::{CallDirection, CallState, Event, PhoneState};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut state = PhoneState::default();
    state.apply(&Event::Call {
        line: 2,
        state: CallState::Incoming,
        direction: CallDirection::Incoming,
        peer: "1002".into(),
        peer_display: String::new(),
        peer_uri: String::new(),
        call_id: "c".into(),
        reason: String::new(),
        ended_by_us: false,
        answered_at_ms: None,
    });
    for line in text.lines().take(8) {
        if let Ok(call) = parse_command(line) {
            let _ = verbs::plan(&call, &state, Access::Local);
            match verbs::plan(&call, &state, Access::Web) {
                // A page never gets a parameter change or anything else local.
                Ok(Plan::Commands(cmds)) => {
                    for c in cmds {
                        assert!(!matches!(
                            c,
                            softphone::model::Command::SetParameters { .. }
                                | softphone::model::Command::Exit
                                | softphone::model::Command::Transfer { .. }
                        ));
                    }
                }
                Ok(_) | Err(_) => {}
            }
        }
    }
    for ct in ["application/json", "application/x-www-form-urlencoded", ""] {
        if let Ok(params) = body_params(ct, data) {
            let call = verbs::VerbCall {
                verb: params.first().map(|(_, v)| v.clone()).unwrap_or_default(),
                params,
            };
            let _ = verbs::plan(&call, &state, Access::Web);
        }
    }
    let _ = guard::host_is_loopback(&text);
    let _ = guard::normalize_origin(&text);
    let (origins, targets) = text.split_once('\n').unwrap_or((&text, ""));
    let (policy, _) = Policy::from_params(origins, targets);
    for rule in &policy.origins {
        let caller = Caller::Web(rule.clone());
        let _ = policy.dial(&caller, targets);
        let _ = policy.dial(&caller, "support");
    }
});

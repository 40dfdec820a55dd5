//! The Mizu notification lines (`STATUS,...`, `EVENT,...`, `CDR,...`), formatted from typed
//! events at the edge: what headless mode prints and the window's log shows. The format is the
//! reference's and stays as it is; nothing reads these lines back.
//!
//! The global status line (`STATUS,-1,...`) is a summary of registration and calls that the
//! reference prints only when it changes, so the formatter keeps the last one it printed and
//! the user name status lines carry.

use crate::model::{
    CallDirection, CallState, CurrentLineCause, Event, RecordingState, Registration, Reply,
    Severity, TransferRole, TransferState, TransferStep,
};

/// Turns events into notification lines, in order.
#[derive(Debug, Default, Clone)]
pub struct Notifier {
    /// The account's user name (the `local` field of status lines).
    user: String,
    /// The last global status printed.
    status: &'static str,
}

/// Commas and line breaks inside a field would break the format: they become spaces.
fn field(s: &str) -> String {
    s.replace([',', '\r', '\n'], " ")
}

/// The per-line status text and the global status a call state stands for (also what the
/// control API's GetLineStatus and GetStatus answer).
pub(crate) fn call_status_texts(state: CallState) -> (&'static str, &'static str) {
    match state {
        CallState::Calling => ("Setup", "Calling..."),
        CallState::Proceeding => ("InProgress", "Calling..."),
        CallState::Ringing => ("Ringing", "Ringing..."),
        CallState::Incoming => ("Ringing", "Incoming..."),
        CallState::Connecting => ("CallConnect", "In Call"),
        CallState::Connected => ("InCall", "In Call"),
        CallState::Terminating => ("Finishing", "Hangup"),
        CallState::Terminated => ("Finished", "Call Finished"),
    }
}

impl Notifier {
    /// A formatter that has printed nothing yet.
    pub fn new() -> Notifier {
        Notifier::default()
    }

    fn status(&mut self, text: &'static str, out: &mut Vec<String>) {
        if self.status != text {
            self.status = text;
            out.push(format!("STATUS,-1,{text},,{},0,,", field(&self.user)));
        }
    }

    /// The lines `ev` stands for (none for events the reference has no line for).
    pub fn lines(&mut self, ev: &Event) -> Vec<String> {
        let mut out = Vec::new();
        match ev {
            Event::Started { user } => {
                self.user.clone_from(user);
                out.push("START,sip".into());
                self.status("Ready", &mut out);
            }
            Event::Account { user } => self.user.clone_from(user),
            Event::Registration(r) => match r {
                Registration::Registering => self.status("Registering...", &mut out),
                Registration::Registered { .. } => self.status("Registered", &mut out),
                Registration::Failed {
                    code,
                    reason,
                    retry_in_ms,
                } => {
                    // Repeated identical failures during back-off still print: each is an
                    // attempt.
                    self.status = "";
                    self.status("Register Failed", &mut out);
                    out.push(format!(
                        "ERROR,Register failed: {}",
                        field(&Registration::failure_text(*code, reason, *retry_in_ms))
                    ));
                }
                Registration::Unregistered => {
                    out.push("EVENT,Unregistered".into());
                    self.status("Ready", &mut out);
                }
            },
            Event::CapabilityResponse {
                code,
                reason,
                allow,
            } => {
                let allow = allow
                    .as_ref()
                    .map(|a| format!(" (Allow: {a})"))
                    .unwrap_or_default();
                out.push(format!(
                    "EVENT,{}",
                    field(&format!("Capability response: {code} {reason}{allow}"))
                ));
            }
            Event::PublicAddress { addr } => {
                out.push(format!("EVENT,Public address learned: {}", field(addr)))
            }
            Event::Call {
                line,
                state,
                direction,
                peer,
                peer_display,
                call_id,
                reason,
                ..
            } => {
                let (line_text, global) = call_status_texts(*state);
                let endpoint_type = match direction {
                    CallDirection::Outgoing => 1,
                    CallDirection::Incoming => 2,
                };
                out.push(format!(
                    "STATUS,{line},{line_text},{},{},{endpoint_type},{},{}",
                    field(peer),
                    field(&self.user),
                    field(peer_display),
                    field(call_id)
                ));
                if *state == CallState::Terminated && !reason.is_empty() {
                    out.push(format!(
                        "EVENT,{}",
                        field(&format!("Call on line {line} with {peer} ended: {reason}"))
                    ));
                }
                self.status(global, &mut out);
            }
            Event::CurrentLine {
                line: Some(line),
                cause: CurrentLineCause::Selected,
            } => out.push(format!("EVENT,Line {line} selected")),
            Event::CurrentLine { .. } => {}
            Event::Hold {
                line,
                local,
                remote,
            } => out.push(match (local, remote) {
                (true, true) => format!("EVENT,Line {line} on hold (both sides)"),
                (true, false) => format!("EVENT,Line {line} on hold"),
                (false, true) => format!("EVENT,Line {line} held by the remote party"),
                (false, false) => format!("EVENT,Line {line} resumed"),
            }),
            Event::CallDiverted { line, from, reason } => out.push(format!(
                "EVENT,Call on line {line} was forwarded to us by {} ({})",
                field(from),
                reason.words()
            )),
            Event::Transfer {
                line,
                step:
                    TransferStep {
                        role,
                        target,
                        state,
                        code,
                        reason,
                    },
            } => {
                let what = match role {
                    TransferRole::Transferor => format!("Transfer of line {line} to {target}"),
                    TransferRole::Transferee => {
                        format!("Line {line} is transferring us to {target}")
                    }
                };
                let how = match (state, code) {
                    (TransferState::Requested, _) => "requested".to_string(),
                    (TransferState::Accepted, _) => "accepted".to_string(),
                    (TransferState::Progress, Some(c)) => format!("{c} {reason}"),
                    (TransferState::Progress, None) => reason.clone(),
                    (TransferState::Succeeded, _) => "succeeded".to_string(),
                    (TransferState::Failed, _) => format!("failed: {reason}"),
                };
                let kind = if *state == TransferState::Failed {
                    "WARNING"
                } else {
                    "EVENT"
                };
                out.push(format!("{kind},{}", field(&format!("{what}: {how}"))));
            }
            Event::Playback {
                file,
                playing,
                error,
            } => out.push(match (playing, error) {
                (true, _) => format!("EVENT,Playing {file}"),
                (false, None) => format!("EVENT,Sound {file} ended"),
                (false, Some(e)) => format!("EVENT,Sound {file} failed: {e}"),
            }),
            Event::Recording { line, state } => out.push(match state {
                RecordingState::Started { path } => {
                    format!("EVENT,Recording line {line} into {path}")
                }
                RecordingState::Stopped {
                    path,
                    seconds,
                    limit,
                } => format!(
                    "EVENT,Recording of line {line} finished: {path}, {seconds} s{}",
                    if *limit { " (maxrecordlength)" } else { "" }
                ),
                RecordingState::Failed { path, reason } => {
                    format!("EVENT,Recording of line {line} failed: {path}: {reason}")
                }
            }),
            Event::Conference { lines } if lines.is_empty() => {
                out.push("EVENT,Conference ended".to_string());
            }
            Event::Conference { lines } => {
                let lines: Vec<String> = lines.iter().map(u32::to_string).collect();
                out.push(format!("EVENT,Conference: lines {}", lines.join(",")));
            }
            Event::Mute {
                line,
                microphone,
                speaker,
            } => out.push(match (microphone, speaker) {
                (false, false) => format!("EVENT,Line {line} unmuted"),
                (true, false) => format!("EVENT,Line {line} muted (microphone)"),
                (false, true) => format!("EVENT,Line {line} muted (speaker)"),
                (true, true) => format!("EVENT,Line {line} muted (microphone and speaker)"),
            }),
            Event::Media {
                line,
                codec,
                remote,
                direction,
                encryption,
            } => out.push(format!(
                "EVENT,{}",
                field(&format!(
                    "Media on line {line}: {codec} to {remote} ({}); {}",
                    direction.label(),
                    encryption
                        .as_ref()
                        .map_or("unencrypted".to_string(), |s| format!("SRTP {s}"))
                ))
            )),
            Event::MediaStats { line, stats } => {
                let rtt = stats
                    .rtt_ms
                    .map_or("unknown".to_string(), |r| format!("{r:.1} ms"));
                let mut foreign = if stats.foreign_dropped > 0 {
                    format!("; dropped from other sources {}", stats.foreign_dropped)
                } else {
                    String::new()
                };
                if stats.srtp_refused > 0 {
                    foreign.push_str(&format!("; SRTP refused {}", stats.srtp_refused));
                }
                out.push(format!(
                    "EVENT,RTP statistics on line {line}: sent {}; received {}; lost {} ({:.1}%); \
                     jitter {:.1} ms; concealed {}; round trip {rtt}{foreign}",
                    stats.sent,
                    stats.received,
                    stats.lost,
                    stats.loss_percent(),
                    stats.jitter_ms,
                    stats.concealed
                ));
            }
            Event::DtmfReceived { line, digit } => out.push(format!(
                "EVENT,DTMF received on line {line}: {}",
                field(&digit.to_string())
            )),
            Event::InputLevel { level } => out.push(format!("LOG,INPUTLEVEL,{level}")),
            Event::Devices {
                microphones,
                speakers,
            } => {
                for (what, list) in [("Microphones", microphones), ("Speakers", speakers)] {
                    let names: Vec<String> = std::iter::once("Default".to_string())
                        .chain(list.iter().map(|n| field(n)))
                        .collect();
                    out.push(format!("EVENT,{what}: {}", names.join("; ")));
                }
            }
            Event::DevicesSwitched {
                line,
                microphone,
                speaker,
            } => out.push(format!(
                "EVENT,{}",
                field(&format!(
                    "Line {line} now uses microphone {microphone:?} and speaker {speaker:?}"
                ))
            )),
            Event::TestSound { speaker } => out.push(format!(
                "EVENT,{}",
                field(&format!("Test sound on speaker {speaker:?}"))
            )),
            Event::Parameter {
                name,
                value,
                source,
            } => out.push(format!(
                "EVENT,parameter {}={} ({})",
                field(name),
                field(value),
                source.label()
            )),
            Event::Cdr(c) => out.push(format!(
                "CDR,{},{},{},{},{},{},{},{},{}",
                c.line,
                field(&c.peer),
                field(&c.caller),
                field(&c.called),
                field(&c.peer_address),
                c.connect_ms,
                c.duration_ms,
                c.disc_party.code(),
                field(&c.reason)
            )),
            Event::Notice { severity, text, .. } => {
                let tag = match severity {
                    Severity::Info => "EVENT",
                    Severity::Warning => "WARNING",
                    Severity::Error => "ERROR",
                };
                out.push(format!("{tag},{}", field(text)));
            }
            Event::Reply {
                result: Reply::Failed { message, .. },
                ..
            } => out.push(format!("ERROR,{}", field(message))),
            // The reference's `CHAT,line,peername,text`: the text is the last field, so its
            // commas stay; line breaks would start a forged line and become spaces.
            Event::ChatReceived {
                line, from, text, ..
            } => out.push(format!(
                "CHAT,{},{},{}",
                line.map_or(-1, i64::from),
                field(from),
                text.replace(['\r', '\n'], " ")
            )),
            // 202: a server took it for someone offline (msilo and the like).
            Event::ChatDelivery {
                to,
                delivered: true,
                code: Some(202),
                reason,
                ..
            } => out.push(format!(
                "EVENT,Chat to {} stored by the server for later delivery ({})",
                field(to),
                field(reason)
            )),
            Event::ChatDelivery {
                to,
                delivered: true,
                ..
            } => out.push(format!("EVENT,Chat to {} delivered", field(to))),
            Event::ChatDelivery { to, reason, .. } => out.push(format!(
                "WARNING,Chat to {} failed: {}",
                field(to),
                field(reason)
            )),
            // The reference's `PRESENCE,status,username,displayname,email` (the last two are not
            // in a presence document; empty).
            Event::Presence { user, status, .. } => {
                out.push(format!("PRESENCE,{},{},,", status.word(), field(user)))
            }
            // `BLF,user,idle|ringing|incall|unknown,pickup` (pickup 1: Pickup,user replaces the
            // ringing call).
            Event::BusyLamp {
                user,
                state,
                pickup,
            } => out.push(format!(
                "BLF,{},{},{}",
                field(user),
                state.word(),
                u8::from(*pickup)
            )),
            Event::DialRequest {
                ticket,
                origin,
                target,
            } => out.push(format!(
                "EVENT,{}",
                field(&format!(
                    "Call request {ticket} from {origin}: {target}; allow or refuse it in the window"
                ))
            )),
            Event::DialDecision { ticket, allow } => out.push(format!(
                "EVENT,Call request {ticket} {}",
                if *allow { "allowed" } else { "refused" }
            )),
            Event::WatcherRequest { watcher } => out.push(format!(
                "EVENT,{} asks to see your presence (AllowWatcher,{},yes or no)",
                field(watcher),
                field(watcher)
            )),
            // `MWI,waiting,new,old,urgent new,urgent old`: the voicemail box (yes/no, counts).
            Event::Voicemail(m) => out.push(format!(
                "MWI,{},{},{},{},{}",
                if m.waiting { "yes" } else { "no" },
                m.new,
                m.old,
                m.urgent_new,
                m.urgent_old
            )),
            // `CHATLOG,peer,in|out,time UTC,text` for each stored message (GetChatHistory).
            Event::ChatHistory { peer, messages } => {
                for m in messages {
                    out.push(format!(
                        "CHATLOG,{},{},{},{}",
                        field(peer),
                        if m.outgoing { "out" } else { "in" },
                        crate::store::format_utc(m.at_ms),
                        m.text.replace(['\r', '\n'], " ")
                    ));
                }
            }
            // `CONTACTS,count`: the address book changed (or was read at start).
            Event::Contacts { contacts } => out.push(format!("CONTACTS,{}", contacts.len())),
            // `WATCHER,address,status,server|direct,display` for each, then `WATCHERS,count`.
            Event::Watchers { watchers } => {
                for w in watchers {
                    out.push(format!(
                        "WATCHER,{},{},{},{}",
                        field(&w.address),
                        w.status.word(),
                        if w.at_server { "server" } else { "direct" },
                        field(&w.display)
                    ));
                }
                out.push(format!("WATCHERS,{}", watchers.len()));
            }
            // `CONTACT,id,name,address,speed dial,numbers` for each contact found (numbers as
            // `label:number` joined by `;`), then `CONTACTS_FOUND,count`.
            Event::ContactsFound { contacts, .. } => {
                for c in contacts {
                    let numbers: Vec<String> = c
                        .phones
                        .iter()
                        .map(|p| format!("{}:{}", p.label, p.number))
                        .collect();
                    out.push(format!(
                        "CONTACT,{},{},{},{},{}",
                        c.id,
                        field(&c.name),
                        field(&c.uri),
                        field(&c.speed_dial),
                        field(&numbers.join(";"))
                    ));
                }
                out.push(format!("CONTACTS_FOUND,{}", contacts.len()));
            }
            Event::ContactsImported {
                added,
                updated,
                problems,
            } => {
                out.push(format!(
                    "EVENT,Imported contacts: {added} added, {updated} updated, {} skipped",
                    problems.len()
                ));
                for p in problems {
                    out.push(format!("WARNING,Contact import: {}", field(p)));
                }
            }
            // The text is for the face that asked to write a file.
            Event::ContactsExported { .. } | Event::Reply { .. } | Event::Stopped => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NoticeKind;

    #[test]
    fn the_reference_lines() {
        let mut n = Notifier::new();
        assert_eq!(
            n.lines(&Event::Started {
                user: "1001".into()
            }),
            vec!["START,sip", "STATUS,-1,Ready,,1001,0,,"]
        );
        assert_eq!(
            n.lines(&Event::Registration(Registration::Registered {
                expires_s: 600
            })),
            vec!["STATUS,-1,Registered,,1001,0,,"]
        );
        // The global status prints only when it changes.
        assert!(
            n.lines(&Event::Registration(Registration::Registered {
                expires_s: 600
            }))
            .is_empty()
        );
        let failed = Event::Registration(Registration::Failed {
            code: 403,
            reason: "Forbidden, bad\r\nline".into(),
            retry_in_ms: Some(5000),
        });
        let lines = n.lines(&failed);
        assert_eq!(
            lines,
            vec![
                "STATUS,-1,Register Failed,,1001,0,,",
                "ERROR,Register failed: 403 Forbidden  bad  line; retrying in 5.0 s"
            ]
        );
        // Each failed attempt prints again.
        assert_eq!(n.lines(&failed).len(), 2);
        assert_eq!(
            n.lines(&Event::warning(NoticeKind::Sip, "x,y")),
            vec!["WARNING,x y"]
        );
        assert_eq!(
            n.lines(&Event::Call {
                line: 1,
                state: CallState::Terminated,
                direction: CallDirection::Outgoing,
                peer: "1002".into(),
                peer_display: "Bob".into(),
                peer_uri: "sip:1002@pbx".into(),
                call_id: "abc".into(),
                reason: "remote hung up".into(),
                ended_by_us: false,
                answered_at_ms: None,
            }),
            vec![
                "STATUS,1,Finished,1002,1001,1,Bob,abc",
                "EVENT,Call on line 1 with 1002 ended: remote hung up",
                "STATUS,-1,Call Finished,,1001,0,,"
            ]
        );
    }
}

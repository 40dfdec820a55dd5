//! One example of every command and event, for the README's JSON section (`softphone
//! --json-examples` prints them through `api::json`; a test keeps the README in step) and for
//! the round-trip tests.

use super::*;

/// A contact with every field filled.
fn example_contact() -> Contact {
    Contact {
        id: 0,
        name: "Ada Lovelace".into(),
        uri: "sip:1001@pbx.example".into(),
        phones: vec![PhoneNumber {
            label: "mobile".into(),
            number: "+44 7700 900123".into(),
        }],
        speed_dial: "1".into(),
        notes: "Engineering".into(),
    }
}

/// One request of every command.
pub fn command_examples() -> Vec<Request> {
    let commands = vec![
        Command::Register,
        Command::Unregister,
        Command::CapabilityRequest,
        Command::Exit,
        Command::Call {
            number: "1002".into(),
        },
        Command::Hangup { line: 1 },
        Command::Accept { line: 1 },
        Command::Dtmf {
            line: 1,
            digits: "12#".into(),
        },
        Command::SetLine { line: 2 },
        Command::Hold { line: 1, on: true },
        Command::Transfer {
            line: 1,
            target: "1003".into(),
        },
        Command::Forward {
            line: 2,
            target: "1004".into(),
        },
        Command::Conference {
            op: ConferenceOp::Merge,
        },
        Command::Record {
            line: 1,
            on: true,
            name: String::new(),
        },
        Command::PlaySound {
            file: "/usr/share/sounds/prompts/please-hold.wav".into(),
            looped: true,
            local: false,
            remote: true,
            line: 1,
        },
        Command::StopSound,
        Command::Conference {
            op: ConferenceOp::Add {
                number: "1003".into(),
            },
        },
        Command::Conference {
            op: ConferenceOp::Remove { line: 2 },
        },
        Command::Conference {
            op: ConferenceOp::Split,
        },
        Command::Conference {
            op: ConferenceOp::Hold { on: true },
        },
        Command::Park {
            line: 1,
            orbit: "5".into(),
        },
        Command::Unpark { orbit: "5".into() },
        Command::Pickup {
            extension: "1005".into(),
        },
        Command::SendChat {
            peer: "1002".into(),
            text: "Can you take the next call?".into(),
        },
        Command::GetChatHistory {
            peer: "1002".into(),
        },
        Command::CheckVoicemail,
        Command::CheckPresence {
            users: vec!["1002".into(), "1003".into()],
        },
        Command::SetPresenceStatus {
            status: PresenceStatus::Away,
        },
        Command::WatchBusyLamps {
            users: vec!["1005".into()],
        },
        Command::AllowWatcher {
            watcher: "sip:1002@pbx".into(),
            allow: true,
        },
        Command::AskToDial {
            origin: "https://crm.example.com".into(),
            target: "support (1002)".into(),
            call_when_allowed: false,
        },
        Command::ConfirmDial {
            ticket: 41,
            allow: true,
        },
        Command::SaveContact {
            contact: example_contact(),
        },
        Command::DeleteContact { key: "12".into() },
        Command::SetContacts {
            contacts: vec![Contact::new("Bob", "1003")],
        },
        Command::GetContacts {
            search: "ada".into(),
        },
        Command::ImportContacts {
            format: ContactFormat::Csv,
            text: "Name,SIP URI\nBob,1003\n".into(),
        },
        Command::ExportContacts {
            format: ContactFormat::Vcard,
        },
        Command::Blacklist {
            change: BlacklistChange::Add {
                number: "1005".into(),
            },
        },
        Command::Mute {
            line: 1,
            on: true,
            direction: MuteDirection::Microphone,
        },
        Command::TestSound,
        Command::InputLevel { on: true },
        Command::ListDevices,
        Command::SetParameters {
            values: vec![
                ParamValue::new("maxlines", "2"),
                ParamValue::new("password", "secret"),
            ],
            persist: false,
        },
    ];
    commands
        .into_iter()
        .zip(1..)
        .map(|(command, id)| Request {
            id: RequestId(id),
            command,
        })
        .collect()
}

fn call_event(state: CallState) -> Event {
    Event::Call {
        line: 1,
        state,
        direction: CallDirection::Outgoing,
        peer: "1002".into(),
        peer_display: "Bob".into(),
        peer_uri: "sip:1002@pbx.example.com".into(),
        call_id: "a84b4c76e66710".into(),
        reason: if state == CallState::Terminated {
            "remote hung up".into()
        } else {
            String::new()
        },
        ended_by_us: false,
        answered_at_ms: (state != CallState::Calling).then_some(1_764_662_400_000),
    }
}

/// One event of every kind.
pub fn event_examples() -> Vec<Event> {
    vec![
        Event::Started {
            user: "1001".into(),
        },
        Event::Account {
            user: "1001".into(),
        },
        Event::Registration(Registration::Registered { expires_s: 600 }),
        Event::Registration(Registration::Failed {
            code: 401,
            reason: "Unauthorized (credentials rejected)".into(),
            retry_in_ms: Some(5000),
        }),
        Event::CapabilityResponse {
            code: 200,
            reason: "OK".into(),
            allow: Some("INVITE, ACK, BYE, CANCEL, OPTIONS".into()),
        },
        Event::PublicAddress {
            addr: "203.0.113.7:5060".into(),
        },
        call_event(CallState::Calling),
        call_event(CallState::Terminated),
        Event::CurrentLine {
            line: Some(2),
            cause: CurrentLineCause::Selected,
        },
        Event::Transfer {
            line: 1,
            step: TransferStep {
                role: TransferRole::Transferor,
                target: "1003".into(),
                state: TransferState::Progress,
                code: Some(180),
                reason: "Ringing".into(),
            },
        },
        Event::CallDiverted {
            line: 2,
            from: "1005".into(),
            reason: DiversionReason::Busy,
        },
        Event::ChatReceived {
            line: None,
            from: "1002".into(),
            display: "Bob".into(),
            text: "Sure, send it over.".into(),
        },
        Event::ChatDelivery {
            request: RequestId(16),
            to: "1002".into(),
            delivered: true,
            code: Some(200),
            reason: "200 OK".into(),
        },
        Event::ChatHistory {
            peer: "1002".into(),
            messages: vec![ChatMessage {
                at_ms: 1_764_000_000_000,
                peer: "1002".into(),
                outgoing: false,
                text: "Szia! Ünnep?".into(),
            }],
        },
        Event::Presence {
            user: "1002".into(),
            status: PresenceStatus::Dnd,
            note: "In a meeting till 3".into(),
        },
        Event::WatcherRequest {
            watcher: "sip:1002@pbx".into(),
        },
        Event::DialRequest {
            ticket: 41,
            origin: "https://crm.example.com".into(),
            target: "support (1002)".into(),
        },
        Event::DialDecision {
            ticket: 41,
            allow: true,
        },
        Event::Watchers {
            watchers: vec![
                Watcher {
                    address: "sip:1002@pbx".into(),
                    display: "Front desk".into(),
                    status: WatcherStatus::Active,
                    at_server: true,
                },
                Watcher {
                    address: "sip:1009@10.0.0.9".into(),
                    display: String::new(),
                    status: WatcherStatus::Pending,
                    at_server: false,
                },
            ],
        },
        Event::BusyLamp {
            user: "1005".into(),
            state: LampState::Ringing,
            pickup: true,
        },
        Event::Contacts {
            contacts: vec![Contact {
                id: 12,
                ..example_contact()
            }],
        },
        Event::ContactsFound {
            search: "ada".into(),
            contacts: vec![Contact {
                id: 12,
                ..example_contact()
            }],
        },
        Event::ContactsImported {
            added: 1,
            updated: 0,
            problems: vec!["row 3: no name and no number; skipped".into()],
        },
        Event::ContactsExported {
            format: ContactFormat::Csv,
            text: "Name,SIP URI,Speed dial,Notes\nBob,1003,,\n".into(),
        },
        Event::Voicemail(MessageWaiting {
            waiting: true,
            new: 2,
            old: 8,
            urgent_new: 1,
            urgent_old: 0,
        }),
        Event::Hold {
            line: 1,
            local: true,
            remote: false,
        },
        Event::Mute {
            line: 1,
            microphone: true,
            speaker: false,
        },
        Event::Conference {
            lines: vec![1, 2, 3],
        },
        Event::Playback {
            file: "/usr/share/sounds/prompts/please-hold.wav".into(),
            playing: true,
            error: None,
        },
        Event::Playback {
            file: "/tmp/missing.wav".into(),
            playing: false,
            error: Some("/tmp/missing.wav: No such file or directory (os error 2)".into()),
        },
        Event::Recording {
            line: 1,
            state: RecordingState::Started {
                path: "/home/agent/.local/share/softphone/recordings/20261207143000_1002.wav"
                    .into(),
            },
        },
        Event::Recording {
            line: 1,
            state: RecordingState::Stopped {
                path: "/home/agent/.local/share/softphone/recordings/20261207143000_1002.wav"
                    .into(),
                seconds: 95,
                limit: false,
            },
        },
        Event::Recording {
            line: 2,
            state: RecordingState::Failed {
                path: "/media/usb/recordings/20261207150000_1003.wav".into(),
                reason: "No space left on device (os error 28)".into(),
            },
        },
        Event::Media {
            line: 1,
            codec: "opus".into(),
            remote: "192.0.2.10:40000".into(),
            direction: MediaDirection::SendRecv,
            encryption: Some("AES_CM_128_HMAC_SHA1_80".into()),
        },
        Event::MediaStats {
            line: 1,
            stats: MediaStats {
                sent: 550,
                received: 548,
                lost: 2,
                jitter_ms: 1.5,
                rtt_ms: Some(12.5),
                concealed: 2,
                foreign_dropped: 0,
                srtp_refused: 0,
            },
        },
        Event::DtmfReceived {
            line: 1,
            digit: '5',
        },
        Event::InputLevel { level: 73 },
        Event::Devices {
            microphones: vec!["USB Headset".into()],
            speakers: vec!["USB Headset".into(), "Speakers".into()],
        },
        Event::DevicesSwitched {
            line: 1,
            microphone: "USB Headset".into(),
            speaker: "USB Headset".into(),
        },
        Event::TestSound {
            speaker: "Default".into(),
        },
        Event::Parameter {
            name: "maxlines".into(),
            value: "2".into(),
            source: Source::Server,
        },
        Event::Cdr(Cdr {
            line: 1,
            peer: "1002".into(),
            peer_display: "Bob".into(),
            caller: "1001".into(),
            called: "1002".into(),
            peer_address: "sip:1002@pbx.example.com".into(),
            outgoing: true,
            started_ms: 1_764_662_398_000,
            connect_ms: 2_000,
            duration_ms: 61_500,
            disc_party: DiscParty::Remote,
            reason: "remote hung up".into(),
            call_id: "a84b4c76e66710".into(),
        }),
        Event::Notice {
            severity: Severity::Warning,
            kind: NoticeKind::Security,
            text: "the server may not set playbackdevice (x-mparam); ignored".into(),
        },
        Event::Reply {
            id: RequestId(5),
            result: Reply::Line { line: 1 },
        },
        Event::Reply {
            id: RequestId(6),
            result: Reply::Failed {
                kind: NoticeKind::Call,
                message: "no call on line 3".into(),
            },
        },
        Event::Stopped,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The position of each variant, by an exhaustive match: a new variant does not compile
    /// until it is here, and the test then fails until it has an example.
    fn command_variant(c: &Command) -> usize {
        match c {
            Command::Register => 0,
            Command::Unregister => 1,
            Command::CapabilityRequest => 2,
            Command::Exit => 3,
            Command::Call { .. } => 4,
            Command::Hangup { .. } => 5,
            Command::Accept { .. } => 6,
            Command::Dtmf { .. } => 7,
            Command::SetLine { .. } => 8,
            Command::Hold { .. } => 9,
            Command::Mute { .. } => 10,
            Command::TestSound => 11,
            Command::InputLevel { .. } => 12,
            Command::ListDevices => 13,
            Command::SetParameters { .. } => 14,
            Command::Transfer { .. } => 15,
            Command::Forward { .. } => 16,
            Command::Blacklist { .. } => 17,
            Command::Park { .. } => 18,
            Command::Unpark { .. } => 19,
            Command::Pickup { .. } => 20,
            Command::SendChat { .. } => 21,
            Command::CheckVoicemail => 22,
            Command::CheckPresence { .. } => 23,
            Command::SetPresenceStatus { .. } => 24,
            Command::WatchBusyLamps { .. } => 25,
            Command::AllowWatcher { .. } => 26,
            Command::SaveContact { .. } => 27,
            Command::DeleteContact { .. } => 28,
            Command::SetContacts { .. } => 29,
            Command::GetContacts { .. } => 30,
            Command::ImportContacts { .. } => 31,
            Command::ExportContacts { .. } => 32,
            Command::GetChatHistory { .. } => 33,
            Command::AskToDial { .. } => 34,
            Command::ConfirmDial { .. } => 35,
            Command::Conference { .. } => 36,
            Command::Record { .. } => 37,
            Command::PlaySound { .. } => 38,
            Command::StopSound => 39,
        }
    }
    const COMMANDS: usize = 40;

    fn event_variant(e: &Event) -> usize {
        match e {
            Event::Started { .. } => 0,
            Event::Account { .. } => 1,
            Event::Registration(_) => 2,
            Event::CapabilityResponse { .. } => 3,
            Event::PublicAddress { .. } => 4,
            Event::Call { .. } => 5,
            Event::CurrentLine { .. } => 6,
            Event::Hold { .. } => 7,
            Event::Mute { .. } => 8,
            Event::Media { .. } => 9,
            Event::MediaStats { .. } => 10,
            Event::DtmfReceived { .. } => 11,
            Event::InputLevel { .. } => 12,
            Event::Devices { .. } => 13,
            Event::DevicesSwitched { .. } => 14,
            Event::TestSound { .. } => 15,
            Event::Parameter { .. } => 16,
            Event::Cdr(_) => 17,
            Event::Notice { .. } => 18,
            Event::Reply { .. } => 19,
            Event::Stopped => 20,
            Event::Transfer { .. } => 21,
            Event::CallDiverted { .. } => 22,
            Event::ChatReceived { .. } => 23,
            Event::ChatDelivery { .. } => 24,
            Event::Voicemail(_) => 25,
            Event::Presence { .. } => 26,
            Event::BusyLamp { .. } => 27,
            Event::WatcherRequest { .. } => 28,
            Event::Contacts { .. } => 29,
            Event::ContactsFound { .. } => 30,
            Event::ContactsImported { .. } => 31,
            Event::ContactsExported { .. } => 32,
            Event::ChatHistory { .. } => 33,
            Event::Watchers { .. } => 34,
            Event::DialRequest { .. } => 35,
            Event::DialDecision { .. } => 36,
            Event::Conference { .. } => 37,
            Event::Recording { .. } => 38,
            Event::Playback { .. } => 39,
        }
    }
    const EVENTS: usize = 40;

    #[test]
    fn every_command_round_trips_through_json() {
        let examples = command_examples();
        let mut seen = [false; COMMANDS];
        for r in &examples {
            seen[command_variant(&r.command)] = true;
            let json = serde_json::to_string(r).unwrap();
            let back: Request = serde_json::from_str(&json).unwrap();
            // A secret goes out masked: the JSON is stable, and only the secret differs.
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
            if !json.contains("***") {
                assert_eq!(&back, r, "{json}");
            }
            assert!(!json.contains("secret"), "a password in clear: {json}");
        }
        assert!(
            seen.iter().all(|s| *s),
            "a command without an example: {seen:?}"
        );
    }

    #[test]
    fn every_event_round_trips_through_json() {
        let mut seen = [false; EVENTS];
        for e in event_examples() {
            seen[event_variant(&e)] = true;
            let json = serde_json::to_string(&e).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(back, e, "{json}");
            assert!(json.starts_with("{\"type\":\""), "tagged by type: {json}");
        }
        for state in [
            CallState::Calling,
            CallState::Proceeding,
            CallState::Ringing,
            CallState::Incoming,
            CallState::Connecting,
            CallState::Connected,
            CallState::Terminating,
            CallState::Terminated,
        ] {
            let e = call_event(state);
            let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
            assert_eq!(back, e);
        }
        for r in [
            Registration::Registering,
            Registration::Unregistered,
            Registration::Registered { expires_s: 1 },
        ] {
            let e = Event::Registration(r);
            let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
            assert_eq!(back, e);
        }
        assert!(
            seen.iter().all(|s| *s),
            "an event without an example: {seen:?}"
        );
    }

    #[test]
    fn the_wire_format_is_snake_case_and_tagged() {
        let e = Event::Registration(Registration::Failed {
            code: 403,
            reason: "Forbidden".into(),
            retry_in_ms: None,
        });
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"registration","state":"failed","code":403,"reason":"Forbidden","retry_in_ms":null}"#
        );
        let c: Request = serde_json::from_str(
            r#"{"id":3,"type":"mute","line":1,"on":false,"direction":"both"}"#,
        )
        .unwrap();
        assert_eq!(
            c.command,
            Command::Mute {
                line: 1,
                on: false,
                direction: MuteDirection::Both
            }
        );
    }
}

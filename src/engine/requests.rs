//! The driver's answer to each command: carried out (or refused) and replied to under the
//! request's id. A call whose target is a host name is resolved in a task of its own and
//! dialled (and replied to) when the answer comes back.

use super::driver::Engine;
use super::level::LevelMeter;
use super::media::RtpSockets;
use super::worker::Done;
use crate::model::{Command, ConferenceOp, NoticeKind, Reply, Request, RequestId};
use crate::phone::Refused;
use crate::phone::feature_codes::FeatureCodes;
use crate::sip::transport::Destination;
use crate::sip::ua::UaCommand;
use std::time::Instant;

fn failed(kind: NoticeKind, message: impl Into<String>) -> Reply {
    Reply::Failed {
        kind,
        message: message.into(),
    }
}

impl From<Refused> for Reply {
    fn from(r: Refused) -> Reply {
        failed(r.kind, r.message)
    }
}

fn done_or(result: Result<(), Refused>) -> Reply {
    result.map_or_else(Reply::from, |()| Reply::Done)
}

impl Engine {
    /// Carries out one request and replies (a call to a host name replies once resolved).
    pub(super) async fn handle_request(&mut self, Request { id, command }: Request) {
        let now = Instant::now();
        let call_error = |e: &dyn std::fmt::Display| failed(NoticeKind::Call, e.to_string());
        let reply = match command {
            Command::Register => self.ua_command(now, UaCommand::Register),
            Command::Unregister => self.ua_command(now, UaCommand::Unregister),
            Command::CapabilityRequest => self.ua_command(now, UaCommand::CapabilityRequest),
            Command::Exit => {
                // What was kept reaches the disk first (a quick job or two; we are leaving).
                self.worker.flush(std::time::Duration::from_secs(2)).await;
                self.ua_command(Instant::now(), UaCommand::Shutdown)
            }
            Command::Call { number } => return self.place(id, number).await,
            Command::Accept { line } => match self.answer(line).await {
                Ok(()) => Reply::Done,
                Err(e) => failed(NoticeKind::Call, e),
            },
            Command::Hangup { line } => self
                .ua
                .hangup(now, line)
                .map_or_else(|e| call_error(&e), |()| Reply::Done),
            Command::Transfer { line, target } => self
                .ua
                .transfer(now, line, &target)
                .map_or_else(|e| call_error(&e), |()| Reply::Done),
            Command::Park { line, orbit } => {
                match FeatureCodes::from_settings(&self.settings).park_target(&orbit) {
                    Ok(target) => self
                        .ua
                        .transfer(now, line, &target)
                        .map_or_else(|e| call_error(&e), |()| Reply::Done),
                    Err(r) => r.into(),
                }
            }
            Command::Unpark { orbit } => {
                match FeatureCodes::from_settings(&self.settings).unpark_number(&orbit) {
                    Ok(number) => return self.place(id, number).await,
                    Err(r) => r.into(),
                }
            }
            Command::CheckPresence { users } => match self.ua.watch_presence(now, &users) {
                Ok(()) => Reply::Done,
                Err(e) => failed(NoticeKind::Subscription, e),
            },
            Command::WatchBusyLamps { users } => match self.ua.watch_busy_lamps(now, &users) {
                Ok(()) => Reply::Done,
                Err(e) => failed(NoticeKind::Subscription, e),
            },
            // The engine only relays these between the control API and the window, so that
            // both see them as ordinary events.
            Command::AskToDial {
                origin,
                target,
                call_when_allowed,
            } => {
                if call_when_allowed {
                    self.links_to_confirm.insert(id.0, target.clone());
                }
                self.reporter.send(crate::model::Event::DialRequest {
                    ticket: id.0,
                    origin,
                    target,
                });
                Reply::Done
            }
            Command::ConfirmDial { ticket, allow } => {
                self.reporter
                    .send(crate::model::Event::DialDecision { ticket, allow });
                // A clicked link's call is ours to place; this request's reply is the call's.
                if let Some(number) = self.links_to_confirm.remove(&ticket)
                    && allow
                {
                    return self.place(id, number).await;
                }
                Reply::Done
            }
            Command::AllowWatcher { watcher, allow } => {
                if self.ua.allow_watcher(now, &watcher, allow) {
                    Reply::Done
                } else {
                    failed(
                        NoticeKind::Subscription,
                        format!("{watcher} does not wait for an answer"),
                    )
                }
            }
            Command::SetPresenceStatus { status } => {
                self.ua.set_presence(now, status);
                Reply::Done
            }
            Command::CheckVoicemail => match self.settings.text("voicemailnum").trim() {
                "" => failed(
                    NoticeKind::Call,
                    "no voicemail number: set voicemailnum (or let the server push it)",
                ),
                number => return self.place(id, number.to_string()).await,
            },
            // A lamp that shows this extension's ringing call with its identifiers: replace
            // exactly that call. Otherwise the PBX's feature code does it.
            Command::Pickup { extension } if self.ua.lamp_pickup(&extension).is_some() => {
                return self.pick_up_from_lamp(id, &extension).await;
            }
            Command::Pickup { extension } => {
                match FeatureCodes::from_settings(&self.settings).pickup_number(&extension) {
                    Ok(number) => return self.place(id, number).await,
                    Err(r) => r.into(),
                }
            }
            Command::Forward { line, target } => self
                .ua
                .forward(now, line, &target)
                .map_or_else(|e| call_error(&e), |()| Reply::Done),
            Command::SendChat { peer, text } => {
                self.ua.send_message(now, id.0, &peer, &text).map_or_else(
                    |e| failed(NoticeKind::Chat, e.to_string()),
                    |()| Reply::Done,
                )
            }
            Command::Conference {
                op: ConferenceOp::Add { number },
            } => match self.phone.may_add_to_conference() {
                Ok(()) => {
                    self.conference_dials.insert(id);
                    return self.place(id, number).await;
                }
                Err(r) => r.into(),
            },
            Command::Conference { op } => done_or(self.phone.conference(&op)),
            Command::PlaySound {
                file,
                looped,
                local,
                remote,
                line,
            } => {
                if !local && !remote {
                    failed(
                        NoticeKind::AudioDevice,
                        "PlaySound: neither local nor remote",
                    )
                } else {
                    let targets = crate::audio::player::PlayTargets {
                        speaker: local,
                        calls: remote.then_some(line),
                    };
                    self.worker.run(move |_| {
                        let sound = crate::audio::player::Sound::load(std::path::Path::new(&file));
                        Some(Done::Sound {
                            file,
                            sound,
                            looped,
                            targets,
                        })
                    });
                    Reply::Done
                }
            }
            Command::StopSound => {
                self.calls.audio.stop_play();
                if let Some(file) = self.playing.take() {
                    self.reporter.send(crate::model::Event::Playback {
                        file,
                        playing: false,
                        error: None,
                    });
                }
                Reply::Done
            }
            Command::Record { line, on, name } => {
                done_or(self.phone.record(line, on, &name, super::driver::unix_ms()))
            }
            Command::SetLine { line } => done_or(self.phone.set_line(line)),
            Command::Mute {
                line,
                on,
                direction,
            } => done_or(self.phone.mute(line, on, direction)),
            Command::Hold { line, on } => self
                .ua
                .hold(now, line, on)
                .map_or_else(|e| call_error(&e), |()| Reply::Done),
            Command::Dtmf { line, digits } => match self.phone.dtmf_routes(line) {
                Err(r) => r.into(),
                Ok((by_rtp, by_info)) => {
                    if by_rtp {
                        self.calls.dtmf(line, &digits);
                    }
                    if by_info {
                        self.ua
                            .send_dtmf_info(now, line, &digits)
                            .map_or_else(|e| call_error(&e), |()| Reply::Done)
                    } else {
                        Reply::Done
                    }
                }
            },
            Command::TestSound => match self.calls.test_sound(&self.reporter) {
                Ok(()) => Reply::Done,
                Err(e) => failed(NoticeKind::AudioDevice, e),
            },
            Command::InputLevel { on } => self.input_level(on).await,
            Command::ListDevices => {
                self.worker.run(move |_| {
                    let (microphones, speakers) = crate::audio::device::list_devices();
                    Some(Done::Devices {
                        id,
                        microphones,
                        speakers,
                    })
                });
                return;
            }
            contacts @ (Command::SaveContact { .. }
            | Command::DeleteContact { .. }
            | Command::SetContacts { .. }
            | Command::GetContacts { .. }
            | Command::ImportContacts { .. }
            | Command::ExportContacts { .. }
            | Command::GetChatHistory { .. }) => {
                self.contacts_request(id, contacts);
                return;
            }
            Command::Blacklist { change } => {
                let before = self.settings.text("blacklist");
                let after = change.apply(&before).join(",");
                if after == before {
                    self.reporter.send(crate::model::Event::Parameter {
                        name: "blacklist".into(),
                        value: after,
                        source: self.settings.source("blacklist"),
                    });
                } else {
                    let value = crate::model::ParamValue::new("blacklist", after);
                    self.set_parameters(&[value], crate::model::Source::Runtime, true);
                }
                Reply::Done
            }
            Command::SetParameters { values, persist } => {
                self.set_parameters(&values, crate::model::Source::Runtime, persist);
                Reply::Done
            }
        };
        self.reporter.reply(id, reply);
    }

    fn ua_command(&mut self, now: Instant, cmd: UaCommand) -> Reply {
        self.ua.handle_command(now, cmd);
        Reply::Done
    }

    /// Starts or stops the microphone level meter (not while a call holds the microphone).
    async fn input_level(&mut self, on: bool) -> Reply {
        if let Some(m) = self.meter.take() {
            m.stop().await;
        }
        if !on {
            return Reply::Done;
        }
        if self.phone.media_running() {
            return failed(
                NoticeKind::AudioDevice,
                "the level meter does not run while a call uses the microphone",
            );
        }
        match crate::audio::open_source(&self.calls.prefs.record) {
            Ok(source) => {
                self.meter = Some(LevelMeter::start(source, self.events().clone()));
                Reply::Done
            }
            Err(e) => failed(NoticeKind::AudioDevice, format!("level meter: {e:#}")),
        }
    }

    /// A call could not be placed: the reply says so.
    pub(super) fn call_failed(&mut self, id: RequestId, message: String) {
        self.conference_dials.remove(&id);
        self.reporter.reply(id, failed(NoticeKind::Call, message));
    }

    /// Places a call (an empty number redials): binds its RTP, and resolves a host name first
    /// when there is no server (in a task; the dial follows when the answer is back).
    pub(super) async fn place(&mut self, id: RequestId, number: String) {
        let socket = match self.calls.bind().await {
            Ok((s, _)) => s,
            Err(e) => return self.call_failed(id, format!("call {number}: {e:#}")),
        };
        let Some((host, port)) = self.ua.direct_host(&number) else {
            return self.dial(id, &number, socket, None);
        };
        self.pending_dials.insert(id, socket);
        let dns = self.dns.clone();
        let results = self.worker.results();
        tokio::spawn(async move {
            let result = dns
                .resolve(&format!("{host}:{port}"), 5060)
                .await
                .map_err(|e| format!("{e:#}"));
            let _ = results.send(Done::CallTarget { id, number, result });
        });
    }

    /// Picks up the ringing call a busy lamp shows at `extension` (INVITE with Replaces to
    /// the caller's side, through our server when there is one).
    async fn pick_up_from_lamp(&mut self, id: RequestId, extension: &str) {
        let Some(dialog) = self.ua.lamp_pickup(extension) else {
            return self.call_failed(id, format!("no ringing call at {extension} to pick up"));
        };
        let (socket, port) = match self.calls.bind().await {
            Ok(bound) => bound,
            Err(e) => return self.call_failed(id, format!("pick up at {extension}: {e:#}")),
        };
        match self.ua.pickup_dialog(Instant::now(), &dialog, port, None) {
            Ok(line) => {
                self.calls.sockets.insert(line, socket);
                self.reporter.reply(id, Reply::Line { line });
            }
            Err(e) => self.call_failed(id, e.to_string()),
        }
    }

    /// Dials with the RTP sockets bound for the call.
    pub(super) fn dial(
        &mut self,
        id: RequestId,
        number: &str,
        socket: RtpSockets,
        via: Option<Destination>,
    ) {
        let port = socket.rtp.local_addr().map(|a| a.port()).unwrap_or(0);
        match self.ua.dial_via(Instant::now(), number, port, via) {
            Ok(line) => {
                self.calls.sockets.insert(line, socket);
                if self.conference_dials.remove(&id) {
                    self.phone.join_conference_when_answered(line);
                }
                self.reporter.reply(id, Reply::Line { line });
            }
            Err(e) => self.call_failed(id, e.to_string()),
        }
    }

    /// Places the call the far end of `line` asked for by REFER, with freshly bound RTP
    /// sockets; the UA tells the transferor how it goes (also when it cannot be placed).
    pub(super) async fn follow_refer(&mut self, line: u32) {
        let (socket, port) = match self.calls.bind().await {
            Ok(bound) => bound,
            Err(e) => {
                let why = format!("no media port: {e:#}");
                self.reporter.error(
                    NoticeKind::Call,
                    format!("transfer from line {line}: {why}"),
                );
                return self.ua.refer_call_failed(Instant::now(), line, &why);
            }
        };
        match self.ua.follow_refer(Instant::now(), line, port, None) {
            Ok(new_line) => {
                self.calls.sockets.insert(new_line, socket);
            }
            Err(e) => self
                .reporter
                .error(NoticeKind::Call, format!("transfer from line {line}: {e}")),
        }
    }

    /// Answers the ringing call on `line` with freshly bound RTP sockets.
    pub(super) async fn answer(&mut self, line: u32) -> Result<(), String> {
        let (socket, port) = self
            .calls
            .bind()
            .await
            .map_err(|e| format!("answer line {line}: {e:#}"))?;
        self.calls.sockets.insert(line, socket);
        self.ua.answer(Instant::now(), line, port).map_err(|e| {
            self.calls.sockets.remove(&line);
            e.to_string()
        })
    }
}

//! The engine's command/event API: what every face (headless console, control API, window)
//! sends in and gets out. Events format to the notification lines of the reference
//! (`STATUS,-1,Registered,...`), which is what headless mode prints.

use serde::{Deserialize, Serialize};

/// Commands any face may give the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Register with the configured server (API_Register with no arguments).
    Register,
    /// Remove the registration (API_Unregister).
    Unregister,
    /// Send OPTIONS to the server (API_CapabilityRequest).
    CapabilityRequest,
    /// Unregister if configured, then stop (API_Exit, Ctrl-C, SIGTERM).
    Exit,
    /// Call a number, user or SIP URI (API_Call).
    Call { number: String },
    /// Hang up, cancel or reject the call on a line (API_Hangup).
    Hangup { line: u32 },
    /// Answer the ringing call on a line (API_Accept).
    Accept { line: u32 },
    /// Send DTMF digits on a line; a space is a pause (API_Dtmf).
    Dtmf { line: u32, digits: String },
    /// Make a line the current one (API_SetLine); `autohold`/`automute` 4 act on the switch.
    SetLine { line: u32 },
    /// Put a line on hold or resume it (API_Hold).
    Hold { line: u32, on: bool },
    /// Mute or unmute a line (API_MuteEx): direction 0 or 3 both ways, 1 the speaker, 2 the
    /// microphone, 4 the `defmute` default.
    Mute { line: u32, on: bool, direction: u8 },
    /// Play a short ring on the speaker (`playbackdevice`), to check it (the audio settings'
    /// test button).
    TestSound,
    /// Start or stop the microphone level meter (reported as [`Event::InputLevel`]); it
    /// does not run while a call holds the microphone.
    InputLevel { on: bool },
    /// Change parameters while running (API_SetParameter(s); the window's settings; a later
    /// launch), applied together. With `persist` they are also kept in the settings file (a
    /// password goes to the keyring instead).
    SetParameters {
        values: Vec<(String, String)>,
        persist: bool,
    },
}

impl Command {
    /// Parses one command line of headless mode: `Call,1002`, `Hangup,1`, `Accept,1`,
    /// `Dtmf,1,123#`, `Hold,1,on`, `Hold,1,off`, `SetParameter,name,value` (this run),
    /// `SaveParameter,name,value` (also kept), `TestSound`, `InputLevel,on|off`, `Register`, `Unregister`, `CapabilityRequest`,
    /// `Exit` (verbs in any case).
    pub fn parse_line(line: &str) -> Result<Command, String> {
        let mut parts = line.trim().splitn(3, ',');
        let verb = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let arg = parts.next().map(str::trim);
        let rest = parts.next();
        let line_no = |a: Option<&str>| -> Result<u32, String> {
            a.and_then(|v| v.parse::<u32>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("{verb}: a line number (1, 2, ...) is needed"))
        };
        Ok(match verb.as_str() {
            "call" => Command::Call {
                number: arg
                    .filter(|a| !a.is_empty())
                    .ok_or("call: a number is needed")?
                    .to_string(),
            },
            "hangup" => Command::Hangup {
                line: line_no(arg)?,
            },
            "accept" => Command::Accept {
                line: line_no(arg)?,
            },
            "dtmf" => Command::Dtmf {
                line: line_no(arg)?,
                digits: rest
                    .filter(|d| !d.is_empty())
                    .ok_or("dtmf: digits are needed")?
                    .to_string(),
            },
            "hold" => Command::Hold {
                line: line_no(arg)?,
                on: match rest.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
                    None | Some("on" | "true" | "1") => true,
                    Some("off" | "false" | "0") => false,
                    Some(other) => return Err(format!("hold: {other:?} is not on or off")),
                },
            },
            "mute" => {
                let mut it = rest.unwrap_or("on").splitn(2, ',').map(str::trim);
                let on = match it.next().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("" | "on" | "true" | "1") => true,
                    Some("off" | "false" | "0") => false,
                    Some(other) => return Err(format!("mute: {other:?} is not on or off")),
                };
                let direction = match it.next() {
                    None => 4,
                    Some(d) => d
                        .parse::<u8>()
                        .ok()
                        .filter(|d| *d <= 4)
                        .ok_or_else(|| format!("mute: direction {d:?} is not 0-4"))?,
                };
                Command::Mute {
                    line: line_no(arg)?,
                    on,
                    direction,
                }
            }
            "setline" | "line" => Command::SetLine {
                line: line_no(arg)?,
            },
            "setparameter" | "saveparameter" => {
                let name = arg
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| format!("{verb}: a parameter name is needed"))?;
                Command::SetParameters {
                    values: vec![(name.to_string(), rest.unwrap_or("").to_string())],
                    persist: verb == "saveparameter",
                }
            }
            "testsound" => Command::TestSound,
            "inputlevel" => Command::InputLevel {
                on: match arg.map(str::to_ascii_lowercase).as_deref() {
                    None | Some("on" | "true" | "1") => true,
                    Some("off" | "false" | "0") => false,
                    Some(other) => return Err(format!("inputlevel: {other:?} is not on or off")),
                },
            },
            "register" => Command::Register,
            "unregister" => Command::Unregister,
            "capabilityrequest" => Command::CapabilityRequest,
            "exit" => Command::Exit,
            "" => return Err("empty command".into()),
            other => return Err(format!("unknown command {other:?}")),
        })
    }
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscParty {
    /// We did (hung up, cancelled, rejected, one of our timeouts).
    Local,
    /// The far end, its server or the network.
    Remote,
}

impl DiscParty {
    /// The number in the CDR line: 1 local, 2 remote.
    pub fn code(self) -> u8 {
        match self {
            DiscParty::Local => 1,
            DiscParty::Remote => 2,
        }
    }
}

/// A call detail record: what the history keeps of a finished call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    pub line: u32,
    /// The peer as shown (user part or number) and its display name.
    pub peer: String,
    pub peer_display: String,
    /// Who called whom (user parts).
    pub caller: String,
    pub called: String,
    /// The peer's SIP address.
    pub peer_address: String,
    pub outgoing: bool,
    /// When the call started, in milliseconds since the Unix epoch.
    pub started_ms: i64,
    /// From start to answer, 0 when never answered.
    pub connect_ms: u64,
    /// From answer to end, 0 when never answered.
    pub duration_ms: u64,
    pub disc_party: DiscParty,
    pub reason: String,
    pub call_id: String,
}

/// Events the engine reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// `START,sip`: the SIP stack is up (sockets bound).
    Start,
    /// `STATUS,line,text,peer,local,endpointtype,peerdisplay,callid`; line -1 is the global one.
    Status {
        line: i32,
        text: String,
        peer: String,
        local: String,
        endpoint_type: u8,
        peer_display: String,
        call_id: String,
    },
    /// `EVENT,text`: something worth telling.
    Info(String),
    /// `WARNING,text`.
    Warning(String),
    /// `ERROR,text`.
    Error(String),
    /// Hold changed on a line: we hold the far end (`local`), it holds us (`remote`). For
    /// front ends; the notification is the `EVENT,Line N on hold` line that accompanies it.
    Hold {
        line: u32,
        local: bool,
        remote: bool,
    },
    /// Mute changed on a line (for front ends; `EVENT,Line N muted ...` accompanies it).
    Mute {
        line: u32,
        microphone: bool,
        speaker: bool,
    },
    /// The microphone level meter: the loudest of the last 100 ms, 0-100 on a dB scale
    /// (`LOG,INPUTLEVEL,n`).
    InputLevel(u8),
    /// A call ended: its record for the history (`CDR,...`).
    Cdr(Cdr),
    /// A parameter's effective value changed while running (secrets shown as `***`), so that
    /// every front end can show it: `EVENT,parameter name=value (source)`.
    Parameter {
        name: String,
        value: String,
        source: crate::config::Source,
    },
    /// The engine has stopped; nothing follows.
    Stopped,
}

impl Event {
    /// A global (line -1) status with only the text set.
    pub fn global_status(text: &str, local: &str) -> Event {
        Event::Status {
            line: -1,
            text: text.to_string(),
            peer: String::new(),
            local: local.to_string(),
            endpoint_type: 0,
            peer_display: String::new(),
            call_id: String::new(),
        }
    }

    /// The notification line, or `None` for events that have none.
    pub fn to_notification(&self) -> Option<String> {
        // Fields are comma separated; commas and line breaks inside a field would break the
        // format, so they are replaced.
        let f = |s: &str| s.replace([',', '\r', '\n'], " ");
        Some(match self {
            Event::Start => "START,sip".to_string(),
            Event::Status {
                line,
                text,
                peer,
                local,
                endpoint_type,
                peer_display,
                call_id,
            } => format!(
                "STATUS,{line},{},{},{},{endpoint_type},{},{}",
                f(text),
                f(peer),
                f(local),
                f(peer_display),
                f(call_id)
            ),
            Event::Info(t) => format!("EVENT,{}", f(t)),
            Event::Warning(t) => format!("WARNING,{}", f(t)),
            Event::Error(t) => format!("ERROR,{}", f(t)),
            Event::InputLevel(n) => format!("LOG,INPUTLEVEL,{n}"),
            Event::Cdr(c) => format!(
                "CDR,{},{},{},{},{},{},{},{},{}",
                c.line,
                f(&c.peer),
                f(&c.caller),
                f(&c.called),
                f(&c.peer_address),
                c.connect_ms,
                c.duration_ms,
                c.disc_party.code(),
                f(&c.reason)
            ),
            Event::Parameter {
                name,
                value,
                source,
            } => format!("EVENT,parameter {name}={} ({})", f(value), source.label()),
            Event::Stopped | Event::Hold { .. } | Event::Mute { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(
            Command::parse_line("Call,1002"),
            Ok(Command::Call {
                number: "1002".into()
            })
        );
        assert_eq!(
            Command::parse_line(" dtmf,2,12 3#"),
            Ok(Command::Dtmf {
                line: 2,
                digits: "12 3#".into()
            })
        );
        assert_eq!(Command::parse_line("EXIT"), Ok(Command::Exit));
        assert_eq!(
            Command::parse_line("Hold,1,off"),
            Ok(Command::Hold { line: 1, on: false })
        );
        assert_eq!(
            Command::parse_line("hold,2"),
            Ok(Command::Hold { line: 2, on: true })
        );
        assert!(Command::parse_line("hold,1,maybe").is_err());
        assert_eq!(
            Command::parse_line("Mute,1,on,2"),
            Ok(Command::Mute {
                line: 1,
                on: true,
                direction: 2
            })
        );
        assert_eq!(
            Command::parse_line("mute,1,off"),
            Ok(Command::Mute {
                line: 1,
                on: false,
                direction: 4
            })
        );
        assert!(Command::parse_line("mute,1,on,7").is_err());
        assert_eq!(
            Command::parse_line("SetLine,2"),
            Ok(Command::SetLine { line: 2 })
        );
        assert!(Command::parse_line("hangup,0").is_err());
        assert!(Command::parse_line("hangup,x").is_err());
        assert!(Command::parse_line("dtmf,1").is_err());
        assert!(Command::parse_line("call,").is_err());
        assert!(Command::parse_line("fly,1").is_err());
        assert_eq!(
            Command::parse_line("SetParameter,voicemailnum,*97,1"),
            Ok(Command::SetParameters {
                values: vec![("voicemailnum".into(), "*97,1".into())],
                persist: false
            })
        );
        assert_eq!(
            Command::parse_line("saveparameter,maxlines,2"),
            Ok(Command::SetParameters {
                values: vec![("maxlines".into(), "2".into())],
                persist: true
            })
        );
        assert!(Command::parse_line("SetParameter").is_err());
    }

    #[test]
    fn notification_lines() {
        assert_eq!(
            Event::global_status("Registered", "1001")
                .to_notification()
                .unwrap(),
            "STATUS,-1,Registered,,1001,0,,"
        );
        assert_eq!(
            Event::Error("Register failed: 403 Forbidden, bad\r\nline".into())
                .to_notification()
                .unwrap(),
            "ERROR,Register failed: 403 Forbidden  bad  line"
        );
    }
}

//! What one request for one of the reference's API verbs (`API_Call`, `GetStatus`, ...)
//! means: commands for the engine, a dial that the click-to-call policy decides,
//! or an answer read from the shared [`PhoneState`]. Sans-IO: the HTTP and text listeners
//! give it the verb and its parameters, it gives back a [`Plan`] or a [`VerbError`].
//!
//! Commands are written as the text protocol's lines and read by [`crate::api::lines`], so
//! the API, standard input and the single-instance hand-over take the same verbs by the same
//! rules; only line addressing (-1 current, -2 all) and the reference's parameter order are
//! handled here.

use crate::api::lines::parse_line;
use crate::model::{Command, PhoneState};
use serde_json::{Value, json};

pub use super::verb_table::{Access, VERBS, VerbDef, VerbKind, find, readme_table};

/// A request for a verb: its name and its parameters, named (`line=1`) or positional
/// (`param1=1`, or the text protocol's fields), in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerbCall {
    pub verb: String,
    pub params: Vec<(String, String)>,
}

impl VerbCall {
    /// The value of `def`'s parameter number `i`: by name, or as `param{i+1}`.
    fn get(&self, def: &VerbDef, i: usize) -> Option<&str> {
        let name = def.params.get(i)?;
        let positional = format!("param{}", i + 1);
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name) || k.eq_ignore_ascii_case(&positional))
            .map(|(_, v)| v.as_str())
    }

    /// Parameters past the table's last one (`param4`, ... for a list verb), in order.
    fn extra(&self, def: &VerbDef) -> Vec<&str> {
        let mut extra: Vec<(usize, &str)> = self
            .params
            .iter()
            .filter_map(|(k, v)| {
                let n: usize = k.to_ascii_lowercase().strip_prefix("param")?.parse().ok()?;
                (n > def.params.len()).then_some((n, v.as_str()))
            })
            .collect();
        extra.sort_by_key(|(n, _)| *n);
        extra.into_iter().map(|(_, v)| v).collect()
    }
}

/// Why a request for a verb cannot be carried out; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerbError {
    /// 404: no such verb.
    #[error("unknown verb {0:?}")]
    NotFound(String),
    /// 501: the verb's feature is not in this version.
    #[error("{verb}: {what} is not supported by this version")]
    NotSupported { verb: &'static str, what: String },
    /// 400: a parameter is missing or malformed.
    #[error("{0}")]
    Bad(String),
    /// 403: this client may not do that.
    #[error("{0}")]
    Forbidden(String),
    /// 409: the phone is not in a state where it makes sense (no call on the line, ...).
    #[error("{0}")]
    Conflict(String),
}

impl VerbError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            VerbError::NotFound(_) => 404,
            VerbError::NotSupported { .. } => 501,
            VerbError::Bad(_) => 400,
            VerbError::Forbidden(_) => 403,
            VerbError::Conflict(_) => 409,
        }
    }
}

/// What a request comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Commands for the engine, in order (one per line for -2).
    Commands(Vec<Command>),
    /// A call to `number` (empty: redial), which the caller's click-to-call policy decides.
    Dial { number: String },
    /// The answer, from the state.
    Answer(Value),
    /// The caller's queued notification lines (`Poll`), for `client`.
    Poll { client: String },
}

/// The lines a request addresses: absent, empty or -1 the current line (the ringing or
/// lowest line with a call when none is chosen), -2 every line with a call, else that line.
fn lines_for(state: &PhoneState, value: Option<&str>, verb: &str) -> Result<Vec<u32>, VerbError> {
    match value.map(str::trim).unwrap_or("") {
        "" | "-1" | "0" => state
            .active_line()
            .map(|l| vec![l])
            .ok_or_else(|| VerbError::Conflict(format!("{verb}: no line has a call"))),
        "-2" => Ok(state.lines.keys().copied().collect()),
        n => match n.parse::<u32>() {
            Ok(l) if l >= 1 => Ok(vec![l]),
            _ => Err(VerbError::Bad(format!(
                "{verb}: line {n:?} is not -2 (all), -1 (current) or a line number"
            ))),
        },
    }
}

/// One line for a query: -1 picks the current (or ringing) one; -2 makes no sense here.
fn one_line(state: &PhoneState, value: Option<&str>, verb: &str) -> Result<Option<u32>, VerbError> {
    match value.map(str::trim).unwrap_or("") {
        "" | "-1" | "0" => Ok(state
            .active_line()
            .or_else(|| state.incoming().map(|(n, _)| n))),
        n => n
            .parse::<u32>()
            .ok()
            .filter(|l| *l >= 1)
            .map(Some)
            .ok_or_else(|| {
                VerbError::Bad(format!("{verb}: line {n:?} is not -1 or a line number"))
            }),
    }
}

/// Reads one text-protocol line, as standard input would.
fn text(line: String) -> Result<Command, VerbError> {
    parse_line(&line).map_err(VerbError::Bad)
}

/// A field of a text line: commas would split it.
fn field<'a>(verb: &str, name: &str, value: &'a str) -> Result<&'a str, VerbError> {
    if value.contains([',', '\r', '\n']) {
        return Err(VerbError::Bad(format!(
            "{verb}: {name} cannot contain commas or line breaks"
        )));
    }
    Ok(value.trim())
}

/// Whether a parameter may be changed through the API at all: the API's own settings (its
/// port, token policy, allowed origins) are not, or a client could widen its own rights.
pub fn settable_by_api(name: &str) -> bool {
    !name.trim().to_ascii_lowercase().starts_with("wpapi")
}

/// The device parameters by the reference's `dev` number: microphone, speaker, ringer.
const DEVICES: [&str; 3] = ["recorddevice", "playbackdevice", "ringerdevice"];
/// The volume parameters by `dev` number.
const VOLUMES: [&str; 3] = ["volumein", "volumeout", "volumering"];

/// The parameter a device number (`dev`) stands for, from `names` (microphone, speaker,
/// ringer).
fn device_param(
    verb: &str,
    dev: Option<&str>,
    names: [&'static str; 3],
) -> Result<&'static str, VerbError> {
    match dev.map(str::trim).unwrap_or("") {
        "0" => Ok(names[0]),
        "1" | "" => Ok(names[1]),
        "2" => Ok(names[2]),
        d => Err(VerbError::Bad(format!(
            "{verb}: dev {d:?} is 0 (microphone), 1 (speaker) or 2 (ringer)"
        ))),
    }
}

/// What `call` means now, for a client with `access`.
pub fn plan(call: &VerbCall, state: &PhoneState, access: Access) -> Result<Plan, VerbError> {
    let def = find(&call.verb).ok_or_else(|| VerbError::NotFound(call.verb.clone()))?;
    if def.kind == VerbKind::NotSupported {
        return Err(VerbError::NotSupported {
            verb: def.name,
            what: def.help.to_string(),
        });
    }
    if def.access == Access::Local && access == Access::Web {
        return Err(VerbError::Forbidden(format!(
            "{}: not allowed from a web page (only for local programs)",
            def.name
        )));
    }
    let p = |i: usize| call.get(def, i);
    let name = def.name;
    let per_line = |text_verb: &str, rest: &str| -> Result<Plan, VerbError> {
        let lines = lines_for(state, p(0), name)?;
        lines
            .into_iter()
            .map(|l| text(format!("{text_verb},{l}{rest}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Plan::Commands)
    };
    // List verbs: `list=a,b` or the positional params one by one.
    let list = || -> Vec<String> {
        let mut items: Vec<String> = p(0)
            .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        items.extend(call.extra(def).into_iter().map(|s| s.trim().to_string()));
        items.retain(|s| !s.is_empty());
        items
    };
    let bool_word = |i: usize, default: bool| -> Result<bool, VerbError> {
        match p(i).map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") => Ok(default),
            Some("1" | "true" | "on" | "yes") => Ok(true),
            Some("0" | "false" | "off" | "no") => Ok(false),
            Some(other) => Err(VerbError::Bad(format!(
                "{name}: {other:?} is not true or false"
            ))),
        }
    };
    let one = |s: String| Ok(Plan::Commands(vec![text(s)?]));
    match def.name {
        "Call" => {
            match p(0).map(str::trim).unwrap_or("") {
                "" | "-1" | "0" => {}
                l => {
                    return Err(VerbError::NotSupported {
                        verb: name,
                        what: format!("calling on a chosen line ({l}); use -1"),
                    });
                }
            }
            Ok(Plan::Dial {
                number: field(name, "peer", p(1).unwrap_or(""))?.to_string(),
            })
        }
        "Hangup" => {
            if p(1).is_some_and(|r| !r.trim().is_empty()) {
                return Err(VerbError::NotSupported {
                    verb: name,
                    what: "a hang-up reason".into(),
                });
            }
            per_line("Hangup", "")
        }
        "Accept" => per_line("Accept", ""),
        "Reject" => {
            let lines = lines_for(state, p(0), name)?;
            let mut out = Vec::new();
            for l in lines {
                if !state.lines.get(&l).is_some_and(|s| s.is_incoming()) {
                    return Err(VerbError::Conflict(format!(
                        "Reject: line {l} has no ringing incoming call"
                    )));
                }
                out.push(text(format!("Hangup,{l}"))?);
            }
            Ok(Plan::Commands(out))
        }
        "Hold" => per_line("Hold", if bool_word(1, true)? { ",on" } else { ",off" }),
        "HoldChange" => {
            let lines = lines_for(state, p(0), name)?;
            let out = lines
                .into_iter()
                .map(|l| {
                    let held = state.lines.get(&l).is_some_and(|s| s.hold_local);
                    text(format!("Hold,{l},{}", if held { "off" } else { "on" }))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Plan::Commands(out))
        }
        "Mute" | "MuteEx" => {
            let on = if bool_word(1, true)? { "on" } else { "off" };
            let dir = field(name, "direction", p(2).unwrap_or(""))?;
            let rest = if dir.is_empty() {
                format!(",{on}")
            } else {
                format!(",{on},{dir}")
            };
            per_line("Mute", &rest)
        }
        "Dtmf" => {
            let digits = field(name, "digits", p(1).unwrap_or(""))?;
            per_line("Dtmf", &format!(",{digits}"))
        }
        "SetLine" => {
            let l = one_line(state, p(0), name)?
                .ok_or_else(|| VerbError::Conflict("SetLine: no line has a call".into()))?;
            one(format!("SetLine,{l}"))
        }
        "Conf" => match field(name, "peer", p(0).unwrap_or(""))? {
            "" => one("Conf".into()),
            peer => one(format!("Conf,{peer}")),
        },
        "ConfRemove" => per_line("ConfRemove", ""),
        "PlaySound" => {
            if !bool_word(0, true)? {
                return one("StopSound".into());
            }
            let file = field(name, "file", p(1).unwrap_or(""))?;
            let looped = if bool_word(2, false)? { "on" } else { "off" };
            let to = field(name, "toremotepeer", p(3).unwrap_or(""))?;
            let line = field(name, "line", p(4).unwrap_or(""))?;
            one(format!("PlaySound,{file},{looped},{to},{line}"))
        }
        "VoiceRecord" => {
            let on = bool_word(0, true)?;
            let file = field(name, "file", p(2).unwrap_or(""))?;
            // Not now: from the next call on, every call is recorded (or none).
            if !bool_word(1, true)? {
                return one(format!("SetParameter,voicerecording,{}", u8::from(on)));
            }
            let l = one_line(state, None, name)?
                .ok_or_else(|| VerbError::Conflict("VoiceRecord: no call to record".into()))?;
            one(format!(
                "Record,{l},{},{file}",
                if on { "on" } else { "off" }
            ))
        }
        "ConfSplit" => one("ConfSplit".into()),
        "ConfHold" => one(format!(
            "ConfHold,{}",
            if bool_word(0, true)? { "on" } else { "off" }
        )),
        "Transfer" | "Forward" => {
            let target = field(name, "peer", p(1).unwrap_or(""))?;
            per_line(name, &format!(",{target}"))
        }
        "Park" => per_line(
            "Park",
            &format!(",{}", field(name, "orbit", p(1).unwrap_or(""))?),
        ),
        "Unpark"
        | "Pickup"
        | "GetChatHistory"
        | "DelContact"
        | "GetContacts"
        | "AddToBlacklist"
        | "RemoveFromBlacklist"
        | "SetPresenceStatus" => one(format!(
            "{name},{}",
            field(name, def.params[0], p(0).unwrap_or(""))?
        )),
        "SendChat" => {
            // The line is not used (a message needs no call); peer, then the text, commas kept.
            let peer = field(name, "peer", p(1).unwrap_or(""))?;
            let msg = p(2).unwrap_or("").replace(['\r', '\n'], " ");
            one(format!("SendChat,-1,{peer},{msg}"))
        }
        "AddContact" => one(format!(
            "AddContact,{},{}",
            field(name, "name", p(0).unwrap_or(""))?,
            field(name, "number", p(1).unwrap_or(""))?
        )),
        "AllowWatcher" => one(format!(
            "AllowWatcher,{},{}",
            field(name, "watcher", p(0).unwrap_or(""))?,
            if bool_word(1, true)? { "yes" } else { "no" }
        )),
        "CheckPresence" | "WatchBusyLamps" | "SetContacts" | "SetBlacklist" => {
            let items = list();
            for i in &items {
                field(name, "list", i)?;
            }
            one(std::iter::once(name.to_string())
                .chain(items)
                .collect::<Vec<_>>()
                .join(","))
        }
        "Register" | "SetCredentials" => {
            let mut values = Vec::new();
            for (i, param) in [
                "serveraddress",
                "username",
                "password",
                "sipusername",
                "displayname",
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(v) = p(i).filter(|v| !v.is_empty()) {
                    values.push(crate::model::ParamValue::new(param, v));
                }
            }
            let mut out = Vec::new();
            if !values.is_empty() {
                out.push(Command::SetParameters {
                    values,
                    persist: false,
                });
            }
            if name == "Register" {
                out.push(Command::Register);
            } else if out.is_empty() {
                return Err(VerbError::Bad("SetCredentials: nothing to set".into()));
            }
            Ok(Plan::Commands(out))
        }
        "SetParameter" | "SaveParameter" => {
            let param = p(0).unwrap_or("").trim();
            if !settable_by_api(param) {
                return Err(VerbError::Forbidden(format!(
                    "{name}: {param} is the control API's own setting; change it in the window or the settings file"
                )));
            }
            if param.is_empty() {
                return Err(VerbError::Bad(format!(
                    "{name}: a parameter name is needed"
                )));
            }
            Ok(Plan::Commands(vec![Command::SetParameters {
                values: vec![crate::model::ParamValue::new(param, p(1).unwrap_or(""))],
                persist: name == "SaveParameter",
            }]))
        }
        "SetAudioDevice" | "SetVolume" => {
            let names = if name == "SetVolume" {
                VOLUMES
            } else {
                DEVICES
            };
            let param = device_param(name, p(0), names)?;
            let value = p(1).unwrap_or("").trim();
            if value.is_empty() {
                return Err(VerbError::Bad(format!(
                    "{name}: {} is needed",
                    def.params[1]
                )));
            }
            Ok(Plan::Commands(vec![Command::SetParameters {
                values: vec![crate::model::ParamValue::new(param, value)],
                persist: false,
            }]))
        }
        "CheckVoicemail" | "GetBlacklist" | "Unregister" | "CapabilityRequest" | "ListDevices"
        | "TestSound" | "Exit" => one(name.to_string()),
        "Poll" => Ok(Plan::Poll {
            client: p(0).unwrap_or("").trim().chars().take(64).collect(),
        }),
        _ => query(def, call, state).map(Plan::Answer),
    }
}

/// The reference's status text for the phone (line -1) or a line.
fn status_text(state: &PhoneState, line: Option<u32>) -> String {
    use crate::model::Account;
    if let Some(l) = line.and_then(|l| state.lines.get(&l)) {
        return crate::api::notify::call_status_texts(l.state).1.to_string();
    }
    match &state.account {
        Account::Registered => "Registered",
        Account::Connecting => "Registering...",
        Account::Failed { .. } => "Register Failed",
        Account::Idle | Account::Disconnected => "Ready",
    }
    .to_string()
}

/// The answer to a query verb.
fn query(def: &VerbDef, call: &VerbCall, state: &PhoneState) -> Result<Value, VerbError> {
    use crate::model::{Account, CallState};
    let p = |i: usize| call.get(def, i);
    let name = def.name;
    let connected = || {
        state
            .lines
            .values()
            .filter(|l| l.state == CallState::Connected)
            .count()
    };
    Ok(match name {
        "GetStatus" => {
            let line = match p(0).map(str::trim).unwrap_or("-1") {
                "-1" | "" | "0" => state.active_line(),
                _ => one_line(state, p(0), name)?,
            };
            json!(status_text(state, line))
        }
        "GetLine" => json!(state.current_line.unwrap_or(0)),
        "GetLineStatus" => {
            let line = one_line(state, p(0), name)?;
            json!(
                line.and_then(|l| state.lines.get(&l))
                    .map(|l| crate::api::notify::call_status_texts(l.state).0)
                    .unwrap_or("Ready")
            )
        }
        "IsRegistered" | "IsOnline" => json!(state.account == Account::Registered),
        "IsInCall" => json!(connected() > 0),
        "GetCurrentConnectedCallCount" => json!(connected()),
        "IsMuted" | "IsOnHold" | "GetCallerID" | "GetIncomingDisplay" => {
            let line = one_line(state, p(0), name)?.and_then(|l| state.lines.get(&l));
            match name {
                "IsMuted" => json!(line.is_some_and(|l| l.muted())),
                "IsOnHold" => json!(line.is_some_and(|l| l.hold_local || l.hold_remote)),
                "GetCallerID" => json!(line.map(|l| l.peer.as_str()).unwrap_or("")),
                _ => json!(line.map(|l| l.peer_display.as_str()).unwrap_or("")),
            }
        }
        "GetRegFailReason" => json!(match &state.account {
            Account::Failed { reason } => reason.as_str(),
            _ => "",
        }),
        "GetLastCallDetails" => match state.history.first() {
            Some(c) => serde_json::to_value(c).unwrap_or(Value::Null),
            None => Value::Null,
        },
        "GetAudioDeviceList" => {
            let (mics, speakers) = state.devices.clone().unwrap_or_default();
            match p(0).map(str::trim).unwrap_or("") {
                "0" => json!(mics),
                "1" | "2" | "" => json!(speakers),
                d => return Err(VerbError::Bad(format!("{name}: dev {d:?} is 0, 1 or 2"))),
            }
        }
        "GetAudioDevice" | "GetVolume" => {
            let names = if name == "GetVolume" {
                VOLUMES
            } else {
                DEVICES
            };
            json!(state.param(device_param(name, p(0), names)?))
        }
        "GetVersion" => json!(env!("CARGO_PKG_VERSION")),
        "GetPresence" => {
            let user = p(0).unwrap_or("").trim();
            match state.presence.get(user) {
                Some((status, note)) => json!({"status": status.word(), "note": note}),
                None => json!({"status": "Unknown", "note": ""}),
            }
        }
        _ => return Err(VerbError::NotFound(call.verb.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallDirection, CallState, Event};

    fn call(verb: &str, params: &[(&str, &str)]) -> VerbCall {
        VerbCall {
            verb: verb.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn with_calls(lines: &[(u32, CallState, CallDirection)]) -> PhoneState {
        let mut s = PhoneState::default();
        for (line, state, direction) in lines {
            s.apply(&Event::Call {
                line: *line,
                state: *state,
                direction: *direction,
                peer: format!("10{line:02}"),
                peer_display: format!("Peer {line}"),
                peer_uri: String::new(),
                call_id: format!("c{line}"),
                reason: String::new(),
                ended_by_us: false,
                answered_at_ms: None,
            });
        }
        s
    }

    #[test]
    fn the_readme_lists_every_verb() {
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains(&readme_table()),
            "README.md's verb table is stale; replace it with `softphone --api-table`:\n{}",
            readme_table()
        );
    }

    #[test]
    fn every_verb_has_a_unique_name_and_api_prefix_and_case_do_not_matter() {
        let mut names: Vec<String> = VERBS.iter().map(|v| v.name.to_ascii_lowercase()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), VERBS.len());
        assert_eq!(find("API_Call").map(|v| v.name), Some("Call"));
        assert_eq!(find("api_getstatus").map(|v| v.name), Some("GetStatus"));
        assert!(find("API_").is_none());
        assert!(find("Nothing").is_none());
    }

    #[test]
    fn line_addressing_current_all_and_numbered() {
        use CallDirection::Outgoing;
        use CallState::{Connected, Incoming};
        let s = with_calls(&[
            (1, Connected, Outgoing),
            (2, Incoming, CallDirection::Incoming),
        ]);
        let hang = |line: &str| plan(&call("Hangup", &[("line", line)]), &s, Access::Local);
        assert_eq!(
            hang("-2"),
            Ok(Plan::Commands(vec![
                Command::Hangup { line: 1 },
                Command::Hangup { line: 2 }
            ]))
        );
        assert_eq!(
            hang("-1"),
            Ok(Plan::Commands(vec![Command::Hangup { line: 1 }]))
        );
        assert_eq!(
            hang("2"),
            Ok(Plan::Commands(vec![Command::Hangup { line: 2 }]))
        );
        assert!(matches!(hang("x"), Err(VerbError::Bad(_))));
        // Positional parameters as the reference's param1..N.
        assert_eq!(
            plan(
                &call("API_Dtmf", &[("param1", "1"), ("param2", "12#")]),
                &s,
                Access::Web
            ),
            Ok(Plan::Commands(vec![Command::Dtmf {
                line: 1,
                digits: "12#".into()
            }]))
        );
        // Reject only turns away a ringing incoming call.
        assert!(matches!(
            plan(&call("Reject", &[("line", "1")]), &s, Access::Web),
            Err(VerbError::Conflict(_))
        ));
        assert_eq!(
            plan(&call("Reject", &[("line", "2")]), &s, Access::Web),
            Ok(Plan::Commands(vec![Command::Hangup { line: 2 }]))
        );
        // No call at all: -1 has nothing to act on.
        assert!(matches!(
            plan(&call("Hangup", &[]), &PhoneState::default(), Access::Local),
            Err(VerbError::Conflict(_))
        ));
    }

    #[test]
    fn web_pages_get_only_web_verbs_and_nobody_sets_the_api_s_own_settings() {
        let s = PhoneState::default();
        assert!(matches!(
            plan(
                &call(
                    "SetParameter",
                    &[("name", "serveraddress"), ("value", "evil")]
                ),
                &s,
                Access::Web
            ),
            Err(VerbError::Forbidden(_))
        ));
        assert!(matches!(
            plan(
                &call("Transfer", &[("line", "1"), ("peer", "900")]),
                &s,
                Access::Web
            ),
            Err(VerbError::Forbidden(_))
        ));
        assert!(matches!(
            plan(
                &call("SetParameter", &[("name", "wpapiorigins"), ("value", "*")]),
                &s,
                Access::Local
            ),
            Err(VerbError::Forbidden(_))
        ));
        assert!(matches!(
            plan(&call("Exit", &[]), &s, Access::Web),
            Err(VerbError::Forbidden(_))
        ));
        assert_eq!(
            plan(
                &call("Call", &[("line", "-1"), ("peer", "1002")]),
                &s,
                Access::Web
            ),
            Ok(Plan::Dial {
                number: "1002".into()
            })
        );
        // A comma would smuggle a second field into the command line.
        assert!(matches!(
            plan(&call("Call", &[("peer", "1002,x")]), &s, Access::Web),
            Err(VerbError::Bad(_))
        ));
    }

    #[test]
    fn unsupported_features_say_so_and_unknown_verbs_are_not_found() {
        let s = PhoneState::default();
        let e = plan(&call("CallEx", &[]), &s, Access::Local).unwrap_err();
        assert_eq!(e.status(), 501);
        assert!(
            e.to_string().contains("not supported by this version"),
            "{e}"
        );
        assert_eq!(
            plan(&call("Frobnicate", &[]), &s, Access::Local)
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn queries_read_the_state() {
        use CallDirection::Outgoing;
        use CallState::{Connected, Incoming};
        let mut s = with_calls(&[
            (1, Connected, Outgoing),
            (3, Incoming, CallDirection::Incoming),
        ]);
        s.apply(&Event::Registration(
            crate::model::Registration::Registered { expires_s: 300 },
        ));
        let q = |verb: &str, params: &[(&str, &str)]| match plan(
            &call(verb, params),
            &s,
            Access::Web,
        ) {
            Ok(Plan::Answer(v)) => v,
            other => panic!("{verb}: {other:?}"),
        };
        assert_eq!(q("IsRegistered", &[]), json!(true));
        assert_eq!(q("IsInCall", &[]), json!(true));
        assert_eq!(q("GetCurrentConnectedCallCount", &[]), json!(1));
        assert_eq!(q("GetLineStatus", &[("line", "1")]), json!("InCall"));
        assert_eq!(q("GetLineStatus", &[("line", "3")]), json!("Ringing"));
        assert_eq!(q("GetLineStatus", &[("line", "5")]), json!("Ready"));
        assert_eq!(q("GetCallerID", &[("line", "3")]), json!("1003"));
        assert_eq!(q("GetIncomingDisplay", &[("line", "3")]), json!("Peer 3"));
        assert_eq!(q("IsOnHold", &[("line", "1")]), json!(false));
        assert_eq!(q("GetStatus", &[("line", "1")]), json!("In Call"));
        assert_eq!(q("GetRegFailReason", &[]), json!(""));
        assert_eq!(q("GetVersion", &[]), json!(env!("CARGO_PKG_VERSION")));
        assert_eq!(q("GetLastCallDetails", &[]), Value::Null);
    }
}

//! The reference's API verbs (`API_Call`, `GetStatus`, ...) as a table, and what one request
//! for a verb means: commands for the engine, a dial that the click-to-call policy decides,
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

/// Who may use a verb: a browser page on an allowed origin (`Web`), or only a local program
/// with the token and no browser around it (`Local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Web,
    Local,
}

/// What a verb does, for the table in the README and the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerbKind {
    /// Sends commands to the engine.
    Command,
    /// Answers from the state.
    Query,
    /// Its feature is not in this version.
    NotSupported,
}

/// One verb of the table.
#[derive(Debug, Clone, Copy)]
pub struct VerbDef {
    /// The reference's name (matched in any case, with or without `API_`).
    pub name: &'static str,
    /// Its parameters in the reference's order (`param1`, `param2`, ... stand for these).
    pub params: &'static [&'static str],
    pub access: Access,
    pub kind: VerbKind,
    /// What it does (the README's table).
    pub help: &'static str,
}

const fn v(
    name: &'static str,
    params: &'static [&'static str],
    access: Access,
    kind: VerbKind,
    help: &'static str,
) -> VerbDef {
    VerbDef {
        name,
        params,
        access,
        kind,
        help,
    }
}

use Access::{Local, Web};
use VerbKind::{Command as Cmd, NotSupported as No, Query as Q};

/// Every verb the API knows.
#[rustfmt::skip]
pub const VERBS: &[VerbDef] = &[
    v("Call", &["line", "peer"], Web, Cmd, "dial peer (empty: redial); line -1 (the softphone picks a free line); from a web page only what its origin's policy allows"),
    v("Hangup", &["line", "reason"], Web, Cmd, "hang up or cancel a call (-2: all lines)"),
    v("Accept", &["line"], Web, Cmd, "answer a ringing call"),
    v("Reject", &["line"], Web, Cmd, "turn a ringing incoming call away"),
    v("Hold", &["line", "state"], Web, Cmd, "hold (state true, the default) or resume (false)"),
    v("HoldChange", &["line"], Web, Cmd, "hold if not held, resume if held"),
    v("Mute", &["line", "state", "direction"], Web, Cmd, "mute (true) or unmute; direction 0 both, 1 microphone, 2 speaker"),
    v("MuteEx", &["line", "state", "direction"], Web, Cmd, "as Mute"),
    v("Dtmf", &["line", "digits"], Web, Cmd, "send DTMF digits (space: a pause)"),
    v("SetLine", &["line"], Web, Cmd, "make a line the current one"),
    v("Transfer", &["line", "peer"], Local, Cmd, "blind transfer to peer; empty peer connects the line with our other call"),
    v("Forward", &["line", "peer"], Local, Cmd, "send a ringing call on to peer"),
    v("Park", &["line", "orbit"], Local, Cmd, "park a call (orbit empty: the server picks)"),
    v("Unpark", &["orbit"], Local, Cmd, "take a parked call back"),
    v("Pickup", &["extension"], Local, Cmd, "pick up a colleague's ringing call"),
    v("SendChat", &["line", "peer", "text"], Local, Cmd, "send a chat message"),
    v("GetChatHistory", &["peer"], Local, Cmd, "the stored conversation with peer (in the events)"),
    v("CheckVoicemail", &[], Local, Cmd, "ask the server for the voicemail count"),
    v("CheckPresence", &["list"], Local, Cmd, "watch these users' presence (comma-separated; empty: none)"),
    v("SetPresenceStatus", &["status"], Local, Cmd, "Online, Away, DND, Invisible or Offline"),
    v("WatchBusyLamps", &["list"], Local, Cmd, "busy lamps for these users"),
    v("AllowWatcher", &["watcher", "allow"], Local, Cmd, "let a watcher see our presence (true) or not"),
    v("AddContact", &["name", "number"], Local, Cmd, "add a contact"),
    v("DelContact", &["key"], Local, Cmd, "delete a contact (id, name or address)"),
    v("GetContacts", &["search"], Local, Cmd, "the contacts, optionally searched (in the events)"),
    v("SetContacts", &["list"], Local, Cmd, "replace the address book: name,address,name,address,..."),
    v("GetBlacklist", &[], Local, Cmd, "the blocked numbers (in the events)"),
    v("SetBlacklist", &["list"], Local, Cmd, "replace the blocked numbers"),
    v("AddToBlacklist", &["number"], Local, Cmd, "block a number"),
    v("RemoveFromBlacklist", &["number"], Local, Cmd, "unblock a number"),
    v("Register", &["server", "username", "password", "authname", "displayname"], Local, Cmd, "register (with new credentials when given; the password is never shown back)"),
    v("SetCredentials", &["server", "username", "password", "authname", "displayname"], Local, Cmd, "set the account without registering"),
    v("Unregister", &[], Local, Cmd, "remove the registration"),
    v("SetParameter", &["name", "value"], Local, Cmd, "change a parameter for this run (not the API's own wpapi* ones)"),
    v("SaveParameter", &["name", "value"], Local, Cmd, "change a parameter and keep it"),
    v("SetAudioDevice", &["dev", "name"], Local, Cmd, "choose the device: dev 0 microphone, 1 speaker, 2 ringer"),
    v("SetVolume", &["dev", "volume"], Local, Cmd, "volume 0..100 (50 unchanged): dev 0 microphone, 1 speaker, 2 ringer"),
    v("CapabilityRequest", &[], Local, Cmd, "send OPTIONS to the server (answer in the events)"),
    v("ListDevices", &[], Local, Cmd, "list the sound devices again (answer in the events and GetAudioDeviceList)"),
    v("TestSound", &[], Local, Cmd, "play a short test tone on the speaker"),
    v("Exit", &[], Local, Cmd, "unregister and quit"),
    v("GetStatus", &["line"], Web, Q, "the status text of a line (-1: the phone's)"),
    v("GetLine", &[], Web, Q, "the current line (0: none)"),
    v("GetLineStatus", &["line"], Web, Q, "the reference's status word of a line"),
    v("IsRegistered", &[], Web, Q, "true when registered"),
    v("IsOnline", &[], Web, Q, "as IsRegistered"),
    v("IsInCall", &[], Web, Q, "true when any line is in a connected call"),
    v("IsMuted", &["line"], Web, Q, "true when the line's microphone or speaker is muted"),
    v("IsOnHold", &["line"], Web, Q, "true when the line is held by either side"),
    v("GetCurrentConnectedCallCount", &[], Web, Q, "how many calls are connected"),
    v("GetRegFailReason", &[], Web, Q, "why the last registration failed (empty when it did not)"),
    v("GetCallerID", &["line"], Web, Q, "the peer of a line (-1: the ringing or current call)"),
    v("GetIncomingDisplay", &["line"], Web, Q, "the display name of a line's peer"),
    v("GetLastCallDetails", &[], Web, Q, "the last finished call (its CDR)"),
    v("GetAudioDeviceList", &["dev"], Web, Q, "device names: dev 0 microphones, 1 speakers"),
    v("GetAudioDevice", &["dev"], Web, Q, "the chosen device: dev 0 microphone, 1 speaker, 2 ringer"),
    v("GetVolume", &["dev"], Web, Q, "the volume: dev 0 microphone, 1 speaker, 2 ringer"),
    v("GetVersion", &[], Web, Q, "the softphone's version"),
    v("GetPresence", &["user"], Web, Q, "the last presence status seen for a watched user"),
    v("Poll", &["client"], Web, Q, "notification lines since this client's last Poll"),
    v("Conf", &["peer"], Local, No, "conference calls"),
    v("VoiceRecord", &["start", "now", "file"], Local, No, "call recording"),
    v("PlaySound", &["start", "file", "loop"], Local, No, "playing sound files"),
    v("CallEx", &["line", "peer", "callparameters"], Local, No, "calls with extra headers"),
    v("SetSIPHeader", &["name", "value"], Local, No, "custom SIP headers"),
    v("GetSIPHeader", &["name"], Local, No, "reading received SIP headers"),
    v("SendSIP", &["message"], Local, No, "raw SIP messages"),
    v("GetLastRecSIPMessage", &[], Local, No, "reading received SIP messages"),
    v("NewUser", &[], Local, No, "account sign-up"),
    v("SetCredentialsMD5", &["server", "username", "md5"], Local, No, "credentials by MD5 hash (set md5 with SetParameter)"),
    v("StartStack", &[], Local, No, "a delayed SIP stack start"),
];

/// The README's verb table (Markdown), generated from [`VERBS`]; a test fails when the README
/// is stale.
pub fn readme_table() -> String {
    let mut s = String::from("| verb | parameters | who | what it does |\n|---|---|---|---|\n");
    for d in VERBS {
        let who = match (d.kind, d.access) {
            (VerbKind::NotSupported, _) => "not in this version (501)",
            (_, Access::Web) => "programs and allowed pages",
            (_, Access::Local) => "local programs",
        };
        s.push_str(&format!(
            "| `{}` | {} | {who} | {} |\n",
            d.name,
            d.params.join(", "),
            d.help
        ));
    }
    s
}

/// The verb named `name` (`API_` prefix and case ignored).
pub fn find(name: &str) -> Option<&'static VerbDef> {
    let bare = name
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("api_"))
        .map_or(name, |_| &name[4..]);
    VERBS.iter().find(|v| v.name.eq_ignore_ascii_case(bare))
}

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
            Ok(Plan::Commands(vec![Command::SetParameters {
                values: vec![crate::model::ParamValue::new(param, p(1).unwrap_or(""))],
                persist: name == "SaveParameter",
            }]))
            .and_then(|plan| {
                if param.is_empty() {
                    Err(VerbError::Bad(format!(
                        "{name}: a parameter name is needed"
                    )))
                } else {
                    Ok(plan)
                }
            })
        }
        "SetAudioDevice" | "SetVolume" => {
            let names = if name == "SetVolume" {
                ["volumein", "volumeout", "volumering"]
            } else {
                ["recorddevice", "playbackdevice", "ringerdevice"]
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
                ["volumein", "volumeout", "volumering"]
            } else {
                ["recorddevice", "playbackdevice", "ringerdevice"]
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
        let e = plan(&call("Conf", &[]), &s, Access::Local).unwrap_err();
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

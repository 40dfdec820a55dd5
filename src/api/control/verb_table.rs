//! The table of the reference's API verbs: each verb's name, its parameters in the
//! reference's order, who may use it and what it does. [`super::verbs`] plans requests from
//! it, the README's verb table is generated from it.

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
    v("VoiceRecord", &["start", "now", "file"], Local, Cmd, "record the current call into a stereo WAV (start true, the default) or stop; now false: record every call from the next one on (or stop doing so); file: the name in voicerecfolder"),
    v("PlaySound", &["start", "file", "loop", "toremotepeer", "line"], Local, Cmd, "play a WAV file (start true, the default) or stop; loop; toremotepeer 0 the speaker, 1 into the call(s), 2 both; line: that call, -1 or empty every call"),
    v("Conf", &["peer"], Local, Cmd, "merge the answered calls into a local conference (empty peer), or call peer into it"),
    v("ConfRemove", &["line"], Local, Cmd, "take a line out of the conference (it stays on hold)"),
    v("ConfSplit", &[], Local, Cmd, "end the conference; every former member but the current line is held"),
    v("ConfHold", &["state"], Local, Cmd, "hold (state true, the default) or resume every member of the conference"),
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

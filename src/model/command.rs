//! What a face asks of the engine. Every command travels in a [`Request`] with an id, and the
//! engine answers each with one [`crate::model::Event::Reply`] carrying the same id, so a
//! reply or an error is always tied to the command that caused it.

use super::contact::{Contact, ContactFormat};
use super::modes::{MuteDirection, PresenceStatus};
use super::secret::Secret;
use serde::{Deserialize, Serialize};

/// Names a request; the face picks it (counting up is enough) and finds it in the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

/// A command with the id its reply will carry. In JSON the id sits beside the command's own
/// fields: `{"id":7,"type":"call","number":"1002"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    #[serde(flatten)]
    pub command: Command,
}

/// The parameters whose values are secrets: never printed, logged or serialized in clear, never
/// kept in a plain file.
pub const SECRET_PARAMETERS: &[&str] = &["password", "md5"];

/// Whether parameter `name` holds a secret (any case, as parameter names are).
pub fn is_secret(name: &str) -> bool {
    SECRET_PARAMETERS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name.trim()))
}

/// One `name=value` of a parameter change. The value of a secret parameter (see
/// [`SECRET_PARAMETERS`]) is masked in Debug output and in JSON, like a [`Secret`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ParamValue {
    pub name: String,
    pub value: String,
}

impl ParamValue {
    /// `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> ParamValue {
        ParamValue {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The value as it may be shown: masked for a secret parameter.
    pub fn shown(&self) -> &str {
        if is_secret(&self.name) {
            Secret::new(self.value.as_str()).masked()
        } else {
            &self.value
        }
    }
}

impl std::fmt::Debug for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={:?}", self.name, self.shown())
    }
}

impl Serialize for ParamValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ParamValue", 2)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("value", self.shown())?;
        st.end()
    }
}

/// Commands any face may give the engine (the reference's API verbs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Register with the configured server (API_Register with no arguments).
    Register,
    /// Remove the registration (API_Unregister).
    Unregister,
    /// Send OPTIONS to the server (API_CapabilityRequest).
    CapabilityRequest,
    /// Unregister if configured, then stop (API_Exit, Ctrl-C, SIGTERM).
    Exit,
    /// Call a number, user or SIP URI (API_Call); an empty number redials the last one.
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
    /// Transfer the call on a line (API_Transfer): to `target` (blind transfer), or with an
    /// empty target to the other call we are in (attended transfer: the two far ends are
    /// connected and both our lines are freed).
    Transfer { line: u32, target: String },
    /// Change the local conference (API Conf): merge the answered calls, call a new party
    /// into it, take one out, split it back into separate calls, or hold it as a whole.
    Conference { op: ConferenceOp },
    /// Start (`on`) or stop recording the call on a line into a stereo WAV (API VoiceRecord):
    /// left what we said, right what we heard. `name` is the file's name in the recordings
    /// folder (only a name: any folder part is dropped); empty, `voicerecfilename` makes it.
    Record { line: u32, on: bool, name: String },
    /// Play a WAV file (API PlaySound): on the speaker (`local`), into the calls (`remote`;
    /// `line` 0 every call, else that line's), or both; once, or until stopped when `looped`.
    /// A sound already playing is replaced. How it goes comes back as `playback` events.
    PlaySound {
        file: String,
        looped: bool,
        local: bool,
        remote: bool,
        line: u32,
    },
    /// Stop the sound PlaySound plays.
    StopSound,
    /// Send the call ringing on a line elsewhere (API_Forward): 302 with the target's
    /// Contact.
    Forward { line: u32, target: String },
    /// Park the call on a line (a blind transfer to `parkcode` followed by `orbit`; an empty
    /// orbit lets the PBX pick the slot).
    Park { line: u32, orbit: String },
    /// Take back the call parked in `orbit` (dials `unparkcode` followed by the orbit).
    Unpark { orbit: String },
    /// Answer a call ringing elsewhere: at `extension` (`directedpickupcode` + extension),
    /// or anywhere in our pickup group when it is empty (`pickupcode`).
    Pickup { extension: String },
    /// Send `text` to `peer` (a number, a user or a SIP address) as an instant message
    /// (API_SendChat; SIP MESSAGE). How it went comes back in a `chat_delivery` event with
    /// this request's id.
    SendChat { peer: String, text: String },
    /// The stored conversation with `peer` (its user part or address): the latest messages,
    /// oldest first, in a `chat_history` event.
    GetChatHistory { peer: String },
    /// Call the voicemail box (API_CheckVoicemail): dials `voicemailnum`.
    CheckVoicemail,
    /// Watch these users' presence (API_CheckPresence): the list replaces the one watched
    /// before; an empty list stops watching. Each answer is a `presence` event.
    CheckPresence { users: Vec<String> },
    /// Watch these extensions' busy lamps (RFC 4235 dialog package); the list replaces the one
    /// watched before. Each change is a `busy_lamp` event.
    WatchBusyLamps { users: Vec<String> },
    /// Let `watcher` (as a WatcherRequest named it, or its user part) see our presence, or
    /// refuse it.
    AllowWatcher { watcher: String, allow: bool },
    /// Set and publish our presence status (API_SetPresenceStatus).
    SetPresenceStatus { status: PresenceStatus },
    /// A call that waits for the user's click: a web page's (`origin`) through the control
    /// API (`wpapiconfirm`; the API dials once allowed), or a clicked link's (`linkconfirm`;
    /// `call_when_allowed`: the engine dials `target` itself once allowed). The faces see it
    /// as a `dial_request` whose ticket is this request's id.
    AskToDial {
        origin: String,
        target: String,
        #[serde(default)]
        call_when_allowed: bool,
    },
    /// The user's answer to a `dial_request` (or the API giving up waiting): reported as a
    /// `dial_decision`.
    ConfirmDial { ticket: u64, allow: bool },
    /// Add a contact (its id 0; API AddContact) or change the one with its id. Answered,
    /// like every contacts change, by a `contacts` event with the whole address book.
    SaveContact { contact: Contact },
    /// Remove a contact (API DelContact): `key` is its id, or its name or address when only
    /// one contact has it.
    DeleteContact { key: String },
    /// Replace the whole address book (API SetContacts).
    SetContacts { contacts: Vec<Contact> },
    /// The contacts a search finds (API GetContacts; an empty search gives all), answered by
    /// a `contacts_found` event. The search is [`Contact::matches`].
    GetContacts { search: String },
    /// Add the contacts of a file's text (vCard or CSV); the face reads the file, so the
    /// engine never opens a path a command names. Contacts already there (same name and
    /// address) are updated. Answered by a `contacts_imported` event.
    ImportContacts { format: ContactFormat, text: String },
    /// The address book as a file's text, in a `contacts_exported` event; the face writes it.
    ExportContacts { format: ContactFormat },
    /// Read or change the blacklist (API_GetBlacklist, SetBlacklist, AddToBlacklist, and
    /// removing one entry): the `blacklist` parameter, kept across restarts. Answered by a
    /// `parameter` event with the whole list, also when nothing changed.
    Blacklist { change: BlacklistChange },
    /// Mute or unmute one direction of a line (API_MuteEx); the other direction keeps its
    /// state.
    Mute {
        line: u32,
        on: bool,
        direction: MuteDirection,
    },
    /// Play a short ring on the speaker (`playbackdevice`), to check it.
    TestSound,
    /// Start or stop the microphone level meter (reported as `input_level` events); it does
    /// not run while a call holds the microphone.
    InputLevel { on: bool },
    /// List the sound devices (answered by a `devices` event).
    ListDevices,
    /// Change parameters while running (API_SetParameter(s); the window's settings; a later
    /// launch), applied together. With `persist` they are also kept in the settings file (a
    /// password goes to the keyring instead).
    SetParameters {
        values: Vec<ParamValue>,
        persist: bool,
    },
}

/// What a conference command does. The audio engine mixes the members: each hears us and
/// the others, never itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ConferenceOp {
    /// Every answered call joins (calls we held are resumed).
    Merge,
    /// Call `number`; when it answers it joins the answered calls.
    Add { number: String },
    /// `line` leaves the conference and stays a call of its own, on hold.
    Remove { line: u32 },
    /// The conference ends; every former member but the current line is held.
    Split,
    /// Hold (`on`) or resume every member.
    Hold { on: bool },
}

/// What a blacklist command does to the list of blocked callers (user parts or numbers,
/// compared without regard to case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BlacklistChange {
    /// Only report the list.
    Get,
    /// Replace the whole list.
    Set { numbers: Vec<String> },
    /// Block one more caller (nothing changes when already blocked).
    Add { number: String },
    /// Unblock one caller.
    Remove { number: String },
}

impl BlacklistChange {
    /// The list after this change, from the `blacklist` parameter's comma list: trimmed,
    /// without empty entries or repeats (first spelling kept).
    pub fn apply(&self, current: &str) -> Vec<String> {
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect()
        };
        let mut list = match self {
            BlacklistChange::Set { numbers } => numbers.iter().flat_map(|n| split(n)).collect(),
            _ => split(current),
        };
        match self {
            BlacklistChange::Add { number } => list.extend(split(number)),
            BlacklistChange::Remove { number } => {
                list.retain(|n| !n.eq_ignore_ascii_case(number.trim()));
            }
            BlacklistChange::Get | BlacklistChange::Set { .. } => {}
        }
        let mut seen: Vec<String> = Vec::new();
        list.retain(|n| {
            let key = n.to_ascii_lowercase();
            let fresh = !seen.contains(&key);
            seen.push(key);
            fresh
        });
        list
    }
}

impl Command {
    /// The verb as the reference names it, for messages about the command.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Register => "Register",
            Command::Unregister => "Unregister",
            Command::CapabilityRequest => "CapabilityRequest",
            Command::Exit => "Exit",
            Command::Call { .. } => "Call",
            Command::Hangup { .. } => "Hangup",
            Command::Accept { .. } => "Accept",
            Command::Dtmf { .. } => "Dtmf",
            Command::SetLine { .. } => "SetLine",
            Command::Hold { .. } => "Hold",
            Command::Transfer { .. } => "Transfer",
            Command::Conference { op } => match op {
                ConferenceOp::Merge | ConferenceOp::Add { .. } => "Conf",
                ConferenceOp::Remove { .. } => "ConfRemove",
                ConferenceOp::Split => "ConfSplit",
                ConferenceOp::Hold { .. } => "ConfHold",
            },
            Command::Record { .. } => "VoiceRecord",
            Command::PlaySound { .. } | Command::StopSound => "PlaySound",
            Command::Forward { .. } => "Forward",
            Command::Park { .. } => "Park",
            Command::Unpark { .. } => "Unpark",
            Command::Pickup { .. } => "Pickup",
            Command::SendChat { .. } => "SendChat",
            Command::GetChatHistory { .. } => "GetChatHistory",
            Command::CheckVoicemail => "CheckVoicemail",
            Command::CheckPresence { .. } => "CheckPresence",
            Command::SetPresenceStatus { .. } => "SetPresenceStatus",
            Command::WatchBusyLamps { .. } => "WatchBusyLamps",
            Command::AllowWatcher { .. } => "AllowWatcher",
            Command::AskToDial { .. } => "AskToDial",
            Command::ConfirmDial { .. } => "ConfirmDial",
            Command::SaveContact { contact } if contact.id == 0 => "AddContact",
            Command::SaveContact { .. } => "EditContact",
            Command::DeleteContact { .. } => "DelContact",
            Command::SetContacts { .. } => "SetContacts",
            Command::GetContacts { .. } => "GetContacts",
            Command::ImportContacts { .. } => "ImportContacts",
            Command::ExportContacts { .. } => "ExportContacts",
            Command::Blacklist { change } => match change {
                BlacklistChange::Get => "GetBlacklist",
                BlacklistChange::Set { .. } => "SetBlacklist",
                BlacklistChange::Add { .. } => "AddToBlacklist",
                BlacklistChange::Remove { .. } => "RemoveFromBlacklist",
            },
            Command::Mute { .. } => "Mute",
            Command::TestSound => "TestSound",
            Command::InputLevel { .. } => "InputLevel",
            Command::ListDevices => "ListDevices",
            Command::SetParameters { .. } => "SetParameters",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parameter_values_are_masked() {
        let pw = ParamValue::new("Password", "hunter2");
        assert_eq!(format!("{pw:?}"), "Password=\"***\"");
        let json = serde_json::to_string(&pw).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        // Coming in, the clear value is taken.
        let back: ParamValue =
            serde_json::from_str(r#"{"name":"password","value":"hunter2"}"#).unwrap();
        assert_eq!(back.value, "hunter2");
        let plain = ParamValue::new("maxlines", "2");
        assert_eq!(format!("{plain:?}"), "maxlines=\"2\"");
    }

    #[test]
    fn blacklist_changes_keep_one_entry_per_caller() {
        let add = BlacklistChange::Add {
            number: " SPAM ".into(),
        };
        assert_eq!(add.apply("1005, spam,,2000"), ["1005", "spam", "2000"]);
        assert_eq!(add.apply(""), ["SPAM"]);
        let remove = BlacklistChange::Remove {
            number: "Spam".into(),
        };
        assert_eq!(remove.apply("1005,spam"), ["1005"]);
        let set = BlacklistChange::Set {
            numbers: vec!["1,2".into(), " 3 ".into(), "1".into()],
        };
        assert_eq!(set.apply("9"), ["1", "2", "3"]);
        assert_eq!(BlacklistChange::Get.apply("a, b"), ["a", "b"]);
    }

    #[test]
    fn a_request_carries_its_id_beside_the_command() {
        let r = Request {
            id: RequestId(7),
            command: Command::Call {
                number: "1002".into(),
            },
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"id":7,"type":"call","number":"1002"}"#);
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), r);
    }
}

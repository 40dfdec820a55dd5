//! The headless text command protocol on standard input (one command a line, the reference's
//! verbs: `Call,1002`, `Hangup,1`, `Dtmf,1,123#`, ...), parsed into typed commands at the edge.

use crate::model::{BlacklistChange, Command, ConferenceOp, Contact, MuteDirection, ParamValue};

/// On or off: empty (or missing) means `default`; on/true/1 and off/false/0 in any case.
fn switch(verb: &str, arg: Option<&str>, default: bool) -> Result<bool, String> {
    match arg.map(|a| a.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("on" | "true" | "1" | "yes") => Ok(true),
        Some("off" | "false" | "0" | "no") => Ok(false),
        Some(other) => Err(format!("{verb}: {other:?} is not on or off")),
    }
}

/// Everything after the verb as one argument (commas kept), trimmed.
fn whole(arg: Option<&str>, rest: Option<&str>) -> String {
    [arg, rest]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(",")
        .trim()
        .to_string()
}

/// The users after the verb of `Verb,user,user,...` (empty ones dropped).
fn user_list(line: &str) -> Vec<String> {
    line.split(',')
        .skip(1)
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect()
}

/// Parses one command line: `Call,1002` (`Call` alone redials), `Hangup,1`, `Accept,1`,
/// `Dtmf,1,123#`, `Hold,1,on|off`, `Transfer,1,1003` (`Transfer,1,` connects line 1 with our
/// other call), `Conf` (merge the calls), `Conf,1003` (call 1003 into the conference),
/// `ConfRemove,2`, `ConfSplit`, `ConfHold,on|off`, `Record,1,on|off[,file name]`,
/// `PlaySound,FILE[,loop on|off[,toremotepeer 0 local|1 remote|2 both[,line]]]`, `StopSound`,
/// `Forward,1,1004`, `GetBlacklist`, `SetBlacklist,1005,spam`, `AddToBlacklist,1005`,
/// `RemoveFromBlacklist,1005`, `Park,1[,orbit]`, `Unpark,orbit`, `Pickup[,extension]`, `SendChat,LINE,PEER,TEXT`, `CheckVoicemail`, `CheckPresence,1002,1003`,
/// `SetPresenceStatus,Away`, `WatchBusyLamps,1005,1006`, `AddContact,NAME,NUMBER-OR-URI`,
/// `DelContact,ID-NAME-OR-ADDRESS`, `GetContacts[,search words]`, `SetContacts,NAME,ADDRESS,...`,
/// `GetChatHistory,PEER`,
/// `AllowWatcher,sip:1002@pbx,yes|no`, `Mute,1,on|off[,direction 0-4]`, `SetLine,1`,
/// `SetParameter,name,value` (this run), `SaveParameter,name,value` (also kept), `TestSound`,
/// `InputLevel,on|off`, `ListDevices`, `Register`, `Unregister`, `CapabilityRequest`, `Exit`
/// (verbs in any case).
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
        // An empty number redials, as the window's Call button does.
        "call" => Command::Call {
            number: arg.unwrap_or("").to_string(),
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
            on: switch("hold", rest, true)?,
        },
        "transfer" => Command::Transfer {
            line: line_no(arg)?,
            target: rest.unwrap_or("").trim().to_string(),
        },
        "conf" | "conference" => Command::Conference {
            op: match whole(arg, rest) {
                number if number.is_empty() => ConferenceOp::Merge,
                number => ConferenceOp::Add { number },
            },
        },
        "playsound" => {
            let file = arg
                .filter(|f| !f.is_empty())
                .ok_or("playsound: a file is needed")?;
            let mut opts = rest.unwrap_or("").split(',').map(str::trim);
            let looped = switch("playsound", opts.next(), false)?;
            let (local, remote) = match opts.next().unwrap_or("") {
                "" | "0" => (true, false),
                "1" => (false, true),
                "2" => (true, true),
                other => {
                    return Err(format!(
                        "playsound: toremotepeer {other:?} is not 0 (local), 1 (remote) or 2 (both)"
                    ));
                }
            };
            let line = match opts.next().unwrap_or("") {
                "" | "0" | "-1" | "-2" => 0,
                l => line_no(Some(l))?,
            };
            Command::PlaySound {
                file: file.to_string(),
                looped,
                local,
                remote,
                line,
            }
        }
        "stopsound" => Command::StopSound,
        "record" | "voicerecord" => {
            let mut rest = rest.unwrap_or("").splitn(2, ',');
            Command::Record {
                line: line_no(arg)?,
                on: switch("record", rest.next().map(str::trim), true)?,
                name: rest.next().unwrap_or("").trim().to_string(),
            }
        }
        "confremove" => Command::Conference {
            op: ConferenceOp::Remove {
                line: line_no(arg)?,
            },
        },
        "confsplit" => Command::Conference {
            op: ConferenceOp::Split,
        },
        "confhold" => Command::Conference {
            op: ConferenceOp::Hold {
                on: switch("confhold", arg, true)?,
            },
        },
        "forward" => Command::Forward {
            line: line_no(arg)?,
            target: rest
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or("forward: a target is needed")?
                .to_string(),
        },
        "mute" => {
            let mut it = rest.unwrap_or("on").splitn(2, ',').map(str::trim);
            let on = switch("mute", it.next(), true)?;
            let direction = match it.next() {
                None => MuteDirection::Default,
                Some(d) => d
                    .parse::<u8>()
                    .ok()
                    .and_then(MuteDirection::from_code)
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
                values: vec![ParamValue::new(name, rest.unwrap_or(""))],
                persist: verb == "saveparameter",
            }
        }
        "park" => Command::Park {
            line: line_no(arg)?,
            orbit: rest.unwrap_or("").trim().to_string(),
        },
        "unpark" => Command::Unpark {
            orbit: arg
                .filter(|a| !a.is_empty())
                .ok_or("unpark: the orbit (slot) number is needed")?
                .to_string(),
        },
        // The reference's order: line (any number, -1 for none: a message needs no call),
        // peer, then the text, which may hold commas.
        "sendchat" => {
            arg.filter(|a| a.is_empty() || a.parse::<i64>().is_ok())
                .ok_or("sendchat: SendChat,LINE,PEER,TEXT (LINE -1 when not about a call)")?;
            let (peer, text) = rest
                .and_then(|r| r.split_once(','))
                .map(|(p, t)| (p.trim(), t.trim()))
                .filter(|(p, t)| !p.is_empty() && !t.is_empty())
                .ok_or("sendchat: a peer and a text are needed (SendChat,-1,1002,hello)")?;
            Command::SendChat {
                peer: peer.to_string(),
                text: text.to_string(),
            }
        }
        "checkvoicemail" => Command::CheckVoicemail,
        "getchathistory" => Command::GetChatHistory {
            peer: arg
                .filter(|p| !p.is_empty())
                .ok_or("getchathistory: GetChatHistory,PEER")?
                .to_string(),
        },
        // `CheckPresence,1002,1003,...`: the whole list to watch (none: stop watching).
        "checkpresence" => Command::CheckPresence {
            users: user_list(line),
        },
        // `WatchBusyLamps,1005,1006`: the whole list of busy lamps (none: stop watching).
        "watchbusylamps" => Command::WatchBusyLamps {
            users: user_list(line),
        },
        // `AllowWatcher,sip:1002@pbx,yes|no`.
        "allowwatcher" => Command::AllowWatcher {
            watcher: arg
                .filter(|w| !w.is_empty())
                .ok_or("allowwatcher: AllowWatcher,WATCHER,yes|no")?
                .to_string(),
            allow: switch("allowwatcher", rest, true)?,
        },
        "setpresencestatus" => Command::SetPresenceStatus {
            status: arg
                .and_then(crate::model::PresenceStatus::from_word)
                .filter(|s| {
                    !matches!(
                        s,
                        crate::model::PresenceStatus::Pending
                            | crate::model::PresenceStatus::Unknown
                    )
                })
                .ok_or("setpresencestatus: Online, Away, DND, Invisible or Offline")?,
        },
        "pickup" => Command::Pickup {
            extension: arg.unwrap_or("").to_string(),
        },
        "getblacklist" => Command::Blacklist {
            change: BlacklistChange::Get,
        },
        "setblacklist" => Command::Blacklist {
            change: BlacklistChange::Set {
                numbers: [arg, rest]
                    .into_iter()
                    .flatten()
                    .map(str::to_string)
                    .collect(),
            },
        },
        "addtoblacklist" | "removefromblacklist" => {
            let number = whole(arg, rest);
            if number.is_empty() {
                return Err(format!("{verb}: a number or user is needed"));
            }
            Command::Blacklist {
                change: if verb == "addtoblacklist" {
                    BlacklistChange::Add { number }
                } else {
                    BlacklistChange::Remove { number }
                },
            }
        }
        "addcontact" => {
            let name = arg.filter(|n| !n.is_empty());
            let address = rest.map(str::trim).filter(|a| !a.is_empty());
            let (Some(name), Some(address)) = (name, address) else {
                return Err("addcontact: AddContact,NAME,NUMBER-OR-URI".into());
            };
            Command::SaveContact {
                contact: Contact::new(name, address),
            }
        }
        "delcontact" | "deletecontact" => Command::DeleteContact {
            key: whole(arg, rest),
        },
        "getcontacts" => Command::GetContacts {
            search: whole(arg, rest),
        },
        // `SetContacts,NAME,ADDRESS,NAME,ADDRESS,...`; `SetContacts` alone empties the book.
        "setcontacts" => {
            let fields = user_list(line);
            if !fields.len().is_multiple_of(2) {
                return Err("setcontacts: SetContacts,NAME,ADDRESS[,NAME,ADDRESS...]".into());
            }
            Command::SetContacts {
                contacts: fields
                    .chunks(2)
                    .map(|pair| Contact::new(pair[0].as_str(), pair[1].as_str()))
                    .collect(),
            }
        }
        "testsound" => Command::TestSound,
        "inputlevel" => Command::InputLevel {
            on: switch("inputlevel", arg, true)?,
        },
        "listdevices" | "devices" => Command::ListDevices,
        "register" => Command::Register,
        "unregister" => Command::Unregister,
        "capabilityrequest" => Command::CapabilityRequest,
        "exit" => Command::Exit,
        "" => return Err("empty command".into()),
        other => return Err(format!("unknown command {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(
            parse_line("Call,1002"),
            Ok(Command::Call {
                number: "1002".into()
            })
        );
        // An empty number redials.
        for redial in ["call", "Call,", "call, "] {
            assert_eq!(
                parse_line(redial),
                Ok(Command::Call {
                    number: String::new()
                })
            );
        }
        assert_eq!(
            parse_line(" dtmf,2,12 3#"),
            Ok(Command::Dtmf {
                line: 2,
                digits: "12 3#".into()
            })
        );
        assert_eq!(parse_line("EXIT"), Ok(Command::Exit));
        assert_eq!(
            parse_line("Transfer,1,1003"),
            Ok(Command::Transfer {
                line: 1,
                target: "1003".into()
            })
        );
        assert_eq!(
            parse_line("transfer,2,"),
            Ok(Command::Transfer {
                line: 2,
                target: String::new()
            })
        );
        assert!(parse_line("Transfer").is_err());
        assert_eq!(
            parse_line("Forward,2,1004"),
            Ok(Command::Forward {
                line: 2,
                target: "1004".into()
            })
        );
        assert!(parse_line("Forward,2,").is_err());
        assert_eq!(
            parse_line("SetBlacklist,1005,spam"),
            Ok(Command::Blacklist {
                change: BlacklistChange::Set {
                    numbers: vec!["1005".into(), "spam".into()]
                }
            })
        );
        assert_eq!(
            parse_line("addtoblacklist, 1005 "),
            Ok(Command::Blacklist {
                change: BlacklistChange::Add {
                    number: "1005".into()
                }
            })
        );
        assert!(parse_line("AddToBlacklist").is_err());
        assert_eq!(
            parse_line("Park,1,5"),
            Ok(Command::Park {
                line: 1,
                orbit: "5".into()
            })
        );
        assert_eq!(
            parse_line("Park,2"),
            Ok(Command::Park {
                line: 2,
                orbit: String::new()
            })
        );
        assert!(parse_line("Unpark").is_err());
        assert_eq!(
            parse_line("SendChat,-1,1002,hello, are you free?"),
            Ok(Command::SendChat {
                peer: "1002".into(),
                text: "hello, are you free?".into()
            })
        );
        for bad in [
            "SendChat",
            "SendChat,-1,1002",
            "SendChat,-1,,hi",
            "SendChat,bob,1002,hi",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_line("checkvoicemail"), Ok(Command::CheckVoicemail));
        assert_eq!(
            parse_line("AddContact,Ada Lovelace,sip:1001@pbx"),
            Ok(Command::SaveContact {
                contact: Contact::new("Ada Lovelace", "sip:1001@pbx")
            })
        );
        assert_eq!(
            parse_line("DelContact,Ada, Countess"),
            Ok(Command::DeleteContact {
                key: "Ada, Countess".into()
            })
        );
        assert_eq!(
            parse_line("GetContacts"),
            Ok(Command::GetContacts {
                search: String::new()
            })
        );
        assert_eq!(
            parse_line("SetContacts,Ada,1001,Bob,1003"),
            Ok(Command::SetContacts {
                contacts: vec![Contact::new("Ada", "1001"), Contact::new("Bob", "1003")]
            })
        );
        for bad in [
            "AddContact",
            "AddContact,Ada",
            "AddContact,,1001",
            "SetContacts,Ada",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_line("CheckPresence,1002, 1003,,sip:x@pbx"),
            Ok(Command::CheckPresence {
                users: vec!["1002".into(), "1003".into(), "sip:x@pbx".into()]
            })
        );
        assert_eq!(
            parse_line("SetPresenceStatus,dnd"),
            Ok(Command::SetPresenceStatus {
                status: crate::model::PresenceStatus::Dnd
            })
        );
        for bad in [
            "SetPresenceStatus",
            "SetPresenceStatus,pending",
            "SetPresenceStatus,gone",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_line("Pickup"),
            Ok(Command::Pickup {
                extension: String::new()
            })
        );
        assert_eq!(
            parse_line("GetBlacklist"),
            Ok(Command::Blacklist {
                change: BlacklistChange::Get
            })
        );
        assert_eq!(
            parse_line("Hold,1,off"),
            Ok(Command::Hold { line: 1, on: false })
        );
        assert_eq!(
            parse_line("hold,2"),
            Ok(Command::Hold { line: 2, on: true })
        );
        assert!(parse_line("hold,1,maybe").is_err());
        let conf = |op| Ok(Command::Conference { op });
        assert_eq!(parse_line("Conf"), conf(ConferenceOp::Merge));
        assert_eq!(
            parse_line("Conf, 1003 "),
            conf(ConferenceOp::Add {
                number: "1003".into()
            })
        );
        assert_eq!(
            parse_line("ConfRemove,2"),
            conf(ConferenceOp::Remove { line: 2 })
        );
        assert!(parse_line("ConfRemove").is_err());
        assert_eq!(parse_line("confsplit"), conf(ConferenceOp::Split));
        assert_eq!(
            parse_line("ConfHold,off"),
            conf(ConferenceOp::Hold { on: false })
        );
        assert_eq!(
            parse_line("ConfHold"),
            conf(ConferenceOp::Hold { on: true })
        );
        assert_eq!(
            parse_line("Record,1"),
            Ok(Command::Record {
                line: 1,
                on: true,
                name: String::new()
            })
        );
        assert_eq!(
            parse_line("Record,2,off"),
            Ok(Command::Record {
                line: 2,
                on: false,
                name: String::new()
            })
        );
        assert_eq!(
            parse_line("record,1,on,support call 7"),
            Ok(Command::Record {
                line: 1,
                on: true,
                name: "support call 7".into()
            })
        );
        assert!(parse_line("Record,1,maybe").is_err());
        assert_eq!(
            parse_line("PlaySound,/tmp/hold.wav,on,1,2"),
            Ok(Command::PlaySound {
                file: "/tmp/hold.wav".into(),
                looped: true,
                local: false,
                remote: true,
                line: 2
            })
        );
        assert_eq!(
            parse_line("PlaySound,/tmp/beep.wav"),
            Ok(Command::PlaySound {
                file: "/tmp/beep.wav".into(),
                looped: false,
                local: true,
                remote: false,
                line: 0
            })
        );
        assert!(parse_line("PlaySound").is_err());
        assert!(parse_line("PlaySound,/tmp/x.wav,off,7").is_err());
        assert_eq!(parse_line("StopSound"), Ok(Command::StopSound));
        assert_eq!(
            parse_line("Mute,1,on,2"),
            Ok(Command::Mute {
                line: 1,
                on: true,
                direction: MuteDirection::Microphone
            })
        );
        assert_eq!(
            parse_line("mute,1,off"),
            Ok(Command::Mute {
                line: 1,
                on: false,
                direction: MuteDirection::Default
            })
        );
        assert_eq!(
            parse_line("mute,1,on,3"),
            Ok(Command::Mute {
                line: 1,
                on: true,
                direction: MuteDirection::Both
            })
        );
        assert!(parse_line("mute,1,on,7").is_err());
        assert_eq!(parse_line("SetLine,2"), Ok(Command::SetLine { line: 2 }));
        assert!(parse_line("hangup,0").is_err());
        assert!(parse_line("hangup,x").is_err());
        assert!(parse_line("dtmf,1").is_err());
        assert!(parse_line("fly,1").is_err());
        assert!(parse_line("").is_err());
        assert_eq!(
            parse_line("SetParameter,voicemailnum,*97,1"),
            Ok(Command::SetParameters {
                values: vec![ParamValue::new("voicemailnum", "*97,1")],
                persist: false
            })
        );
        assert_eq!(
            parse_line("saveparameter,maxlines,2"),
            Ok(Command::SetParameters {
                values: vec![ParamValue::new("maxlines", "2")],
                persist: true
            })
        );
        assert!(parse_line("SetParameter").is_err());
        assert_eq!(parse_line("ListDevices"), Ok(Command::ListDevices));
    }
}

//! The contacts tab: the address book with each contact's presence (the reference's colours)
//! and busy lamp, search, add/edit/delete, import and export, and call, chat and pick-up from
//! a row. Also our own presence status and the prompt for someone who asks to watch it.
//!
//! What is watched follows the book: with `enablepresence` every contact's address is
//! watched (CheckPresence), and the contacts with a speed-dial key get a busy lamp
//! (WatchBusyLamps), as the BLF keys of a desk phone do. The file is read and written here,
//! in the face: the engine takes and gives the text only.

use super::app::{SoftphoneApp, Tab};
use crate::model::{
    Command, Contact, ContactFormat, LampState, PhoneNumber, PresenceStatus, WatcherStatus,
};
use egui::{Color32, RichText};

/// The reference's presence colours: green available, red busy or DND, orange away or on the
/// phone (or waiting for authorization), grey offline or unknown.
pub fn presence_colour(status: PresenceStatus) -> Color32 {
    match status {
        PresenceStatus::Online => Color32::from_rgb(0x2e, 0xa1, 0x5f),
        PresenceStatus::Dnd => Color32::from_rgb(0xd0, 0x3a, 0x2f),
        PresenceStatus::Away | PresenceStatus::Speaking | PresenceStatus::Pending => {
            Color32::from_rgb(0xe0, 0x8a, 0x12)
        }
        PresenceStatus::Invisible | PresenceStatus::Offline | PresenceStatus::Unknown => {
            Color32::from_rgb(0x90, 0x90, 0x90)
        }
    }
}

/// A busy lamp's colour, as on a desk phone: green idle, orange ringing, red in a call, grey
/// when the server does not say.
pub fn lamp_colour(state: LampState) -> Color32 {
    match state {
        LampState::Idle => Color32::from_rgb(0x2e, 0xa1, 0x5f),
        LampState::Ringing => Color32::from_rgb(0xe0, 0x8a, 0x12),
        LampState::InCall => Color32::from_rgb(0xd0, 0x3a, 0x2f),
        LampState::Unknown => Color32::from_rgb(0x90, 0x90, 0x90),
    }
}

/// The statuses the user may set for us.
const OUR_STATUSES: [PresenceStatus; 5] = [
    PresenceStatus::Online,
    PresenceStatus::Away,
    PresenceStatus::Dnd,
    PresenceStatus::Invisible,
    PresenceStatus::Offline,
];

/// The contact being added or edited, as typed.
#[derive(Debug, Clone, Default)]
pub struct ContactForm {
    /// 0 while adding.
    pub id: i64,
    pub name: String,
    pub address: String,
    /// One number a line, `label: number` or just the number.
    pub phones: String,
    pub speed_dial: String,
    pub notes: String,
}

impl ContactForm {
    fn of(c: &Contact) -> ContactForm {
        ContactForm {
            id: c.id,
            name: c.name.clone(),
            address: c.uri.clone(),
            phones: c
                .phones
                .iter()
                .map(|p| {
                    if p.label.is_empty() {
                        p.number.clone()
                    } else {
                        format!("{}: {}", p.label, p.number)
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
            speed_dial: c.speed_dial.clone(),
            notes: c.notes.clone(),
        }
    }

    fn contact(&self) -> Contact {
        Contact {
            id: self.id,
            name: self.name.trim().to_string(),
            uri: self.address.trim().to_string(),
            phones: self
                .phones
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| match l.split_once(':') {
                    Some((label, number))
                        if !label.trim().is_empty()
                            && label.chars().all(|c| c.is_alphabetic() || c == ' ') =>
                    {
                        PhoneNumber {
                            label: label.trim().to_string(),
                            number: number.trim().to_string(),
                        }
                    }
                    _ => PhoneNumber {
                        label: String::new(),
                        number: l.trim().to_string(),
                    },
                })
                .collect(),
            speed_dial: self.speed_dial.trim().to_string(),
            notes: self.notes.clone(),
        }
    }
}

impl SoftphoneApp {
    /// Our status, for the others: set and published (SetPresenceStatus).
    pub fn our_presence_ui(&mut self, ui: &mut egui::Ui) {
        let current = self.view.our_status.unwrap_or(PresenceStatus::Online);
        let mut chosen = current;
        let label = ui.label(self.tr.t("presence-ours"));
        egui::ComboBox::from_id_salt("our-presence")
            .selected_text(self.presence_word(current))
            .show_ui(ui, |ui| {
                for s in OUR_STATUSES {
                    ui.selectable_value(&mut chosen, s, self.presence_word(s));
                }
            })
            .response
            .labelled_by(label.id);
        if chosen != current {
            self.view.our_status = Some(chosen);
            self.send(Command::SetPresenceStatus { status: chosen });
        }
    }

    /// A presence status in the window's language.
    pub fn presence_word(&self, s: PresenceStatus) -> String {
        self.tr.t(match s {
            PresenceStatus::Online => "presence-online",
            PresenceStatus::Away => "presence-away",
            PresenceStatus::Dnd => "presence-dnd",
            PresenceStatus::Speaking => "presence-speaking",
            PresenceStatus::Invisible => "presence-invisible",
            PresenceStatus::Offline => "presence-offline",
            PresenceStatus::Pending => "presence-pending",
            PresenceStatus::Unknown => "presence-unknown",
        })
    }

    fn lamp_word(&self, s: LampState) -> String {
        self.tr.t(match s {
            LampState::Idle => "lamp-idle",
            LampState::Ringing => "lamp-ringing",
            LampState::InCall => "lamp-in-call",
            LampState::Unknown => "lamp-unknown",
        })
    }

    /// Keeps the watched presence and busy lamps in step with the address book.
    pub fn follow_contacts(&mut self) {
        if self.state.flag("enablepresence") {
            let mut users: Vec<String> = self
                .state
                .contacts
                .iter()
                .map(|c| c.address().to_string())
                .filter(|a| !a.is_empty())
                .collect();
            users.dedup();
            if users != self.view.watched_presence {
                self.view.watched_presence = users.clone();
                self.send(Command::CheckPresence { users });
            }
        }
        let lamps: Vec<String> = self
            .state
            .contacts
            .iter()
            .filter(|c| !c.speed_dial.trim().is_empty())
            .map(|c| c.address().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if lamps != self.view.watched_lamps {
            self.view.watched_lamps = lamps.clone();
            self.send(Command::WatchBusyLamps { users: lamps });
        }
    }

    /// The contact's presence as the engine last reported it, by the address it was asked
    /// for or its user part.
    fn presence_of(&self, c: &Contact) -> Option<PresenceStatus> {
        let address = c.address();
        self.state
            .presence
            .iter()
            .find(|(user, _)| user.as_str() == address || c.reached_at(user))
            .map(|(_, (status, _))| *status)
    }

    fn lamp_of(&self, c: &Contact) -> Option<(String, LampState, bool)> {
        let address = c.address();
        self.state
            .lamps
            .iter()
            .find(|(user, _)| user.as_str() == address || c.reached_at(user))
            .map(|(user, (state, pickup))| (user.clone(), *state, *pickup))
    }

    /// The address book tab.
    pub fn contacts_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            self.our_presence_ui(ui);
        });
        if !self.state.watchers.is_empty() {
            self.watchers_ui(ui);
        }
        ui.horizontal(|ui| {
            let label = ui.label(self.tr.t("contacts-search"));
            ui.add(egui::TextEdit::singleline(&mut self.view.contact_search).desired_width(160.0))
                .labelled_by(label.id);
            if ui.button(self.tr.t("contacts-add")).clicked() {
                self.view.contact_form = Some(ContactForm::default());
            }
        });
        if self.view.contact_form.is_some() {
            self.contact_form_ui(ui);
            ui.separator();
        }
        let shown: Vec<Contact> = self
            .state
            .contacts
            .iter()
            .filter(|c| c.matches(&self.view.contact_search))
            .cloned()
            .collect();
        if self.state.contacts.is_empty() {
            ui.label(self.tr.t("contacts-empty"));
        }
        egui::ScrollArea::vertical()
            .max_height(ui.available_height() - 60.0)
            .show(ui, |ui| {
                for c in &shown {
                    ui.push_id(c.id, |ui| self.contact_row_ui(ui, c));
                    ui.separator();
                }
            });
        ui.separator();
        self.contacts_file_ui(ui);
    }

    /// Who watches our presence: at the server (its presence.winfo list; who may is decided
    /// there) or directly (a waiting one can be allowed or refused here).
    fn watchers_ui(&mut self, ui: &mut egui::Ui) {
        let count = self.state.watchers.len().to_string();
        let watchers = self.state.watchers.clone();
        egui::CollapsingHeader::new(self.tr.args("watchers-title", &[("count", &count)]))
            .id_salt("watchers")
            .show(ui, |ui| {
                for (i, w) in watchers.iter().enumerate() {
                    ui.push_id(i, |ui| {
                        ui.horizontal_wrapped(|ui| {
                            let who = if w.display.is_empty() {
                                w.address.clone()
                            } else {
                                format!("{} <{}>", w.display, w.address)
                            };
                            ui.label(who);
                            let status = match (w.status, w.at_server) {
                                (WatcherStatus::Active, _) => "watcher-active",
                                (_, true) => "watcher-pending-server",
                                (_, false) => "watcher-pending",
                            };
                            let via = if w.at_server {
                                "watcher-at-server"
                            } else {
                                "watcher-direct"
                            };
                            ui.weak(format!("{}, {}", self.tr.t(status), self.tr.t(via)));
                            if w.status != WatcherStatus::Active && !w.at_server {
                                for (key, allow) in
                                    [("watcher-allow", true), ("watcher-refuse", false)]
                                {
                                    if ui.button(self.tr.t(key)).clicked() {
                                        self.view.watcher_requests.retain(|r| r != &w.address);
                                        self.send(Command::AllowWatcher {
                                            watcher: w.address.clone(),
                                            allow,
                                        });
                                    }
                                }
                            }
                        });
                    });
                }
            });
    }

    /// One contact: presence, name and lamp on a line, its actions on the next (wrapped, so
    /// that a narrow window still shows them all).
    fn contact_row_ui(&mut self, ui: &mut egui::Ui, c: &Contact) {
        ui.horizontal(|ui| self.contact_status_ui(ui, c));
        ui.horizontal_wrapped(|ui| self.contact_actions_ui(ui, c));
    }

    fn contact_status_ui(&mut self, ui: &mut egui::Ui, c: &Contact) {
        let status = self.presence_of(c);
        let colour = status.map_or(Color32::from_rgb(0x90, 0x90, 0x90), presence_colour);
        // Painted, not a glyph: not every font has one.
        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter().circle_filled(rect.center(), 5.0, colour);
        let mut who = c.name.clone();
        if let Some(s) = status {
            who = format!("{who} ({})", self.presence_word(s));
        }
        ui.label(who).on_hover_text(c.address());
        if let Some((_, state, _)) = self.lamp_of(c) {
            ui.horizontal(|ui| {
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                ui.painter()
                    .rect_filled(rect.shrink(1.0), 2.0, lamp_colour(state));
                ui.label(RichText::new(self.lamp_word(state)).color(lamp_colour(state)));
            });
        }
    }

    fn contact_actions_ui(&mut self, ui: &mut egui::Ui, c: &Contact) {
        let address = c.address().to_string();
        if ui
            .add_enabled(
                !address.is_empty(),
                egui::Button::new(self.tr.t("contacts-call")),
            )
            .clicked()
        {
            self.view.tab = Some(Tab::Phone);
            self.send(Command::Call {
                number: address.clone(),
            });
        }
        let unread = self.view.chats.get(c.user()).map_or(0, |chat| chat.unread);
        let chat_label = if unread > 0 {
            self.tr
                .args("contacts-chat-unread", &[("count", &unread.to_string())])
        } else {
            self.tr.t("contacts-chat")
        };
        if ui
            .add_enabled(!address.is_empty(), egui::Button::new(chat_label))
            .clicked()
        {
            self.open_chat(&address);
        }
        if let Some((user, LampState::Ringing, _)) = self.lamp_of(c)
            && ui.button(self.tr.t("contacts-pickup")).clicked()
        {
            self.view.tab = Some(Tab::Phone);
            self.send(Command::Pickup { extension: user });
        }
        if ui.button(self.tr.t("contacts-edit")).clicked() {
            self.view.contact_form = Some(ContactForm::of(c));
        }
        if ui.button(self.tr.t("contacts-delete")).clicked() {
            self.send(Command::DeleteContact {
                key: c.id.to_string(),
            });
        }
    }

    fn contact_form_ui(&mut self, ui: &mut egui::Ui) {
        let Some(mut form) = self.view.contact_form.take() else {
            return;
        };
        let mut done = false;
        egui::Grid::new("contact-form")
            .num_columns(2)
            .show(ui, |ui| {
                for (key, value, multiline) in [
                    ("contact-name", &mut form.name, false),
                    ("contact-address", &mut form.address, false),
                    ("contact-phones", &mut form.phones, true),
                    ("contact-speed-dial", &mut form.speed_dial, false),
                    ("contact-notes", &mut form.notes, true),
                ] {
                    let label = ui.label(self.tr.t(key));
                    let edit = if multiline {
                        egui::TextEdit::multiline(value).desired_rows(2)
                    } else {
                        egui::TextEdit::singleline(value)
                    };
                    ui.add(edit.desired_width(200.0)).labelled_by(label.id);
                    ui.end_row();
                }
            });
        ui.horizontal(|ui| {
            let c = form.contact();
            let complete = !c.name.is_empty() || !c.address().is_empty();
            if ui
                .add_enabled(complete, egui::Button::new(self.tr.t("contacts-save")))
                .clicked()
            {
                self.send(Command::SaveContact { contact: c });
                done = true;
            }
            if ui.button(self.tr.t("contacts-cancel")).clicked() {
                done = true;
            }
        });
        if !done {
            self.view.contact_form = Some(form);
        }
    }

    /// Import from and export to a file named by its path (`.vcf` or `.csv`).
    fn contacts_file_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label(self.tr.t("contacts-file"));
            ui.add(
                egui::TextEdit::singleline(&mut self.view.contacts_file)
                    .hint_text("contacts.vcf")
                    .desired_width(160.0),
            )
            .labelled_by(label.id);
            let path = self.view.contacts_file.trim().to_string();
            let format = ContactFormat::from_file_name(&path);
            if ui
                .add_enabled(
                    format.is_some(),
                    egui::Button::new(self.tr.t("contacts-import")),
                )
                .clicked()
                && let Some(format) = format
            {
                match std::fs::read(&path) {
                    Ok(bytes) => self.send(Command::ImportContacts {
                        format,
                        text: String::from_utf8_lossy(&bytes).into_owned(),
                    }),
                    Err(e) => self.view.contacts_message = Some(format!("{path}: {e}")),
                }
            }
            if ui
                .add_enabled(
                    format.is_some(),
                    egui::Button::new(self.tr.t("contacts-export")),
                )
                .clicked()
                && let Some(format) = format
            {
                self.view.export_to = Some(path);
                self.send(Command::ExportContacts { format });
            }
        });
        if let Some(m) = &self.view.contacts_message {
            ui.label(m.as_str());
        }
    }

    /// What the contacts tab makes of an engine event: an export to write, an import's
    /// outcome to show.
    pub fn contacts_event(&mut self, ev: &crate::model::Event) {
        use crate::model::Event;
        match ev {
            Event::ContactsExported { text, .. } => {
                if let Some(path) = self.view.export_to.take() {
                    self.view.contacts_message = Some(match std::fs::write(&path, text) {
                        Ok(()) => self.tr.args("contacts-exported", &[("path", &path)]),
                        Err(e) => format!("{path}: {e}"),
                    });
                }
            }
            Event::ContactsImported {
                added,
                updated,
                problems,
            } => {
                self.view.contacts_message = Some(self.tr.args(
                    "contacts-imported",
                    &[
                        ("added", &added.to_string()),
                        ("updated", &updated.to_string()),
                        ("skipped", &problems.len().to_string()),
                    ],
                ));
            }
            Event::WatcherRequest { watcher } if !self.view.watcher_requests.contains(watcher) => {
                self.view.watcher_requests.push(watcher.clone());
            }
            _ => {}
        }
    }

    /// Asks the user about each watcher waiting for an answer.
    pub fn watcher_requests_ui(&mut self, ctx: &egui::Context) {
        let Some(watcher) = self.view.watcher_requests.first().cloned() else {
            return;
        };
        let answer = super::question_ui(
            ctx,
            &self.tr.t("watcher-title"),
            &self.tr.args("watcher-asks", &[("watcher", &watcher)]),
            &self.tr.t("watcher-allow"),
            &self.tr.t("watcher-refuse"),
        );
        if let Some(allow) = answer {
            self.view.watcher_requests.remove(0);
            self.send(Command::AllowWatcher { watcher, allow });
        }
    }
}

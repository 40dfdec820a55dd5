//! The phone face: status line and account, number entry and dial pad, lines, call controls,
//! the incoming-call popup, history, log, and the compact click-to-call face. Each control is
//! shown only when its `has…` parameter allows it and the engine can do what it asks.

use super::app::{SoftphoneApp, Tab};
use super::state::{Account, LineState, clock};
use crate::model::{Command, MuteDirection, ParamValue};
use egui::{Button, RichText};

const PAD: [[char; 3]; 4] = [
    ['1', '2', '3'],
    ['4', '5', '6'],
    ['7', '8', '9'],
    ['*', '0', '#'],
];

impl SoftphoneApp {
    /// The status text for the account (and the engine).
    pub fn status_text(&self) -> String {
        if self.state.stopped {
            return self.tr.t("status-stopped");
        }
        match &self.state.account {
            Account::Idle => self.tr.t("status-idle"),
            Account::Connecting => self.tr.t("status-connecting"),
            Account::Registered => self.tr.t("status-registered"),
            Account::Failed { reason } => self.tr.args("status-failed", &[("reason", reason)]),
            Account::Disconnected => self.tr.t("status-disconnected"),
        }
    }

    /// What a line shows: its state, the peer and the call timer.
    pub fn line_text(&self, line: u32, now_ms: i64) -> String {
        let Some(l) = self.state.lines.get(&line) else {
            return self.tr.args("line-free", &[("line", &line.to_string())]);
        };
        let who = l.who();
        let peer = [("peer", who.as_str())];
        let shown = LineState::of(l);
        let text = match shown {
            LineState::Calling => self.tr.args("state-calling", &peer),
            LineState::Ringing => self.tr.args("state-ringing", &peer),
            LineState::Incoming => self.tr.args("state-incoming", &peer),
            LineState::Ending => self.tr.t("state-ending"),
            LineState::InCall if l.hold_local => self.tr.args("state-on-hold", &peer),
            LineState::InCall if l.hold_remote => self.tr.args("state-held", &peer),
            LineState::InCall => self.tr.args("state-in-call", &peer),
        };
        if shown == LineState::InCall {
            format!(
                "{text}  {}",
                clock(std::time::Duration::from_millis(l.talk_ms(now_ms)))
            )
        } else {
            text
        }
    }

    fn dial_button(&self, text: String) -> Button<'static> {
        let mut t = RichText::new(text).strong();
        if let Some(c) = self.skin.get("dial_foreground") {
            t = t.color(c);
        }
        let mut b = Button::new(t);
        if let Some(c) = self.skin.get("dial_background") {
            b = b.fill(c);
        }
        b
    }

    /// The main window: status and account on top, tabs, then the open tab.
    pub fn main_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("status").show(ui, |ui| self.account_ui(ui));
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                let unread = self.view.chats.unread();
                let chat = if unread > 0 {
                    self.tr
                        .args("tab-chat-unread", &[("count", &unread.to_string())])
                } else {
                    self.tr.t("tab-chat")
                };
                let mut tabs = vec![
                    (Tab::Phone, self.tr.t("tab-phone")),
                    (Tab::Contacts, self.tr.t("tab-contacts")),
                    (Tab::Chat, chat),
                    (Tab::History, self.tr.t("tab-history")),
                ];
                if self.state.flag("hasaudio") {
                    tabs.push((Tab::Audio, self.tr.t("tab-audio")));
                }
                tabs.push((Tab::Settings, self.tr.t("tab-settings")));
                tabs.push((Tab::Log, self.tr.t("tab-log")));
                let open = self.view.tab.unwrap_or(Tab::Phone);
                for (tab, label) in tabs {
                    if ui.selectable_label(open == tab, label).clicked() {
                        self.view.tab = Some(tab);
                    }
                }
            });
        });
        // The level meter runs while the audio screen is open.
        let audio_open = self.view.tab == Some(Tab::Audio);
        if audio_open != self.view.meter_on {
            self.view.meter_on = audio_open;
            self.state.input_level = None;
            self.send(Command::InputLevel { on: audio_open });
        }
        egui::CentralPanel::default().show(ui, |ui| match self.view.tab.unwrap_or(Tab::Phone) {
            Tab::Phone => self.phone_ui(ui),
            Tab::Contacts => self.contacts_ui(ui),
            Tab::Chat => self.chat_ui(ui),
            Tab::History => self.history_ui(ui),
            Tab::Log => self.log_ui(ui),
            Tab::Settings => self.settings_ui(ui),
            Tab::Audio => self.audio_ui(ui),
        });
    }

    /// The status line, the connect control and (unless hidden) the account entries.
    /// The voicemail button: shown when there is a box to call or the server told us of one;
    /// it carries the count of new messages and calls the box (`CheckVoicemail`).
    fn voicemail_ui(&mut self, ui: &mut egui::Ui) {
        let waiting = self.state.voicemail.filter(|m| m.waiting);
        if waiting.is_none() && self.state.param("voicemailnum").trim().is_empty() {
            return;
        }
        let label = match waiting {
            Some(m) if m.new > 0 => self
                .tr
                .args("account-voicemail-new", &[("count", &m.new.to_string())]),
            _ => self.tr.t("account-voicemail"),
        };
        let button = egui::Button::new(label).selected(waiting.is_some());
        if ui.add(button).clicked() {
            self.send(Command::CheckVoicemail);
        }
    }

    pub fn account_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let colour = match self.state.account {
                Account::Registered => egui::Color32::from_rgb(0x2e, 0xa1, 0x5f),
                Account::Failed { .. } => egui::Color32::from_rgb(0xd0, 0x3a, 0x2f),
                _ => egui::Color32::from_rgb(0xc9, 0x8a, 0x12),
            };
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().circle_filled(rect.center(), 5.0, colour);
            ui.label(self.status_text());
            if self.state.flag("hasconnect") {
                let connected = matches!(
                    self.state.account,
                    Account::Registered | Account::Connecting
                );
                let label = if connected {
                    self.tr.t("account-disconnect")
                } else {
                    self.tr.t("account-connect")
                };
                if ui.button(label).clicked() {
                    if connected {
                        self.send(Command::Unregister);
                    } else {
                        self.connect();
                    }
                }
            }
            // Do not disturb, kept across restarts like a desk phone's key.
            let mut dnd = self.state.flag("dnd");
            if ui
                .toggle_value(&mut dnd, self.tr.t("account-dnd"))
                .clicked()
            {
                self.send(Command::SetParameters {
                    values: vec![crate::model::ParamValue::new(
                        "dnd",
                        if dnd { "true" } else { "false" },
                    )],
                    persist: true,
                });
            }
            self.voicemail_ui(ui);
        });
        if self.state.flag("hideusernamepwdinput") || self.state.account == Account::Registered {
            return;
        }
        egui::Grid::new("account").num_columns(2).show(ui, |ui| {
            let mut fields = vec![
                ("account-server", &mut self.view.account_server, false),
                ("account-user", &mut self.view.account_user, false),
                ("account-password", &mut self.view.account_password, true),
            ];
            if self.state.flag("hasdisplayname") {
                fields.push(("account-display", &mut self.view.account_display, false));
            }
            for (key, value, secret) in fields {
                let label = ui.label(self.tr.t(key));
                ui.add(
                    egui::TextEdit::singleline(value)
                        .password(secret)
                        .desired_width(180.0),
                )
                .labelled_by(label.id);
                ui.end_row();
            }
        });
    }

    /// Sends the account entries that changed, then registers (a changed account registers by
    /// itself). The password is kept only when `savepassword` says so, and then in the keyring.
    pub fn connect(&mut self) {
        let mut kept = Vec::new();
        for (name, value) in [
            ("serveraddress", self.view.account_server.trim().to_string()),
            ("username", self.view.account_user.trim().to_string()),
            ("displayname", self.view.account_display.trim().to_string()),
        ] {
            if value != self.state.param(name) {
                kept.push(ParamValue::new(name, value));
            }
        }
        let changed = !kept.is_empty() || !self.view.account_password.is_empty();
        if !kept.is_empty() {
            self.send(Command::SetParameters {
                values: kept,
                persist: true,
            });
        }
        if !self.view.account_password.is_empty() {
            let password = std::mem::take(&mut self.view.account_password);
            self.send(Command::SetParameters {
                values: vec![ParamValue::new("password", password)],
                persist: self.state.flag("savepassword"),
            });
        }
        if !changed {
            self.send(Command::Register);
        }
    }

    /// Number entry, dial pad, Call/Hangup/Redial, the lines and the active call's controls.
    pub fn phone_ui(&mut self, ui: &mut egui::Ui) {
        if self.state.flag("hasextension") {
            ui.horizontal(|ui| {
                let label = ui.label(self.tr.t("dial-number"));
                let r = ui.add(
                    egui::TextEdit::singleline(&mut self.view.number)
                        .hint_text("1002")
                        .desired_width(170.0),
                );
                let r = r.labelled_by(label.id);
                if r.changed() {
                    self.view.number = Self::clean_number(&self.view.number);
                }
                if ui.button(self.tr.t("dial-backspace")).clicked() {
                    self.view.number.pop();
                }
            });
            let in_call = self
                .state
                .active_line()
                .and_then(|l| self.state.lines.get(&l))
                .is_some_and(|l| LineState::of(l) == LineState::InCall);
            if !in_call || self.view.keypad_open {
                self.pad_ui(ui);
            }
        }
        ui.horizontal(|ui| {
            if self.state.flag("hascallhangup") {
                if ui.add(self.dial_button(self.tr.t("dial-call"))).clicked() {
                    self.call_typed();
                }
                let can_hang_up = self.state.active_line().is_some();
                if ui
                    .add_enabled(can_hang_up, Button::new(self.tr.t("dial-hangup")))
                    .clicked()
                {
                    self.hang_up();
                }
            }
            if self.state.flag("hasredial")
                && self.state.last_dialled().is_some()
                && ui.button(self.tr.t("dial-redial")).clicked()
            {
                // An empty number is the engine's redial.
                self.send(Command::Call {
                    number: String::new(),
                });
            }
        });
        self.feature_codes_ui(ui);
        ui.separator();
        if self.state.flag("multilinegui") {
            self.lines_ui(ui);
        }
        self.controls_ui(ui);
        self.conference_ui(ui);
    }

    /// Pickup (of the extension typed, or the whole group when none is) and retrieving a
    /// parked call (from the orbit typed), shown when the PBX's codes are set.
    fn feature_codes_ui(&mut self, ui: &mut egui::Ui) {
        let pickup = !self.state.param("pickupcode").is_empty()
            || !self.state.param("directedpickupcode").is_empty();
        let park = !self.state.param("parkcode").is_empty();
        if !pickup && !park {
            return;
        }
        ui.horizontal(|ui| {
            let typed = self.view.number.trim().to_string();
            if pickup && ui.button(self.tr.t("call-pickup")).clicked() {
                self.send(Command::Pickup {
                    extension: typed.clone(),
                });
                self.view.number.clear();
            }
            if park
                && ui
                    .add_enabled(!typed.is_empty(), Button::new(self.tr.t("call-retrieve")))
                    .clicked()
            {
                self.send(Command::Unpark { orbit: typed });
                self.view.number.clear();
            }
        });
    }

    fn pad_ui(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("pad").spacing([6.0, 6.0]).show(ui, |ui| {
            for row in PAD {
                for key in row {
                    let b = Button::new(RichText::new(key.to_string()).size(20.0))
                        .min_size(egui::vec2(56.0, 36.0));
                    if ui.add(b).clicked() {
                        self.pad_key(key);
                    }
                }
                ui.end_row();
            }
        });
    }

    /// One button per line (up to `maxlines`): state and timer; a click makes it current.
    pub fn lines_ui(&mut self, ui: &mut egui::Ui) {
        let now = super::state::now_ms();
        let max = self
            .state
            .param("maxlines")
            .parse::<u32>()
            .unwrap_or(4)
            .clamp(1, 99);
        let current = self.state.active_line();
        for line in 1..=max {
            let text = if self.state.lines.contains_key(&line) {
                format!(
                    "{}: {}",
                    self.tr.args("line-label", &[("line", &line.to_string())]),
                    self.line_text(line, now)
                )
            } else {
                self.line_text(line, now)
            };
            if ui.selectable_label(current == Some(line), text).clicked() && current != Some(line) {
                self.state.current_line = Some(line);
                self.send(Command::SetLine { line });
            }
        }
    }

    /// The active call's controls: accept/reject while it rings here (when there is no
    /// popup), hold, mute and keypad once it is up.
    pub fn controls_ui(&mut self, ui: &mut egui::Ui) {
        let Some(line) = self.state.active_line() else {
            return;
        };
        let Some(l) = self.state.lines.get(&line).cloned() else {
            return;
        };
        if !self.state.flag("multilinegui") {
            ui.label(self.line_text(line, super::state::now_ms()));
        }
        ui.horizontal(|ui| match LineState::of(&l) {
            // With the popup on, it holds Accept and Reject.
            LineState::Incoming if !self.state.flag("hasincomingcall") => {
                if let Some(d) = &l.diverted {
                    ui.label(self.diverted_text(d));
                }
                if ui.add(self.dial_button(self.tr.t("call-accept"))).clicked() {
                    self.send(Command::Accept { line });
                }
                if ui.button(self.tr.t("call-reject")).clicked() {
                    self.send(Command::Hangup { line });
                }
                ui.toggle_value(&mut self.view.forward_open, self.tr.t("call-forward"));
            }
            LineState::InCall => {
                if self.state.flag("hashold") {
                    let label = if l.hold_local {
                        self.tr.t("call-resume")
                    } else {
                        self.tr.t("call-hold")
                    };
                    if ui.button(label).clicked() {
                        self.send(Command::Hold {
                            line,
                            on: !l.hold_local,
                        });
                    }
                }
                if self.state.flag("hasmute") {
                    let label = if l.muted() {
                        self.tr.t("call-unmute")
                    } else {
                        self.tr.t("call-mute")
                    };
                    if ui.button(label).clicked() {
                        self.send(Command::Mute {
                            line,
                            on: !l.muted(),
                            direction: MuteDirection::Default,
                        });
                    }
                }
                if self.state.flag("hasextension") {
                    ui.toggle_value(&mut self.view.keypad_open, self.tr.t("call-keypad"));
                }
                ui.toggle_value(&mut self.view.transfer_open, self.tr.t("call-transfer"));
                let recording = l.recording.is_some();
                let label = if recording {
                    self.tr.t("call-record-stop")
                } else {
                    self.tr.t("call-record")
                };
                if ui.button(label).clicked() {
                    self.send(Command::Record {
                        line,
                        on: !recording,
                        name: String::new(),
                    });
                }
                if let Some(path) = &l.recording {
                    ui.colored_label(egui::Color32::RED, self.tr.t("call-recording"))
                        .on_hover_text(path.as_str());
                }
                // Parks in the orbit typed on the number entry, or where the PBX puts it.
                if !self.state.param("parkcode").is_empty()
                    && ui.button(self.tr.t("call-park")).clicked()
                {
                    let orbit = self.view.number.trim().to_string();
                    self.send(Command::Park { line, orbit });
                    self.view.number.clear();
                }
            }
            _ => {}
        });
        if self.view.transfer_open && LineState::of(&l) == LineState::InCall {
            self.transfer_ui(ui, line);
        }
        if self.view.forward_open
            && LineState::of(&l) == LineState::Incoming
            && !self.state.flag("hasincomingcall")
        {
            self.forward_ui(ui, line);
        }
        if let Some(t) = &l.transfer {
            ui.label(self.transfer_text(t));
        }
    }

    /// A labelled target entry and its button (also Enter in the entry): the target typed,
    /// trimmed, when the user asked to go. Shared by the transfer and forward rows.
    fn target_entry_ui(
        ui: &mut egui::Ui,
        texts: (String, String),
        hint: &str,
        target: &mut String,
    ) -> Option<String> {
        let (label_text, go_text) = texts;
        let label = ui.label(label_text);
        let entry = ui
            .add(
                egui::TextEdit::singleline(target)
                    .desired_width(120.0)
                    .hint_text(hint),
            )
            .labelled_by(label.id);
        let typed = target.trim().to_string();
        let go = ui
            .add_enabled(!typed.is_empty(), egui::Button::new(go_text))
            .clicked()
            || (entry.lost_focus()
                && ui.input(|i| i.key_pressed(egui::Key::Enter))
                && !typed.is_empty());
        go.then(|| {
            target.clear();
            typed
        })
    }

    /// The transfer row: a target for a blind transfer, or (when another call is up) connect
    /// this call with it (attended transfer).
    fn transfer_ui(&mut self, ui: &mut egui::Ui, line: u32) {
        let other_call = self
            .state
            .lines
            .iter()
            .any(|(n, o)| *n != line && LineState::of(o) == LineState::InCall);
        ui.horizontal(|ui| {
            let texts = (self.tr.t("transfer-to"), self.tr.t("transfer-blind"));
            if let Some(target) =
                Self::target_entry_ui(ui, texts, "1003", &mut self.view.transfer_target)
            {
                self.send(Command::Transfer { line, target });
                self.view.transfer_open = false;
            }
            if other_call && ui.button(self.tr.t("transfer-connect")).clicked() {
                self.send(Command::Transfer {
                    line,
                    target: String::new(),
                });
                self.view.transfer_open = false;
            }
        });
    }

    /// The forward row of a ringing call: where to send it (302), without answering it.
    fn forward_ui(&mut self, ui: &mut egui::Ui, line: u32) {
        ui.horizontal(|ui| {
            let texts = (self.tr.t("forward-to"), self.tr.t("forward-go"));
            if let Some(target) =
                Self::target_entry_ui(ui, texts, "1004", &mut self.view.forward_target)
            {
                self.send(Command::Forward { line, target });
                self.view.forward_open = false;
            }
        });
    }

    /// Who passed a ringing call on to us and why ("Forwarded by 1005: busy").
    fn diverted_text(&self, (from, reason): &(String, crate::model::DiversionReason)) -> String {
        use crate::model::DiversionReason as R;
        let why = self.tr.t(match reason {
            R::Busy => "diversion-busy",
            R::NoAnswer => "diversion-no-answer",
            R::Unconditional => "diversion-unconditional",
            R::Unavailable => "diversion-unavailable",
            R::Deflection => "diversion-deflection",
            R::NotNow => "diversion-not-now",
            R::Unknown => "diversion-unknown",
        });
        self.tr.args(
            "incoming-diverted",
            &[("from", from.as_str()), ("reason", why.as_str())],
        )
    }

    /// The latest word on a line's transfer, for people.
    fn transfer_text(&self, t: &crate::model::TransferStep) -> String {
        use crate::model::TransferState;
        let id = match t.state {
            TransferState::Requested => "transfer-requested",
            TransferState::Accepted => "transfer-accepted",
            TransferState::Progress => "transfer-progress",
            TransferState::Succeeded => "transfer-succeeded",
            TransferState::Failed => "transfer-failed",
        };
        let reason = match t.code {
            Some(c) if t.state == TransferState::Progress => format!("{c} {}", t.reason),
            _ => t.reason.clone(),
        };
        self.tr.args(
            id,
            &[("target", t.target.as_str()), ("reason", reason.as_str())],
        )
    }

    /// The incoming-call popup: who calls, Accept, Reject and Forward.
    pub fn incoming_ui(&mut self, ctx: &egui::Context) {
        let Some((line, l)) = self.state.incoming() else {
            return;
        };
        let who = l.who();
        let diverted = l.diverted.clone();
        let mut action = None;
        let mut forward_open = self.view.forward_open;
        egui::Window::new(self.tr.t("incoming-title"))
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ctx, |ui| {
                ui.label(RichText::new(&who).heading());
                if let Some(d) = &diverted {
                    ui.label(self.diverted_text(d));
                }
                ui.label(self.tr.args("line-label", &[("line", &line.to_string())]));
                ui.horizontal(|ui| {
                    if ui.add(self.dial_button(self.tr.t("call-accept"))).clicked() {
                        action = Some(Command::Accept { line });
                    }
                    if ui.button(self.tr.t("call-reject")).clicked() {
                        action = Some(Command::Hangup { line });
                    }
                    ui.toggle_value(&mut forward_open, self.tr.t("call-forward"));
                });
                self.view.forward_open = forward_open;
                if forward_open {
                    self.forward_ui(ui, line);
                }
            });
        if let Some(c) = action {
            self.send(c);
        }
    }

    /// The call history, newest first, with call-back.
    pub fn history_ui(&mut self, ui: &mut egui::Ui) {
        if self.state.history.is_empty() {
            ui.label(self.tr.t("history-empty"));
            return;
        }
        let mut call = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("history").striped(true).show(ui, |ui| {
                for (i, c) in self.state.history.iter().take(500).enumerate() {
                    let answered = c.connect_ms > 0 || c.duration_ms > 0;
                    let kind = match (c.outgoing, answered) {
                        (true, true) => self.tr.t("history-outgoing"),
                        (true, false) => self.tr.t("history-not-answered"),
                        (false, true) => self.tr.t("history-incoming"),
                        (false, false) => self.tr.t("history-missed"),
                    };
                    ui.label(crate::store::format_utc(c.started_ms));
                    ui.label(kind);
                    ui.label(if c.peer_display.is_empty() {
                        c.peer.clone()
                    } else {
                        format!("{} ({})", c.peer_display, c.peer)
                    });
                    ui.label(clock(std::time::Duration::from_millis(c.duration_ms)));
                    if ui
                        .push_id(i, |ui| ui.button(self.tr.t("history-call-back")))
                        .inner
                        .clicked()
                    {
                        call = Some(c.peer.clone());
                    }
                    ui.end_row();
                }
            });
        });
        if let Some(number) = call {
            self.view.tab = Some(Tab::Phone);
            self.send(Command::Call { number });
        }
    }

    /// The engine's notification lines.
    pub fn log_ui(&mut self, ui: &mut egui::Ui) {
        if self.state.log.is_empty() {
            ui.label(self.tr.t("log-empty"));
            return;
        }
        if ui.button(self.tr.t("log-copy")).clicked() {
            let text: Vec<&str> = self.state.log.iter().map(String::as_str).collect();
            ui.ctx().copy_text(text.join("\n"));
        }
        egui::ScrollArea::vertical()
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for line in &self.state.log {
                    ui.label(RichText::new(line).monospace());
                }
            });
    }

    /// Compact mode: one Call/Hangup button and the status line.
    pub fn compact_ui(&mut self, ui: &mut egui::Ui) {
        egui::CentralPanel::default().show(ui, |ui| self.compact_contents_ui(ui));
    }

    fn compact_contents_ui(&mut self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            let now = super::state::now_ms();
            let status = match self.state.active_line() {
                Some(line) => self.line_text(line, now),
                None => self.status_text(),
            };
            match self.state.active_line() {
                Some(_) => {
                    if ui.button(self.tr.t("dial-hangup")).clicked() {
                        self.hang_up();
                    }
                }
                None => {
                    if ui.add(self.dial_button(self.tr.t("dial-call"))).clicked() {
                        self.call_typed();
                    }
                }
            }
            ui.label(status);
        });
    }
}

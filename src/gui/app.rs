//! The window's top level: drains engine events into [`AppState`], handles the keyboard, and
//! draws the main window or the compact face, the incoming-call popup and the tabs. Every
//! action is a [`Command`] sent to the engine; nothing else reaches it.

use super::i18n::Tr;
use super::skin::Skin;
use super::state::{AppState, LineState};
use crate::engine::CommandSender;
use crate::model::{Command, Event};
use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// The window's two wires to the engine.
pub struct EngineLink {
    pub commands: CommandSender,
    pub events: Receiver<Event>,
}

/// The tabs of the main window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Phone,
    Contacts,
    Chat,
    History,
    Log,
    Settings,
    Audio,
}

/// What only the window cares about (entries being typed, the open tab, ...).
#[derive(Debug, Default)]
pub struct ViewState {
    pub number: String,
    pub tab: Option<Tab>,
    pub account_user: String,
    pub account_password: String,
    pub account_server: String,
    pub account_display: String,
    pub keypad_open: bool,
    /// The transfer row is open, and the target typed in it.
    pub transfer_open: bool,
    pub transfer_target: String,
    /// The forward row of a ringing call is open, and the target typed in it.
    pub forward_open: bool,
    pub forward_target: String,
    /// Settings being edited, by parameter name.
    pub draft: BTreeMap<String, String>,
    pub settings_message: Option<String>,
    /// Incoming calls already announced by a desktop notification.
    pub notified: Vec<u32>,
    /// Desktop notifications waiting for the next frame (a message came in, new voicemail):
    /// shown when the window is not focused, dropped when it is.
    pub pending_notices: Vec<(String, String)>,
    /// The microphone level meter was asked for (the audio screen is open).
    pub meter_on: bool,
    /// The language and skin the window was last drawn with.
    pub drawn_language: String,
    pub drawn_skin: String,
    /// The contacts tab: the search typed, the contact being added or edited, the file to
    /// import from or export to (and where the export asked for goes), the last outcome.
    pub contact_search: String,
    pub contact_form: Option<super::contacts::ContactForm>,
    pub contacts_file: String,
    pub export_to: Option<String>,
    pub contacts_message: Option<String>,
    /// What was last asked to be watched (presence, busy lamps), to ask again only on change.
    pub watched_presence: Vec<String>,
    pub watched_lamps: Vec<String>,
    /// Watchers waiting for the user's answer, oldest first.
    pub watcher_requests: Vec<String>,
    /// Our presence status as last set here (none yet: Online, what the engine publishes).
    pub our_status: Option<crate::model::PresenceStatus>,
    /// The chat conversations.
    pub chats: super::chat::Chats,
}

/// Shows a desktop notification (the window is not focused when a call comes in).
pub type Notifier = Box<dyn Fn(&str, &str)>;

/// The softphone window.
pub struct SoftphoneApp {
    link: EngineLink,
    pub state: AppState,
    pub view: ViewState,
    pub tr: Tr,
    pub skin: Skin,
    /// Where user skins live (the config folder's `skins/`).
    skins_dir: Option<std::path::PathBuf>,
    notifier: Option<Notifier>,
    /// SIP trace lines (`loglevel` 4 and above), for the log.
    pub trace: Option<Receiver<String>>,
    /// The control API's token, when the API runs: the settings show it and can replace it.
    pub api_token: Option<crate::api::control::token::Token>,
}

impl SoftphoneApp {
    /// A window over `link`, starting from the effective settings and the stored history.
    pub fn new(
        link: EngineLink,
        params: BTreeMap<String, String>,
        history: Vec<crate::model::Cdr>,
        skins_dir: Option<std::path::PathBuf>,
        notifier: Option<Notifier>,
    ) -> SoftphoneApp {
        let state = AppState::new(params, history);
        let view = ViewState {
            number: state.param("callto").to_string(),
            account_user: state.param("username").to_string(),
            account_server: state.param("serveraddress").to_string(),
            account_display: state.param("displayname").to_string(),
            ..ViewState::default()
        };
        SoftphoneApp {
            tr: Tr::new(state.param("language")),
            skin: super::skin::load("light", None).0,
            link,
            state,
            view,
            skins_dir,
            notifier,
            trace: None,
            api_token: None,
        }
    }

    /// Sends a command to the engine (a stopped engine takes none: the status line says so).
    pub fn send(&self, c: Command) {
        self.link.commands.send(c);
    }

    /// Sends a command and gives its request id, to find its reply or outcome event.
    pub fn send_tracked(&self, c: Command) -> Option<crate::model::RequestId> {
        self.link.commands.send(c)
    }

    /// Takes every event (and SIP trace line) waiting.
    pub fn drain_events(&mut self) {
        while let Ok(ev) = self.link.events.try_recv() {
            self.notice_for(&ev);
            self.chat_event(&ev);
            self.contacts_event(&ev);
            self.state.apply(&ev);
        }
        if let Some(trace) = &self.trace {
            for line in trace.try_iter() {
                self.state.push_log(line);
            }
        }
    }

    /// Language and skin follow their parameters (the settings screen, the server).
    fn follow_appearance(&mut self, ctx: &egui::Context) {
        let language = self.state.param("language").to_string();
        if language != self.view.drawn_language {
            self.tr = Tr::new(&language);
            self.view.drawn_language = language;
        }
        let colour_params: String = super::skin::SLOTS
            .iter()
            .map(|(_, p)| self.state.param(p))
            .collect::<Vec<_>>()
            .join(",");
        let skin_key = format!("{}|{colour_params}", self.state.param("design"));
        if skin_key != self.view.drawn_skin {
            let (skin, problem) =
                super::skin::load(self.state.param("design"), self.skins_dir.as_deref());
            if let Some(p) = problem {
                self.state.log.push_back(format!("WARNING,{p}"));
            }
            self.skin = skin.with_overrides(|p| self.state.param(p).to_string());
            ctx.set_visuals(self.skin.visuals());
            self.view.drawn_skin = skin_key;
        }
    }

    /// The number typed, cleaned of the spaces, dashes, dots and brackets people paste with
    /// phone numbers (a SIP URI or user name is left as it is).
    pub fn clean_number(raw: &str) -> String {
        let t = raw.trim();
        let phone_like = t
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./*#".contains(c));
        if phone_like {
            t.chars()
                .filter(|c| !" -().".contains(*c) && *c != '/')
                .collect()
        } else {
            t.to_string()
        }
    }

    /// Dials what is typed (nothing typed: the configured `callto`).
    pub fn call_typed(&mut self) {
        let mut number = Self::clean_number(&self.view.number);
        if number.is_empty() {
            number = self.state.param("callto").to_string();
        }
        if !number.is_empty() {
            self.send(Command::Call { number });
        }
    }

    /// Hangs up, cancels or rejects the active line.
    pub fn hang_up(&self) {
        if let Some(line) = self.state.active_line() {
            self.send(Command::Hangup { line });
        }
    }

    /// One key of the dial pad: DTMF in a call, else a digit of the number.
    pub fn pad_key(&mut self, key: char) {
        match self.state.active_line() {
            Some(line)
                if self
                    .state
                    .lines
                    .get(&line)
                    .is_some_and(|l| LineState::of(l) == LineState::InCall) =>
            {
                self.send(Command::Dtmf {
                    line,
                    digits: key.to_string(),
                })
            }
            _ => self.view.number.push(key),
        }
    }

    /// Keyboard: Enter calls (or answers the ringing call), Escape hangs up or rejects,
    /// digits typed outside a text field during a call are DTMF.
    fn keyboard(&mut self, ctx: &egui::Context) {
        let typing = ctx.memory(|m| m.focused().is_some());
        let (enter, escape, text) = ctx.input(|i| {
            let mut text = String::new();
            for e in &i.events {
                if let egui::Event::Text(t) = e {
                    text.push_str(t);
                }
            }
            (
                i.key_pressed(egui::Key::Enter),
                i.key_pressed(egui::Key::Escape),
                text,
            )
        });
        if enter {
            match self.state.incoming() {
                Some((line, _)) => self.send(Command::Accept { line }),
                None => self.call_typed(),
            }
        }
        if escape {
            self.hang_up();
        }
        if !typing {
            for c in text
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
            {
                if self
                    .state
                    .active_line()
                    .and_then(|l| self.state.lines.get(&l))
                    .is_some_and(|l| LineState::of(l) == LineState::InCall)
                {
                    self.pad_key(c);
                }
            }
        }
    }

    /// The desktop notification an event deserves, if any: a text message, and with
    /// `voicemail=3` new voicemail (more new messages than the box had).
    fn notice_for(&mut self, ev: &Event) {
        match ev {
            Event::ChatReceived { from, text, .. } => self.view.pending_notices.push((
                self.tr.args("notify-chat-title", &[("peer", from)]),
                text.clone(),
            )),
            Event::Voicemail(m)
                if self.state.param("voicemail") == "3"
                    && m.new > self.state.voicemail.map_or(0, |v| v.new) =>
            {
                self.view.pending_notices.push((
                    self.tr.t("notify-voicemail-title"),
                    self.tr
                        .args("notify-voicemail", &[("count", &m.new.to_string())]),
                ));
            }
            _ => {}
        }
    }

    /// Shows the waiting desktop notifications when the window is not focused.
    fn show_notices(&mut self, ctx: &egui::Context) {
        let notices = std::mem::take(&mut self.view.pending_notices);
        if ctx.input(|i| i.focused) {
            return;
        }
        if let Some(n) = &self.notifier {
            for (summary, body) in notices {
                n(&summary, &body);
            }
        }
    }

    /// A desktop notification for a new incoming call while the window is not focused.
    fn notify_incoming(&mut self, ctx: &egui::Context) {
        let Some((line, l)) = self.state.incoming() else {
            self.view.notified.clear();
            return;
        };
        if self.view.notified.contains(&line) {
            return;
        }
        self.view.notified.push(line);
        let focused = ctx.input(|i| i.focused);
        if !focused && let Some(n) = &self.notifier {
            n(
                &self.tr.t("incoming-title"),
                &self.tr.args("notify-incoming", &[("peer", &l.who())]),
            );
        }
    }

    /// Draws the whole window into `ui` (eframe's root, or a test harness).
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.drain_events();
        self.follow_contacts();
        self.follow_appearance(&ctx);
        self.keyboard(&ctx);
        self.notify_incoming(&ctx);
        self.show_notices(&ctx);
        // Call timers tick once a second while a call is up; an idle window does not repaint.
        if self
            .state
            .lines
            .values()
            .any(|l| LineState::of(l) == LineState::InCall)
        {
            ctx.request_repaint_after(Duration::from_secs(1));
        }
        if self.state.flag("compact") {
            self.compact_ui(ui);
        } else {
            self.main_ui(ui);
        }
        if self.state.flag("hasincomingcall") {
            self.incoming_ui(&ctx);
        }
        self.watcher_requests_ui(&ctx);
        self.dial_requests_ui(&ctx);
        self.chat_window_ui(&ctx);
    }
}

impl eframe::App for SoftphoneApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.send(Command::Exit);
    }
}

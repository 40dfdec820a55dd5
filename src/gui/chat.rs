//! Chat conversations: one per peer (by user part), with the stored history loaded when it is
//! opened, each message we send marked sending, delivered or failed (from its `chat_delivery`
//! event), and unread counts for messages that came while the conversation was not open. In
//! the Chat tab, or with `separatechatdiag` in a window of its own.

use super::app::{SoftphoneApp, Tab};
use crate::model::{Event, RequestId, user_of};
use egui::RichText;
use std::collections::BTreeMap;

/// How one of our messages fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Theirs.
    Received,
    /// Ours, waiting for the final response to this request.
    Sending(RequestId),
    Delivered,
    /// Taken by the server for a peer who is not online (202): sent on when they register.
    Stored,
    Failed(String),
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub at_ms: i64,
    pub text: String,
    pub delivery: Delivery,
}

/// The conversation with one peer.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// Where our messages go (the address the user chose, or the sender's user part).
    pub address: String,
    /// The sender's display name, once a message told it.
    pub display: String,
    pub lines: Vec<ChatLine>,
    /// Messages that came while the conversation was not open.
    pub unread: u32,
    /// The stored history was asked for.
    pub history_asked: bool,
}

/// The conversations by peer user part, and the one open.
#[derive(Debug, Default)]
pub struct Chats {
    pub by_peer: BTreeMap<String, Conversation>,
    pub open: Option<String>,
    pub draft: String,
}

impl Chats {
    /// The conversation with `peer` (a user, number or URI), made when new.
    pub fn with(&mut self, peer: &str) -> &mut Conversation {
        let key = user_of(peer).to_string();
        self.by_peer.entry(key).or_insert_with(|| Conversation {
            address: peer.trim().to_string(),
            ..Conversation::default()
        })
    }

    /// The conversation with the user part `user`, if there is one.
    pub fn get(&self, user: &str) -> Option<&Conversation> {
        self.by_peer.get(user_of(user))
    }

    /// All unread messages.
    pub fn unread(&self) -> u32 {
        self.by_peer.values().map(|c| c.unread).sum()
    }
}

impl SoftphoneApp {
    /// Opens the conversation with `address`, loading its history the first time.
    pub fn open_chat(&mut self, address: &str) {
        let key = user_of(address).to_string();
        let conversation = self.view.chats.with(address);
        conversation.unread = 0;
        let ask = !conversation.history_asked;
        conversation.history_asked = true;
        self.view.chats.open = Some(key.clone());
        if !self.state.flag("separatechatdiag") {
            self.view.tab = Some(Tab::Chat);
        }
        if ask {
            self.send(crate::model::Command::GetChatHistory { peer: key });
        }
    }

    /// What the conversations make of an engine event.
    pub fn chat_event(&mut self, ev: &Event) {
        match ev {
            Event::ChatReceived {
                from,
                display,
                text,
                ..
            } => {
                let now = super::state::now_ms();
                let open = self.view.chats.open.as_deref() == Some(user_of(from))
                    && (self.view.tab == Some(Tab::Chat) || self.state.flag("separatechatdiag"));
                let c = self.view.chats.with(from);
                if !display.is_empty() {
                    c.display = display.clone();
                }
                c.lines.push(ChatLine {
                    at_ms: now,
                    text: text.clone(),
                    delivery: Delivery::Received,
                });
                if !open {
                    c.unread += 1;
                }
            }
            Event::ChatDelivery {
                request,
                delivered,
                code,
                reason,
                ..
            } => {
                for c in self.view.chats.by_peer.values_mut() {
                    for l in &mut c.lines {
                        if l.delivery == Delivery::Sending(*request) {
                            l.delivery = if *delivered && *code == Some(202) {
                                Delivery::Stored
                            } else if *delivered {
                                Delivery::Delivered
                            } else {
                                Delivery::Failed(match code {
                                    Some(code) => format!("{code} {reason}"),
                                    None => reason.clone(),
                                })
                            };
                        }
                    }
                }
            }
            Event::ChatHistory { peer, messages } => {
                let c = self.view.chats.with(peer);
                let mut stored: Vec<ChatLine> = messages
                    .iter()
                    .map(|m| ChatLine {
                        at_ms: m.at_ms,
                        text: m.text.clone(),
                        delivery: if m.outgoing {
                            Delivery::Delivered
                        } else {
                            Delivery::Received
                        },
                    })
                    .collect();
                // What came in this run is in the store too: keep the newer copy only.
                let first_live = c.lines.first().map(|l| l.at_ms);
                if let Some(first) = first_live {
                    stored.retain(|l| l.at_ms < first - 1000);
                }
                stored.append(&mut c.lines);
                c.lines = stored;
            }
            _ => {}
        }
    }

    /// Sends the draft to the open conversation.
    fn send_draft(&mut self) {
        let text = self.view.chats.draft.trim().to_string();
        let Some(key) = self.view.chats.open.clone() else {
            return;
        };
        if text.is_empty() {
            return;
        }
        let address = self.view.chats.with(&key).address.clone();
        let id = self.send_tracked(crate::model::Command::SendChat {
            peer: address,
            text: text.clone(),
        });
        let c = self.view.chats.with(&key);
        c.lines.push(ChatLine {
            at_ms: super::state::now_ms(),
            text,
            delivery: id.map_or(Delivery::Failed(String::new()), Delivery::Sending),
        });
        self.view.chats.draft.clear();
    }

    /// The Chat tab: the conversations (with unread counts) and the open one.
    pub fn chat_ui(&mut self, ui: &mut egui::Ui) {
        if self.view.chats.by_peer.is_empty() {
            ui.label(self.tr.t("chat-empty"));
            return;
        }
        let peers: Vec<(String, String, u32)> = self
            .view
            .chats
            .by_peer
            .iter()
            .map(|(k, c)| {
                let name = self
                    .state
                    .contacts
                    .iter()
                    .find(|ct| ct.reached_at(k))
                    .map(|ct| ct.name.clone())
                    .or_else(|| (!c.display.is_empty()).then(|| c.display.clone()))
                    .unwrap_or_else(|| k.clone());
                (k.clone(), name, c.unread)
            })
            .collect();
        ui.horizontal_wrapped(|ui| {
            for (key, name, unread) in peers {
                let label = if unread > 0 {
                    format!("{name} ({unread})")
                } else {
                    name
                };
                let open = self.view.chats.open.as_deref() == Some(key.as_str());
                if ui.selectable_label(open, label).clicked() {
                    self.open_chat(&key);
                }
            }
        });
        ui.separator();
        if !self.state.flag("separatechatdiag") {
            self.conversation_ui(ui);
        }
    }

    /// The open conversation: its messages and the entry.
    fn conversation_ui(&mut self, ui: &mut egui::Ui) {
        let Some(key) = self.view.chats.open.clone() else {
            return;
        };
        if let Some(c) = self.view.chats.by_peer.get_mut(&key) {
            c.unread = 0;
        }
        let lines = self
            .view
            .chats
            .get(&key)
            .map(|c| c.lines.clone())
            .unwrap_or_default();
        egui::ScrollArea::vertical()
            .max_height(ui.available_height() - 40.0)
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for l in &lines {
                    let time = crate::store::format_utc(l.at_ms);
                    let (who, mark) = match &l.delivery {
                        Delivery::Received => (key.clone(), String::new()),
                        Delivery::Sending(_) => (
                            self.tr.t("chat-me"),
                            format!(" ({})", self.tr.t("chat-sending")),
                        ),
                        Delivery::Delivered => (
                            self.tr.t("chat-me"),
                            format!(" ({})", self.tr.t("chat-delivered")),
                        ),
                        Delivery::Stored => (
                            self.tr.t("chat-me"),
                            format!(" ({})", self.tr.t("chat-stored")),
                        ),
                        Delivery::Failed(why) => (
                            self.tr.t("chat-me"),
                            format!(" ({})", self.tr.args("chat-failed", &[("reason", why)])),
                        ),
                    };
                    let hhmm = time.get(11..16).unwrap_or(&time);
                    ui.label(RichText::new(format!("{hhmm} {who}:")).weak());
                    ui.label(format!("{}{mark}", l.text));
                }
            });
        ui.horizontal(|ui| {
            let label = ui.label(self.tr.t("chat-message"));
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.view.chats.draft).desired_width(220.0))
                .labelled_by(label.id);
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button(self.tr.t("chat-send")).clicked() || enter {
                self.send_draft();
            }
        });
    }

    /// With `separatechatdiag`: the open conversation in a window of its own.
    pub fn chat_window_ui(&mut self, ctx: &egui::Context) {
        if !self.state.flag("separatechatdiag") {
            return;
        }
        let Some(key) = self.view.chats.open.clone() else {
            return;
        };
        let mut open = true;
        egui::Window::new(self.tr.args("chat-with", &[("peer", &key)]))
            .open(&mut open)
            .show(ctx, |ui| self.conversation_ui(ui));
        if !open {
            self.view.chats.open = None;
        }
    }
}

//! The settings screens, drawn from the parameter registry: account and network, calls, codecs
//! and media, window. Each value is edited in the widget its kind needs and checked as it is
//! typed (the error shows under it); Save sends the changed values to the engine to apply and
//! keep. Parameters this build does not act on are not shown. The audio screen picks the
//! devices and volumes.

use super::app::SoftphoneApp;
use crate::config::params::{Kind, PARAMS, ParamDef, Part, check};
use crate::model::{Command, ParamValue};

/// The groups of the settings screen: title key and the parts in it.
const GROUPS: &[(&str, &[Part])] = &[
    ("settings-group-account", &[Part::Sip]),
    ("settings-group-calls", &[Part::Calls]),
    ("settings-group-media", &[Part::Media]),
    ("settings-group-window", &[Part::Window]),
];

/// Parameters not edited on the settings screen: the account form and the audio screen have
/// them, or they only make sense at launch.
const ELSEWHERE: &[&str] = &[
    "password",
    "recorddevice",
    "playbackdevice",
    "ringerdevice",
    "volumein",
    "volumeout",
    "volumering",
    "callto",
    "autocall",
    "call",
    "language",
];

impl SoftphoneApp {
    fn value_of(&self, d: &ParamDef) -> String {
        self.view
            .draft
            .get(d.name)
            .cloned()
            .unwrap_or_else(|| self.state.param(d.name).to_string())
    }

    fn param_ui(&mut self, ui: &mut egui::Ui, d: &'static ParamDef) {
        let mut value = self.value_of(d);
        let label = ui.label(d.name).on_hover_text(d.help);
        let response = match d.kind {
            Kind::Bool => {
                let mut on = crate::config::params::parse_bool(&value).unwrap_or(false);
                let r = ui.checkbox(&mut on, "");
                if r.changed() {
                    value = on.to_string();
                }
                r
            }
            Kind::Choice(options) => {
                let mut picked = value.clone();
                let r = egui::ComboBox::from_id_salt(d.name)
                    .selected_text(&picked)
                    .show_ui(ui, |ui| {
                        for o in options {
                            ui.selectable_value(&mut picked, o.to_string(), o.to_string());
                        }
                    })
                    .response;
                if picked != value {
                    value = picked;
                }
                r
            }
            Kind::Secret => ui.add(egui::TextEdit::singleline(&mut value).password(true)),
            Kind::Int { .. } | Kind::Text | Kind::HostPort | Kind::Colour => {
                ui.add(egui::TextEdit::singleline(&mut value).desired_width(160.0))
            }
        };
        response.labelled_by(label.id).on_hover_text(d.help);
        ui.end_row();
        if value != self.state.param(d.name) {
            self.view.draft.insert(d.name.to_string(), value.clone());
        } else {
            self.view.draft.remove(d.name);
        }
        if let Err(e) = check(d, &value) {
            ui.label("");
            ui.colored_label(egui::Color32::from_rgb(0xd0, 0x3a, 0x2f), e);
            ui.end_row();
        }
    }

    /// The settings screen.
    pub fn settings_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| self.language_ui(ui));
        ui.horizontal(|ui| {
            let invalid: Vec<String> = self
                .view
                .draft
                .iter()
                .filter_map(|(k, v)| {
                    let d = crate::config::params::find(k)?;
                    check(d, v).err()
                })
                .collect();
            let save = ui.add_enabled(
                !self.view.draft.is_empty(),
                egui::Button::new(self.tr.t("settings-save")),
            );
            if save.clicked() {
                if let Some(e) = invalid.first() {
                    self.view.settings_message =
                        Some(self.tr.args("settings-invalid", &[("error", e)]));
                } else {
                    let values = std::mem::take(&mut self.view.draft)
                        .into_iter()
                        .map(|(k, v)| ParamValue::new(k, v))
                        .collect();
                    self.send(Command::SetParameters {
                        values,
                        persist: true,
                    });
                    self.view.settings_message = Some(self.tr.t("settings-saved"));
                }
            }
            if let Some(m) = &self.view.settings_message {
                ui.label(m);
            }
        });
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.api_token_ui(ui);
            for (title, parts) in GROUPS {
                egui::CollapsingHeader::new(self.tr.t(title)).show(ui, |ui| {
                    egui::Grid::new(*title).num_columns(2).show(ui, |ui| {
                        for d in PARAMS
                            .iter()
                            .filter(|d| parts.contains(&d.part) && !ELSEWHERE.contains(&d.name))
                        {
                            self.param_ui(ui, d);
                        }
                    });
                });
            }
        });
    }

    /// The control API's token: its last characters, Copy (the whole token to the clipboard)
    /// and New token (the old one stops working at once).
    fn api_token_ui(&mut self, ui: &mut egui::Ui) {
        egui::CollapsingHeader::new(self.tr.t("settings-group-api")).show(ui, |ui| {
            let Some(token) = self.api_token.clone() else {
                ui.label(self.tr.t("api-off"));
                return;
            };
            let current = token.current();
            let end: String = current
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            ui.label(self.tr.args("api-token-shown", &[("end", &end)]));
            ui.horizontal(|ui| {
                if ui.button(self.tr.t("api-token-copy")).clicked() {
                    ui.ctx().copy_text(current.clone());
                }
                if ui.button(self.tr.t("api-token-new")).clicked() {
                    self.view.settings_message = Some(match token.regenerate() {
                        Ok(()) => self.tr.t("api-token-renewed"),
                        Err(e) => self
                            .tr
                            .args("settings-invalid", &[("error", &e.to_string())]),
                    });
                }
            });
        });
    }

    fn device_ui(&mut self, ui: &mut egui::Ui, key: &str, param: &str, outputs: bool) {
        let current = self.state.param(param).to_string();
        let mut picked = current.clone();
        let (inputs, outs) = self.state.devices.clone().unwrap_or_default();
        let mut names = vec!["Default".to_string()];
        names.extend(if outputs { outs } else { inputs });
        if param == "ringerdevice" {
            names.push("All".into());
        }
        let label = ui.label(self.tr.t(key));
        egui::ComboBox::from_id_salt(param)
            .selected_text(&picked)
            .width(220.0)
            .show_ui(ui, |ui| {
                for n in &names {
                    ui.selectable_value(&mut picked, n.clone(), n);
                }
            })
            .response
            .labelled_by(label.id);
        ui.end_row();
        if picked != current {
            self.send(Command::SetParameters {
                values: vec![ParamValue::new(param, picked)],
                persist: true,
            });
        }
    }

    /// The audio screen: devices and volumes; changes apply and are kept at once.
    pub fn audio_ui(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("audio").num_columns(2).show(ui, |ui| {
            self.device_ui(ui, "audio-microphone", "recorddevice", false);
            self.device_ui(ui, "audio-speaker", "playbackdevice", true);
            self.device_ui(ui, "audio-ringer", "ringerdevice", true);
            if self.state.flag("hasvolume") {
                for (key, param) in [
                    ("audio-volume-in", "volumein"),
                    ("audio-volume-out", "volumeout"),
                    ("audio-volume-ring", "volumering"),
                ] {
                    let shown = self
                        .view
                        .draft
                        .get(param)
                        .map_or(self.state.param(param), String::as_str);
                    let mut v: u32 = shown.parse().unwrap_or(50);
                    let label = ui.label(self.tr.t(key));
                    let r = ui
                        .add(egui::Slider::new(&mut v, 0..=100))
                        .labelled_by(label.id);
                    if r.changed() {
                        self.view.draft.insert(param.to_string(), v.to_string());
                    }
                    // Sent when the drag ends, not on every step of it.
                    if (r.drag_stopped() || (r.changed() && !r.dragged()))
                        && let Some(v) = self.view.draft.remove(param)
                    {
                        self.send(Command::SetParameters {
                            values: vec![ParamValue::new(param, v)],
                            persist: true,
                        });
                    }
                    ui.end_row();
                }
            }
        });
        if !self.state.flag("changeaudiodevimmediate") {
            ui.label(self.tr.t("audio-next-call"));
        }
        ui.separator();
        if ui.button(self.tr.t("audio-test-sound")).clicked() {
            self.send(Command::TestSound);
        }
        // The meter needs the microphone, which a call holds.
        if self.state.lines.is_empty() {
            let level = self.state.input_level.unwrap_or(0);
            ui.label(self.tr.t("audio-input-level"));
            ui.add(
                egui::ProgressBar::new(f32::from(level) / 100.0)
                    .desired_width(220.0)
                    .text(format!("{level} %")),
            );
        }
    }

    /// The language picker (its own names), applied and kept at once.
    fn language_ui(&mut self, ui: &mut egui::Ui) {
        let lang_label = ui.label(self.tr.t("language"));
        let mut lang = self.tr.code().to_string();
        egui::ComboBox::from_id_salt("language")
            .selected_text(
                super::i18n::LANGUAGES
                    .iter()
                    .find(|(c, ..)| *c == lang)
                    .map_or("English", |(_, _, own, _)| *own),
            )
            .show_ui(ui, |ui| {
                for (code, _, own, _) in super::i18n::LANGUAGES {
                    ui.selectable_value(&mut lang, code.to_string(), *own);
                }
            })
            .response
            .labelled_by(lang_label.id);
        if lang != self.tr.code() {
            self.send(Command::SetParameters {
                values: vec![ParamValue::new("language", lang)],
                persist: true,
            });
        }
    }
}

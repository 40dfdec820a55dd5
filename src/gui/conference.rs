//! The conference controls (shown when `hasconference` allows them): merge the answered calls,
//! call the number typed into the conference, and, while one runs, its participants with a
//! button to take each out, split it, and hold or resume it as a whole.

use super::app::SoftphoneApp;
use crate::model::{CallState, Command, ConferenceOp};

impl SoftphoneApp {
    /// The conference row below the call controls.
    pub fn conference_ui(&mut self, ui: &mut egui::Ui) {
        if !self.state.flag("hasconference") {
            return;
        }
        let answered: Vec<u32> = self
            .state
            .lines
            .iter()
            .filter(|(_, l)| l.state == CallState::Connected)
            .map(|(n, _)| *n)
            .collect();
        if answered.is_empty() {
            return;
        }
        let members = self.state.conference.clone();
        let conf = |op| Command::Conference { op };
        ui.horizontal(|ui| {
            let outside = answered.iter().any(|l| !members.contains(l));
            if answered.len() >= 2
                && outside
                && ui
                    .button(self.tr.t("conf-merge"))
                    .on_hover_text(self.tr.t("conf-merge-help"))
                    .clicked()
            {
                self.send(conf(ConferenceOp::Merge));
            }
            let number = self.view.number.trim().to_string();
            if !number.is_empty()
                && ui
                    .button(self.tr.args("conf-add", &[("number", &number)]))
                    .clicked()
            {
                self.send(conf(ConferenceOp::Add { number }));
                self.view.number.clear();
            }
        });
        if members.is_empty() {
            return;
        }
        ui.label(
            self.tr
                .args("conf-title", &[("count", &members.len().to_string())]),
        );
        for line in &members {
            let Some(l) = self.state.lines.get(line) else {
                continue;
            };
            let who = l.who();
            let held = l.hold_local;
            ui.horizontal(|ui| {
                ui.label(self.tr.args("line-label", &[("line", &line.to_string())]));
                ui.label(who);
                if held {
                    ui.label(self.tr.t("conf-member-held"));
                }
                if ui.small_button(self.tr.t("conf-remove")).clicked() {
                    self.send(conf(ConferenceOp::Remove { line: *line }));
                }
            });
        }
        let all_held = members
            .iter()
            .all(|l| self.state.lines.get(l).is_some_and(|s| s.hold_local));
        ui.horizontal(|ui| {
            let hold_label = if all_held {
                self.tr.t("conf-resume")
            } else {
                self.tr.t("conf-hold")
            };
            if ui.button(hold_label).clicked() {
                self.send(conf(ConferenceOp::Hold { on: !all_held }));
            }
            if ui.button(self.tr.t("conf-split")).clicked() {
                self.send(conf(ConferenceOp::Split));
            }
        });
    }
}

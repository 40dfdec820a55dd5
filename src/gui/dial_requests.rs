//! The window's side of click-to-call confirmation (`wpapiconfirm`): a call a web page asked
//! the control API for waits here until the user allows or refuses it. The requests come from
//! the shared state (`dial_requests`), so one that the API gave up on disappears by itself.

use super::app::SoftphoneApp;
use crate::model::Command;

impl SoftphoneApp {
    /// Asks about the oldest waiting request: which page, which target, Call or Refuse.
    pub fn dial_requests_ui(&mut self, ctx: &egui::Context) {
        let Some((ticket, (origin, target))) = self
            .state
            .dial_requests
            .iter()
            .next()
            .map(|(t, r)| (*t, r.clone()))
        else {
            return;
        };
        let answer = super::question_ui(
            ctx,
            &self.tr.t("dial-request-title"),
            &self.tr.args(
                "dial-request-asks",
                &[("origin", &origin), ("target", &target)],
            ),
            &self.tr.t("dial-request-allow"),
            &self.tr.t("dial-request-refuse"),
        );
        if let Some(allow) = answer {
            self.send(Command::ConfirmDial { ticket, allow });
        }
    }
}

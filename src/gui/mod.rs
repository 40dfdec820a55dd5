//! The desktop window (egui/eframe): a front end over the engine's command/event API. The
//! engine runs on its own thread with its own tokio runtime; events reach the window through a
//! channel that also wakes it (`request_repaint`), so an idle window draws nothing. `state.rs`
//! holds what the events say, `app.rs` the top level and keyboard, `panels.rs` the phone face,
//! `settings.rs` the settings and audio screens, `i18n.rs` the words, `skin.rs` the colours,
//! `trace.rs` brings the SIP trace to the log window.

pub mod app;
pub mod chat;
pub mod conference;
pub mod contacts;
mod dial_requests;
pub mod i18n;
pub mod panels;
pub mod settings;
pub mod skin;
pub mod state;
pub mod trace;

pub use app::{EngineLink, SoftphoneApp};

use crate::config::Settings;
use crate::engine::{CommandSender, run_engine};
use crate::model::{Event, NoticeKind};
use crate::store::Store;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;

/// The fonts: egui's own (Latin, Cyrillic, Greek) with a Japanese font behind them (a subset
/// of VL PGothic: kana, JIS level-1 kanji, our Japanese strings; see assets/fonts).
pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "vl-pgothic".into(),
        Arc::new(egui::FontData::from_static(include_bytes!(
            "../../assets/fonts/VL-PGothic-subset.ttf"
        ))),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .push("vl-pgothic".into());
    }
    ctx.set_fonts(fonts);
}

/// A small window asking `question` with a yes and a no button: `Some(true)` or
/// `Some(false)` in the frame a button is clicked.
pub(crate) fn question_ui(
    ctx: &egui::Context,
    title: &str,
    question: &str,
    yes: &str,
    no: &str,
) -> Option<bool> {
    let mut answer = None;
    egui::Window::new(title)
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            ui.label(question);
            ui.horizontal(|ui| {
                if ui.button(yes).clicked() {
                    answer = Some(true);
                }
                if ui.button(no).clicked() {
                    answer = Some(false);
                }
            });
        });
    answer
}

/// What the `extra` start-up step of [`spawn_engine`] hands back: notices to show first (what
/// it started, or why not), and a tap that sees every engine event as the window does (the
/// control API's hub, which keeps its own copy of the state).
#[derive(Default)]
pub struct EngineExtras {
    pub notes: Vec<Event>,
    pub tap: Option<EventTap>,
}

/// A function that sees each engine event.
pub type EventTap = Box<dyn Fn(&Event) + Send>;

/// Runs the engine on a thread of its own. Events go to the returned link (and wake the window
/// once `repaint` holds its context); `extra` runs on the engine's runtime first (the
/// single-instance listener, the control API). The handle ends when the engine has stopped.
pub fn spawn_engine(
    settings: Settings,
    store: Option<Store>,
    repaint: Arc<OnceLock<egui::Context>>,
    extra: impl FnOnce(&CommandSender) -> EngineExtras + Send + 'static,
) -> std::io::Result<(EngineLink, std::thread::JoinHandle<()>)> {
    let (cmd_tx, cmd_rx) = CommandSender::channel();
    // The audio screen's device lists: the engine enumerates the sound cards off its loop.
    cmd_tx.send(crate::model::Command::ListDevices);
    let (gui_tx, gui_rx) = std::sync::mpsc::channel();
    let commands = cmd_tx.clone();
    let handle = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = gui_tx.send(Event::error(
                        NoticeKind::Engine,
                        format!("cannot start the engine: {e}"),
                    ));
                    let _ = gui_tx.send(Event::Stopped);
                    return;
                }
            };
            runtime.block_on(async move {
                let extras = extra(&commands);
                for n in extras.notes {
                    let _ = gui_tx.send(n);
                }
                let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
                let engine = tokio::spawn(run_engine(settings, store, cmd_rx, ev_tx));
                while let Some(ev) = ev_rx.recv().await {
                    let stopped = ev == Event::Stopped;
                    if let Some(tap) = &extras.tap {
                        tap(&ev);
                    }
                    if gui_tx.send(ev).is_err() {
                        break;
                    }
                    if let Some(ctx) = repaint.get() {
                        ctx.request_repaint();
                    }
                    if stopped {
                        break;
                    }
                }
                let _ = engine.await;
            });
            runtime.shutdown_background();
        })?;
    Ok((
        EngineLink {
            commands: cmd_tx,
            events: gui_rx,
        },
        handle,
    ))
}

/// A desktop notification (libnotify over D-Bus), shown from a thread of its own so that a
/// slow or missing notification service never stalls the window.
pub fn desktop_notifier() -> app::Notifier {
    Box::new(|summary: &str, body: &str| {
        let (summary, body) = (summary.to_string(), body.to_string());
        std::thread::spawn(move || {
            if let Err(e) = notify_rust::Notification::new()
                .summary(&summary)
                .body(&body)
                .appname("softphone")
                .show()
            {
                tracing::debug!("desktop notification not shown: {e}");
            }
        });
    })
}

/// What the window starts with besides the settings and the store.
pub struct WindowStart {
    /// The stored call history.
    pub history: Vec<crate::model::Cdr>,
    /// Where user skins live.
    pub skins_dir: Option<std::path::PathBuf>,
    /// Start-up warnings as notification lines: they open the log window's list.
    pub notes: Vec<String>,
    /// The repaint handle the SIP trace layer wakes, and its lines, for the log.
    pub trace: Option<(
        Arc<OnceLock<egui::Context>>,
        std::sync::mpsc::Receiver<String>,
    )>,
    /// The control API's token, when the API runs.
    pub api_token: Option<crate::api::control::token::Token>,
}

/// Opens the window and runs until it is closed; the engine then unregisters and stops.
pub fn run_window(
    settings: Settings,
    store: Option<Store>,
    start: WindowStart,
    extra: impl FnOnce(&CommandSender) -> EngineExtras + Send + 'static,
) -> anyhow::Result<()> {
    let WindowStart {
        history,
        skins_dir,
        notes,
        trace,
        api_token,
    } = start;
    let params = settings
        .effective()
        .into_iter()
        .map(|(k, v, _)| (k.to_string(), v))
        .collect();
    let compact = settings.bool("compact");
    let (repaint, trace) = match trace {
        Some((r, t)) => (r, Some(t)),
        None => (Arc::new(OnceLock::new()), None),
    };
    let (link, engine) = spawn_engine(settings, store, repaint.clone(), extra)?;
    let size = if compact {
        [240.0, 96.0]
    } else {
        [420.0, 620.0]
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Softphone")
            .with_app_id("softphone")
            .with_inner_size(size)
            .with_min_inner_size(if compact {
                [200.0, 80.0]
            } else {
                [360.0, 480.0]
            }),
        ..Default::default()
    };
    let mut app = SoftphoneApp::new(link, params, history, skins_dir, Some(desktop_notifier()));
    // What start-up had to say (bad ini lines, the keyring) opens the log.
    app.state.log.extend(notes);
    app.trace = trace;
    app.api_token = api_token;
    eframe::run_native(
        "softphone",
        options,
        Box::new(move |cc| {
            install_fonts(&cc.egui_ctx);
            let _ = repaint.set(cc.egui_ctx.clone());
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    // on_exit sent Exit: wait for the un-REGISTER (bounded by waitforunregister).
    let _ = engine.join();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_fonts_cover_every_language() {
        let ctx = egui::Context::default();
        install_fonts(&ctx);
        let mut out = ctx.run_ui(Default::default(), |_| {});
        out.textures_delta.clear();
        let font = egui::FontId::proportional(14.0);
        let missing = |text: &str| -> String {
            text.chars()
                .filter(|c| !c.is_whitespace() && !ctx.fonts_mut(|f| f.has_glyph(&font, *c)))
                .collect()
        };
        let args = [
            ("peer", "1002"),
            ("line", "1"),
            ("reason", "x"),
            ("error", "x"),
        ];
        for (code, _, own, source) in i18n::LANGUAGES {
            let tr = i18n::Tr::new(code);
            for id in i18n::message_ids(source) {
                let text = tr.args(&id, &args);
                assert_eq!(missing(&text), "", "{code}: {id} = {text:?}");
            }
            assert_eq!(missing(own), "", "{code}");
        }
        // The check can fail: Devanagari is in none of the fonts.
        assert_eq!(missing("क"), "क");
    }
}

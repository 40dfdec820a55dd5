//! The SIP trace in the log window: at `loglevel` 4 and above the driver logs every message
//! sent and received under the `sip` target; this tracing layer copies those records to the
//! window (as `LOG,SIP,...` lines) and wakes it. Only SIP messages pass: digest responses are
//! hashes, and passwords are never logged anywhere.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};
use tracing::field::{Field, Visit};

/// The layer and the window's end of its channel.
pub fn sip_trace(repaint: Arc<OnceLock<egui::Context>>) -> (SipTraceLayer, Receiver<String>) {
    let (tx, rx) = channel();
    (SipTraceLayer { tx, repaint }, rx)
}

/// Copies `sip`-target records to the window.
pub struct SipTraceLayer {
    tx: Sender<String>,
    repaint: Arc<OnceLock<egui::Context>>,
}

struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SipTraceLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != "sip" {
            return;
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        if self.tx.send(format!("LOG,SIP,{}", m.0)).is_ok()
            && let Some(ctx) = self.repaint.get()
        {
            ctx.request_repaint();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn only_sip_records_reach_the_window() {
        let (layer, rx) = sip_trace(Arc::new(OnceLock::new()));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "sip", "send to Udp 127.0.0.1:5060:\nREGISTER sip:pbx SIP/2.0");
            tracing::info!("registered");
        });
        let lines: Vec<String> = rx.try_iter().collect();
        assert_eq!(
            lines,
            vec!["LOG,SIP,send to Udp 127.0.0.1:5060:\nREGISTER sip:pbx SIP/2.0".to_string()]
        );
    }
}

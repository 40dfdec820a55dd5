//! The engine's event sink: where the driver and its helpers put the events for the faces.
//! A leaf of the engine (it imports only the model), so that every engine module can report
//! without importing the driver.

use crate::model::{Event, NoticeKind, Reply, RequestId};
use tokio::sync::mpsc;

/// Sends events to the face that runs the engine.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    events: mpsc::UnboundedSender<Event>,
}

impl Reporter {
    pub(crate) fn new(events: mpsc::UnboundedSender<Event>) -> Reporter {
        Reporter { events }
    }

    /// Reports one event (a face that has gone away is not an error).
    pub(crate) fn send(&self, ev: Event) {
        let _ = self.events.send(ev);
    }

    /// An information notice.
    pub(crate) fn info(&self, kind: NoticeKind, text: impl Into<String>) {
        self.send(Event::info(kind, text));
    }

    /// A warning notice.
    pub(crate) fn warning(&self, kind: NoticeKind, text: impl Into<String>) {
        self.send(Event::warning(kind, text));
    }

    /// An error notice.
    pub(crate) fn error(&self, kind: NoticeKind, text: impl Into<String>) {
        self.send(Event::error(kind, text));
    }

    /// The answer to request `id`.
    pub(crate) fn reply(&self, id: RequestId, result: Reply) {
        self.send(Event::Reply { id, result });
    }
}

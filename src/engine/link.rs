//! The wire into the engine: every face sends its commands through a [`CommandSender`], which
//! gives each one the request id its reply will carry.

use crate::model::{Command, Request, RequestId};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Sends commands to the engine; clones share one id counter, so ids never repeat within a
/// run whichever face sends.
#[derive(Debug, Clone)]
pub struct CommandSender {
    tx: mpsc::UnboundedSender<Request>,
    next: Arc<AtomicU64>,
}

impl CommandSender {
    /// A sender and the receiving end the engine reads.
    pub fn channel() -> (CommandSender, mpsc::UnboundedReceiver<Request>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            CommandSender {
                tx,
                next: Arc::new(AtomicU64::new(1)),
            },
            rx,
        )
    }

    /// A fresh request id.
    pub fn next_id(&self) -> RequestId {
        RequestId(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends `command` under a fresh id; `None` when the engine has stopped.
    pub fn send(&self, command: Command) -> Option<RequestId> {
        let id = self.next_id();
        self.tx.send(Request { id, command }).ok().map(|()| id)
    }

    /// Sends a request that already has its id (a JSON command names its own); false when
    /// the engine has stopped.
    pub fn send_request(&self, request: Request) -> bool {
        self.tx.send(request).is_ok()
    }
}

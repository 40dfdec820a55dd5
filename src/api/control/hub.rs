//! Where the control API meets the engine: every event the face running the engine receives
//! is handed to [`Hub::publish`], which keeps the shared [`PhoneState`] (the one reducer),
//! formats the notification lines once, answers the request that was waiting for its reply,
//! fills the `Poll` queues and fans the event out to every stream client. Commands go the
//! other way through the same [`CommandSender`] the window and standard input use.

use crate::api::notify::Notifier;
use crate::engine::CommandSender;
use crate::model::{Command, Event, NoticeKind, PhoneState, Reply, Request, RequestId};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};

/// One event as every client sees it: typed (JSON streams) and as notification lines (the
/// text protocol and `Poll`).
#[derive(Debug)]
pub struct Published {
    /// The event itself.
    pub event: Event,
    /// Its notification lines (often none).
    pub lines: Vec<String>,
}

/// How long a command may take before its HTTP or text client is told the engine did not
/// answer (the engine answers every request; this only guards against a stopped engine).
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// Lines kept for one `Poll` client between two polls; older ones are dropped (and the next
/// poll says how many).
const POLL_LINES: usize = 500;

/// `Poll` clients remembered at once; the one polled longest ago is forgotten first.
const POLL_CLIENTS: usize = 16;

/// How long a web page's call waits for the user's click before it is refused.
const CONFIRM_WAIT: Duration = Duration::from_secs(60);

/// Events buffered for a slow stream client before it is told it missed some.
const STREAM_BUFFER: usize = 1024;

/// The queue of one `Poll` client.
#[derive(Debug, Default)]
struct PollQueue {
    lines: VecDeque<String>,
    dropped: u64,
    /// A counter value: the queue polled longest ago has the smallest.
    last_poll: u64,
}

#[derive(Debug, Default)]
struct Polls {
    queues: HashMap<String, PollQueue>,
    clock: u64,
}

/// What a `Poll` returns: the lines since the last poll and how many did not fit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PollBatch {
    /// Notification lines, oldest first.
    pub lines: Vec<String>,
    /// Lines lost because the client polled too rarely.
    pub dropped: u64,
}

#[derive(Debug)]
struct Inner {
    state: PhoneState,
    notifier: Notifier,
    waiting: HashMap<RequestId, oneshot::Sender<Reply>>,
    /// Dial requests waiting for the user's decision, by ticket.
    dials: HashMap<u64, oneshot::Sender<bool>>,
    polls: Polls,
}

/// The control API's view of the engine, shared by all its listeners.
#[derive(Debug, Clone)]
pub struct Hub {
    commands: CommandSender,
    inner: Arc<Mutex<Inner>>,
    stream: broadcast::Sender<Arc<Published>>,
}

impl Hub {
    /// A hub sending to `commands`, starting from `state` (the parameters and history the
    /// face loaded before the engine reported anything).
    pub fn new(commands: CommandSender, state: PhoneState) -> Hub {
        let (stream, _) = broadcast::channel(STREAM_BUFFER);
        Hub {
            commands,
            inner: Arc::new(Mutex::new(Inner {
                state,
                notifier: Notifier::new(),
                waiting: HashMap::new(),
                dials: HashMap::new(),
                polls: Polls::default(),
            })),
            stream,
        }
    }

    /// The lock holds plain data that every update leaves consistent, so a panic elsewhere
    /// while it was held does not make it unusable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one event from the engine (called by the face that runs it, in order).
    pub fn publish(&self, ev: &Event) {
        let lines = {
            let mut inner = self.lock();
            inner.state.apply(ev);
            let lines = inner.notifier.lines(ev);
            if let Event::Reply { id, result } = ev
                && let Some(waiter) = inner.waiting.remove(id)
            {
                let _ = waiter.send(result.clone());
            }
            if let Event::DialDecision { ticket, allow } = ev
                && let Some(waiter) = inner.dials.remove(ticket)
            {
                let _ = waiter.send(*allow);
            }
            for q in inner.polls.queues.values_mut() {
                for l in &lines {
                    if q.lines.len() == POLL_LINES {
                        q.lines.pop_front();
                        q.dropped += 1;
                    }
                    q.lines.push_back(l.clone());
                }
            }
            lines
        };
        // No receiver is not an error: nobody is streaming.
        let _ = self.stream.send(Arc::new(Published {
            event: ev.clone(),
            lines,
        }));
    }

    /// A copy of the phone's state now.
    pub fn state(&self) -> PhoneState {
        self.lock().state.clone()
    }

    /// Reads the state without copying all of it.
    pub fn with_state<T>(&self, f: impl FnOnce(&PhoneState) -> T) -> T {
        f(&self.lock().state)
    }

    /// Every event from now on (a client that falls more than [`STREAM_BUFFER`] behind is
    /// told how many it missed).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.stream.subscribe()
    }

    /// Sends `command` and waits for the engine's answer.
    pub async fn execute(&self, command: Command) -> Reply {
        let id = self.commands.next_id();
        let (tx, rx) = oneshot::channel();
        self.lock().waiting.insert(id, tx);
        if !self.commands.send_request(Request { id, command }) {
            self.lock().waiting.remove(&id);
            return Reply::Failed {
                kind: NoticeKind::Engine,
                message: "the engine has stopped".into(),
            };
        }
        match tokio::time::timeout(REPLY_WAIT, rx).await {
            Ok(Ok(reply)) => reply,
            _ => {
                self.lock().waiting.remove(&id);
                Reply::Failed {
                    kind: NoticeKind::Engine,
                    message: "the engine did not answer in time".into(),
                }
            }
        }
    }

    /// Asks the user (through a `dial_request` event the window shows) whether the page on
    /// `origin` may call `target`; false when refused, unanswered for a minute, or when the
    /// engine has stopped.
    pub async fn confirm_dial(&self, origin: &str, target: &str) -> bool {
        let id = self.commands.next_id();
        let (tx, rx) = oneshot::channel();
        self.lock().dials.insert(id.0, tx);
        let asked = self.commands.send_request(Request {
            id,
            command: Command::AskToDial {
                origin: origin.to_string(),
                target: target.to_string(),
                call_when_allowed: false,
            },
        });
        if asked && let Ok(Ok(allow)) = tokio::time::timeout(CONFIRM_WAIT, rx).await {
            return allow;
        }
        self.lock().dials.remove(&id.0);
        // The window still shows it: take it away.
        self.commands.send(Command::ConfirmDial {
            ticket: id.0,
            allow: false,
        });
        false
    }

    /// The lines `client` has not polled yet. Its first poll starts its queue (and returns
    /// nothing): lines are kept only for clients that poll.
    pub fn poll(&self, client: &str) -> PollBatch {
        let mut inner = self.lock();
        let polls = &mut inner.polls;
        polls.clock += 1;
        let now = polls.clock;
        if !polls.queues.contains_key(client) && polls.queues.len() >= POLL_CLIENTS {
            let oldest = polls
                .queues
                .iter()
                .min_by_key(|(_, q)| q.last_poll)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                polls.queues.remove(&k);
            }
        }
        let q = polls.queues.entry(client.to_string()).or_default();
        q.last_poll = now;
        PollBatch {
            lines: q.lines.drain(..).collect(),
            dropped: std::mem::take(&mut q.dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Registration;

    fn hub() -> (Hub, tokio::sync::mpsc::UnboundedReceiver<Request>) {
        let (tx, rx) = CommandSender::channel();
        (Hub::new(tx, PhoneState::default()), rx)
    }

    #[test]
    fn events_update_the_state_and_fill_only_the_queues_of_clients_that_poll() {
        let (hub, _rx) = hub();
        hub.publish(&Event::Started {
            user: "1001".into(),
        });
        assert_eq!(hub.poll("crm").lines, Vec::<String>::new());
        hub.publish(&Event::Registration(Registration::Registered {
            expires_s: 300,
        }));
        assert!(hub.with_state(|s| s.account == crate::model::Account::Registered));
        let batch = hub.poll("crm");
        assert_eq!(batch.lines, ["STATUS,-1,Registered,,1001,0,,"]);
        assert!(hub.poll("crm").lines.is_empty());
        // A client that never polled before gets nothing old.
        assert!(hub.poll("other").lines.is_empty());
    }

    #[test]
    fn a_slow_poller_loses_the_oldest_lines_and_is_told_how_many() {
        let (hub, _rx) = hub();
        hub.poll("slow");
        for i in 0..(POLL_LINES + 7) {
            hub.publish(&Event::info(NoticeKind::Engine, format!("n{i}")));
        }
        let batch = hub.poll("slow");
        assert_eq!(batch.lines.len(), POLL_LINES);
        assert_eq!(batch.dropped, 7);
        assert_eq!(batch.lines[0], "EVENT,n7");
    }

    #[test]
    fn too_many_poll_clients_forget_the_one_polled_longest_ago() {
        let (hub, _rx) = hub();
        for i in 0..POLL_CLIENTS {
            hub.poll(&format!("c{i}"));
        }
        hub.poll("c0");
        hub.poll("new");
        hub.publish(&Event::info(NoticeKind::Engine, "x"));
        assert_eq!(hub.poll("c0").lines, ["EVENT,x"]);
        // c1 was the oldest: forgotten, so it starts again with nothing.
        assert!(hub.poll("c1").lines.is_empty());
    }

    #[tokio::test]
    async fn a_web_call_waits_for_the_user_s_decision_on_its_ticket() {
        let (hub, mut rx) = hub();
        let h = hub.clone();
        let task =
            tokio::spawn(async move { h.confirm_dial("https://crm", "support (1002)").await });
        let req = rx.recv().await.expect("request");
        assert_eq!(
            req.command,
            Command::AskToDial {
                origin: "https://crm".into(),
                target: "support (1002)".into(),
                call_when_allowed: false,
            }
        );
        hub.publish(&Event::DialDecision {
            ticket: req.id.0 + 1,
            allow: true,
        });
        hub.publish(&Event::DialDecision {
            ticket: req.id.0,
            allow: false,
        });
        assert!(!task.await.expect("task"));
    }

    #[tokio::test]
    async fn a_command_waits_for_its_own_reply() {
        let (hub, mut rx) = hub();
        let h = hub.clone();
        let task = tokio::spawn(async move { h.execute(Command::Register).await });
        let req = rx.recv().await.expect("request");
        assert_eq!(req.command, Command::Register);
        // Another request's reply does not end the wait.
        hub.publish(&Event::Reply {
            id: RequestId(req.id.0 + 100),
            result: Reply::Done,
        });
        hub.publish(&Event::Reply {
            id: req.id,
            result: Reply::Line { line: 2 },
        });
        assert_eq!(task.await.expect("task"), Reply::Line { line: 2 });
    }
}

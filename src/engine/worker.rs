//! Blocking work off the loop that drives SIP and media: SQLite writes, the keyring, the
//! settings file, sound device enumeration and ringtone loading run on one worker thread, in
//! the order they were asked for (two writes of the settings file never race), and their
//! results come back to the driver as [`Done`] messages on the same channel as name lookups.

use crate::audio::AudioSink;
use crate::model::{Event, RequestId};
use crate::store::Store;
use std::net::SocketAddr;
use tokio::sync::mpsc;

/// What the worker thread owns.
pub(super) struct WorkerState {
    /// The history, contacts and chat (`None`: not kept this run).
    pub(super) store: Option<Store>,
}

/// A finished piece of work, for the driver.
pub(super) enum Done {
    /// Events for the faces (a keyring or store outcome).
    Events(Vec<Event>),
    /// The sound devices, listed for request `id`.
    Devices {
        id: RequestId,
        microphones: Vec<String>,
        speakers: Vec<String>,
    },
    /// The ringer devices of `line` are open.
    RingerSinks {
        line: u32,
        sinks: Vec<Box<dyn AudioSink>>,
    },
    /// The `ringtone` file was read (or could not be: the problem).
    Ringtone {
        sound: crate::audio::player::Sound,
        problem: Option<String>,
    },
    /// A sound file for PlaySound was read (or could not be).
    Sound {
        file: String,
        sound: Result<crate::audio::player::Sound, String>,
        looped: bool,
        targets: crate::audio::player::PlayTargets,
    },
    /// A call's target host was resolved (or not) for request `id`.
    CallTarget {
        id: RequestId,
        number: String,
        result: Result<SocketAddr, String>,
    },
    /// The server and proxy (as the settings named them) were resolved, or not, after a
    /// change of the account.
    Servers {
        server: String,
        proxy: String,
        result: Result<super::setup::Servers, String>,
    },
}

type Job = Box<dyn FnOnce(&mut WorkerState) -> Option<Done> + Send>;

/// The handle the driver keeps.
pub(super) struct Worker {
    jobs: std::sync::mpsc::Sender<Job>,
    done: mpsc::UnboundedSender<Done>,
    thread: std::thread::JoinHandle<()>,
}

impl Worker {
    /// Starts the thread; results go to `done`.
    pub(super) fn start(
        store: Option<Store>,
        done: mpsc::UnboundedSender<Done>,
    ) -> std::io::Result<Worker> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let results = done.clone();
        let thread = std::thread::Builder::new()
            .name("engine-worker".into())
            .spawn(move || {
                let mut state = WorkerState { store };
                // Every job asked for is done (a setting kept at exit too), until the driver
                // drops its handle; results nobody reads any more are dropped.
                while let Ok(job) = rx.recv() {
                    if let Some(d) = job(&mut state) {
                        let _ = results.send(d);
                    }
                }
            })?;
        Ok(Worker { jobs, done, thread })
    }

    /// Runs `job` on the worker thread.
    pub(super) fn run(&self, job: impl FnOnce(&mut WorkerState) -> Option<Done> + Send + 'static) {
        if self.jobs.send(Box::new(job)).is_err() {
            tracing::warn!("the engine's worker thread has stopped; a blocking job was dropped");
        }
    }

    /// Waits (at most `limit`) until every job asked so far is done: at exit, so that what
    /// was kept (the settings file, the history) is on disk before the un-REGISTER is reported.
    pub(super) async fn flush(&self, limit: std::time::Duration) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.run(move |_| {
            let _ = tx.send(());
            None
        });
        if tokio::time::timeout(limit, rx).await.is_err() {
            tracing::warn!("the engine's worker is still busy after {limit:?}; exiting anyway");
        }
    }

    /// Waits until every job asked for is done (at exit: the settings file, the history).
    pub(super) async fn finish(self) {
        let Worker { jobs, thread, .. } = self;
        drop(jobs);
        if tokio::task::spawn_blocking(move || thread.join())
            .await
            .is_err()
        {
            tracing::warn!("the engine's worker thread did not finish cleanly");
        }
    }

    /// Where tasks of the driver's runtime (name lookups) send their results.
    pub(super) fn results(&self) -> mpsc::UnboundedSender<Done> {
        self.done.clone()
    }
}

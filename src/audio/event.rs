//! What the audio engine tells the driver: device trouble and how recordings go. Its own file
//! so that the engine and the recorder (which reports from its writing thread) both use it
//! without depending on each other.

/// Something the user should hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioEvent {
    /// A sound device failed, came back or could not be opened; calls go on.
    Device(String),
    /// The sound played by `AudioEngine::play` is over (played once to its end).
    PlayEnded,
    /// A recording of `line` into `path` started, ended or failed.
    Recording {
        line: u32,
        path: std::path::PathBuf,
        outcome: RecordingOutcome,
    },
}

/// How a recording went, for the faces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingOutcome {
    /// The file is open and being written.
    Started,
    /// The file is complete: `seconds` of audio; `limit` when `maxrecordlength` ended it.
    Stopped { seconds: u32, limit: bool },
    /// The file could not be written.
    Failed(String),
}

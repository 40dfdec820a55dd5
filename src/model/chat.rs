//! A chat message as the store keeps it and the faces show a conversation's history.

use serde::{Deserialize, Serialize};

/// One message of a conversation: when (wall-clock milliseconds), with whom (the peer's user
/// part), which way, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub at_ms: i64,
    pub peer: String,
    pub outgoing: bool,
    pub text: String,
}

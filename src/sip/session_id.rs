//! The stable name of an INVITE session, in a file of its own so that the call and the
//! transfer data that refer to each other's sessions both stand on it (no circle between them).

/// A session's stable name for as long as it exists: transactions and transfers refer to
/// their call by it, never by its position among the calls (which shifts as calls end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

//! The sans-IO SIP core: message model, parser, transactions, authentication, registration
//! and the user agent that ties them together. Nothing here opens a socket or reads a clock:
//! inputs carry the current `Instant`, outputs are transmits, events and the next deadline.
//!
//! rsip (named in the architecture notes for message types) is not used in this core: measured
//! on our torture corpus, rsip 0.4 cannot represent extension methods (closed `Method` enum),
//! rejects folded headers and some escaped URIs, and accepts unbalanced quotes and duplicate
//! Content-Length. A UA must answer all of those precisely (501, 400...), so the envelope,
//! framer and URI parser are ours; rsip is kept as a dev-dependency for the corpus comparison
//! test and the parse benchmark.

pub mod builder;
pub mod call;
pub mod call_timers;
pub mod client_auth;
pub mod dial_check;
pub mod dialog;
pub mod dialog_info;
pub mod digest;
pub mod diversion;
pub mod headers;
pub mod message;
pub mod parse;
pub mod publication;
pub mod refer;
pub mod registration;
pub mod rel100;
pub mod session_expires;
pub mod session_id;
pub mod session_state;
pub mod stream;
pub mod subscription;
pub mod transaction;
pub mod transport;
pub mod ua;
pub mod uri;
pub mod validate;
pub mod xml;

/// A random token for tags, Call-IDs, branches and cnonces, drawn from the caller's (seedable)
/// RNG so that simulated runs repeat exactly.
pub fn random_token(rng: &mut rand::rngs::StdRng, len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

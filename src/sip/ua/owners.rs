//! Which usage sent each client transaction: one map from transaction key to owner, consulted
//! when a response, a timeout or a transport error comes back. It replaced the per-feature
//! `Option<TxKey>` fields (`reg_tx`, `options_tx`, and a call's `invite_tx`, `reinvite_tx`,
//! `info_tx`, `bye_tx`) that every response was compared against in turn; a new request kind
//! (REFER, NOTIFY, later SUBSCRIBE and MESSAGE) is a new variant here, not a new field and a new
//! comparison. Sessions are named by their stable [`SessionId`], never by a position in a list,
//! so a response that arrives after other calls came and went still finds its own call.

use crate::sip::call::SessionId;
use crate::sip::transaction::TxKey;
use std::collections::HashMap;

/// The usage a client transaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Usage {
    /// REGISTER (refresh or removal) of the account.
    Registration,
    /// The OPTIONS capability request to the server.
    Capability,
    /// A request of one INVITE session.
    Session(SessionId, SessionTx),
    /// One of our MESSAGEs (pager mode, RFC 3428), by its own id.
    Pager(u64),
    /// A SUBSCRIBE of one of our subscriptions (RFC 6665), by the subscription's id.
    Subscription(u64),
    /// A PUBLISH of our presence (RFC 3903).
    Publication,
    /// A NOTIFY to one of our presence's watchers, by the watcher's id.
    Watcher(u64),
}

/// The requests a session sends on client transactions of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionTx {
    /// The initial INVITE (and its authenticated retry).
    Invite,
    /// A re-INVITE for hold or resume.
    Reinvite,
    /// DTMF by INFO (one at a time, so that digits keep their order).
    Info,
    Bye,
    /// Our REFER asking the peer to call a transfer target.
    Refer,
    /// A PRACK acknowledging a reliable provisional response (one per response: several may
    /// be in flight).
    Prack,
    /// An UPDATE refreshing the session (RFC 4028).
    Update,
    /// A NOTIFY telling the transferor how the call it asked for is going (several may be in
    /// flight: each progress step is its own).
    Notify,
}

impl Usage {
    /// Whether a newer transaction of this usage supersedes the older one: a response to the
    /// superseded request (a late 2xx to an earlier re-INVITE) must not be taken for the
    /// current one.
    fn is_exclusive(self) -> bool {
        !matches!(
            self,
            Usage::Session(_, SessionTx::Notify | SessionTx::Prack)
        )
    }
}

/// The owner map of the UA's client transactions.
#[derive(Debug, Default)]
pub(super) struct Owners {
    map: HashMap<TxKey, Usage>,
}

impl Owners {
    /// Records that `usage` sent the transaction `key`; an exclusive usage's older transaction
    /// is forgotten (its late responses then belong to nobody).
    pub(super) fn own(&mut self, key: TxKey, usage: Usage) {
        if usage.is_exclusive() {
            self.release_usage(usage);
        }
        self.map.insert(key, usage);
    }

    /// Who sent `key`.
    pub(super) fn owner(&self, key: &TxKey) -> Option<Usage> {
        self.map.get(key).copied()
    }

    /// Whether a transaction of `usage` is running.
    pub(super) fn has(&self, usage: Usage) -> bool {
        self.map.values().any(|u| *u == usage)
    }

    /// The transaction ended.
    pub(super) fn release(&mut self, key: &TxKey) {
        self.map.remove(key);
    }

    /// Forgets every transaction of `usage`.
    pub(super) fn release_usage(&mut self, usage: Usage) {
        self.map.retain(|_, u| *u != usage);
    }

    /// Forgets every transaction of a session that is gone.
    pub(super) fn release_session(&mut self, id: SessionId) {
        self.map
            .retain(|_, u| !matches!(u, Usage::Session(s, _) if *s == id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Method;

    fn key(branch: &str) -> TxKey {
        TxKey {
            branch: branch.into(),
            method: Method::Invite,
            sent_by: None,
        }
    }

    #[test]
    fn a_newer_exclusive_transaction_supersedes_the_older() {
        let mut o = Owners::default();
        let s = Usage::Session(SessionId(1), SessionTx::Reinvite);
        o.own(key("a"), s);
        o.own(key("b"), s);
        assert_eq!(o.owner(&key("a")), None);
        assert_eq!(o.owner(&key("b")), Some(s));
    }

    #[test]
    fn notifies_run_side_by_side_and_a_session_is_released_whole() {
        let mut o = Owners::default();
        let n = Usage::Session(SessionId(1), SessionTx::Notify);
        let other = Usage::Session(SessionId(2), SessionTx::Bye);
        o.own(key("a"), n);
        o.own(key("b"), n);
        o.own(key("c"), other);
        assert_eq!(o.owner(&key("a")), Some(n));
        o.release_session(SessionId(1));
        assert_eq!(o.owner(&key("a")), None);
        assert_eq!(o.owner(&key("b")), None);
        assert!(o.has(other));
    }
}

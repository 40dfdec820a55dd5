//! The INVITE session's state as data (RFC 3261 §12-14, RFC 3264 offer/answer): each phase of a
//! call carries exactly what that phase needs, so that a CANCEL can only be built while there is
//! an INVITE to cancel, an answer only while there is a request to answer, and a re-INVITE only
//! on a confirmed dialog. The user-visible [`CallState`] is derived from it, never stored beside
//! it. The UA's operations (`ua/dial.rs`, `ua/incoming.rs`, `ua/modify.rs`, `ua/close.rs`, ...)
//! move a call from one phase to the next.

use super::client_auth::ClientAuth;
use super::message::SipMessage;
use super::rel100::ReliableProvisional;
use super::transaction::TxKey;
use super::transport::Destination;
use crate::model::CallState;

/// Where an INVITE session stands.
#[derive(Debug)]
pub enum SessionState {
    /// Outgoing, no final answer yet: our INVITE transaction and what it heard so far.
    Calling(Outgoing),
    /// Incoming, ringing here: the INVITE waiting for the user's answer.
    Incoming(Incoming),
    /// Incoming, answered: our 2xx goes again until the ACK confirms the dialog.
    Accepted,
    /// Both sides hold the dialog: media flows, the session may be modified.
    Confirmed(Confirmed),
    /// We are ending it: a CANCEL or a BYE is out.
    Terminating(Terminating),
    /// Over; the call leaves the UA right after its last event.
    Terminated,
}

/// An outgoing call before its final response: what the CANCEL, the 401/407 and 422 retries,
/// PRACK ordering and 3xx following need.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// The INVITE as last sent (with its Via): the CANCEL repeats its branch.
    pub invite: Option<SipMessage>,
    /// What the far end has said so far.
    pub progress: Progress,
    /// The digest challenge our INVITEs answer (a repeated one means rejected credentials).
    pub auth: ClientAuth,
    /// The RSeq of the last reliable provisional response we PRACKed (RFC 3262).
    pub last_rseq: Option<u32>,
    /// The `Session-Expires` our INVITE asks for (raised by a 422, RFC 4028).
    pub session_expires_asked: Option<u32>,
    /// How many 422 (interval too small) answers we retried after.
    pub retries_422: u32,
    /// The targets a 3xx moved this call away from, oldest first.
    pub redirects: Vec<String>,
    /// The Replaces header our INVITE carries (a transfer or a pickup that swaps calls).
    pub replaces: Option<String>,
}

/// How far an outgoing call got before its final response.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing heard: a CANCEL may not be sent yet (RFC 3261 §9.1).
    #[default]
    Sent,
    /// A provisional response without ringing.
    Proceeding,
    /// The far end rings (180, or another provisional as `changesptoring` says).
    Ringing,
}

/// An incoming call ringing here: the request and the server transaction its answer goes on.
#[derive(Debug)]
pub struct Incoming {
    pub server_tx: TxKey,
    pub request: SipMessage,
    /// Where our 2xx is resent until the ACK (the Via's sent-by, RFC 3261 §18.2.2).
    pub response_dest: Option<Destination>,
    /// Our reliable ringing response (RFC 3262) until its PRACK comes.
    pub reliable: Option<ReliableProvisional>,
}

/// A confirmed dialog.
#[derive(Debug)]
pub struct Confirmed {
    /// Outgoing: our ACK for the 2xx, sent again for each retransmission of it.
    pub ack: Option<SipMessage>,
    /// A change of the session of ours that is under way.
    pub modify: Modify,
}

/// Our own change of a confirmed session (RFC 3261 §14, RFC 3311, RFC 4028).
#[derive(Debug, Default)]
pub enum Modify {
    /// Nothing of ours is out.
    #[default]
    Idle,
    /// The ACK for our last re-INVITE's 2xx, sent again when that 2xx is retransmitted.
    Acked(SipMessage),
    /// Our re-INVITE is out: `hold` is what it offers, `refresh` that it carries the session
    /// refresh whose answer restarts the session timer.
    Reinviting { hold: bool, refresh: bool },
    /// Our bodiless UPDATE refreshes the session (no offer is outstanding, so a hold may still
    /// go by re-INVITE).
    Updating,
    /// Our re-INVITE met glare (491): it goes again when the `GlareRetry` timer is due.
    GlareWait { refresh: bool },
}

/// How a call we end is being ended.
#[derive(Debug)]
pub enum Terminating {
    /// The call had no final answer: `cancel_sent` once the CANCEL is out (it waits for a
    /// provisional response first). A 2xx that still comes is ACKed and hung up.
    Cancelling {
        outgoing: Outgoing,
        cancel_sent: bool,
    },
    /// Our BYE is out. `ack` is our ACK for the INVITE's 2xx, sent again for retransmissions.
    Bye { ack: Option<SipMessage> },
}

/// The RFC 3264 offer/answer state of the session (RFC 6337 §2 names the states).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum OfferAnswer {
    /// No offer is outstanding.
    #[default]
    Stable,
    /// We offered; the answer comes in `answer_in`.
    LocalOffer { answer_in: AnswerIn },
    /// The far end offered and our answer is due.
    RemoteOffer,
}

/// Where the answer to our offer comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerIn {
    /// In the response to our (re-)INVITE or UPDATE.
    Response,
    /// In the ACK for our 2xx (our 2xx offered, the request had no SDP: a late offer).
    Ack,
}

impl SessionState {
    /// The state shown to the user.
    pub fn user_state(&self) -> CallState {
        match self {
            SessionState::Calling(o) => match o.progress {
                Progress::Sent => CallState::Calling,
                Progress::Proceeding => CallState::Proceeding,
                Progress::Ringing => CallState::Ringing,
            },
            SessionState::Incoming(_) => CallState::Incoming,
            SessionState::Accepted => CallState::Connecting,
            SessionState::Confirmed(_) => CallState::Connected,
            SessionState::Terminating(_) => CallState::Terminating,
            SessionState::Terminated => CallState::Terminated,
        }
    }

    /// The outgoing INVITE's data while it has no final answer (also while it is cancelled).
    pub fn outgoing(&self) -> Option<&Outgoing> {
        match self {
            SessionState::Calling(o)
            | SessionState::Terminating(Terminating::Cancelling { outgoing: o, .. }) => Some(o),
            _ => None,
        }
    }

    /// As [`SessionState::outgoing`], to change it.
    pub fn outgoing_mut(&mut self) -> Option<&mut Outgoing> {
        match self {
            SessionState::Calling(o)
            | SessionState::Terminating(Terminating::Cancelling { outgoing: o, .. }) => Some(o),
            _ => None,
        }
    }

    /// The ringing INVITE, while it rings.
    pub fn incoming(&self) -> Option<&Incoming> {
        match self {
            SessionState::Incoming(i) => Some(i),
            _ => None,
        }
    }

    /// As [`SessionState::incoming`], to change it.
    pub fn incoming_mut(&mut self) -> Option<&mut Incoming> {
        match self {
            SessionState::Incoming(i) => Some(i),
            _ => None,
        }
    }

    /// Our change of the session, while the dialog is confirmed.
    pub fn modify(&self) -> Option<&Modify> {
        match self {
            SessionState::Confirmed(c) => Some(&c.modify),
            _ => None,
        }
    }

    /// As [`SessionState::modify`], to change it.
    pub fn modify_mut(&mut self) -> Option<&mut Modify> {
        match self {
            SessionState::Confirmed(c) => Some(&mut c.modify),
            _ => None,
        }
    }

    /// Our ACK for the INVITE's 2xx, once sent: a 2xx again means the ACK was lost.
    pub fn ack(&self) -> Option<&SipMessage> {
        match self {
            SessionState::Confirmed(Confirmed { ack, .. })
            | SessionState::Terminating(Terminating::Bye { ack }) => ack.as_ref(),
            _ => None,
        }
    }

    /// Whether our re-INVITE is out or waits to go again after glare: no other may start.
    pub fn reinvite_open(&self) -> bool {
        matches!(
            self.modify(),
            Some(Modify::Reinviting { .. } | Modify::GlareWait { .. })
        )
    }

    /// The state after our BYE went: what the 2xx retransmissions still need.
    pub fn bye_sent(&self) -> SessionState {
        SessionState::Terminating(Terminating::Bye {
            ack: self.ack().cloned(),
        })
    }
}

impl Modify {
    /// The ACK to send again for a retransmitted 2xx to our last re-INVITE.
    pub fn last_ack(&self) -> Option<&SipMessage> {
        match self {
            Modify::Acked(ack) => Some(ack),
            _ => None,
        }
    }
}

impl OfferAnswer {
    /// Whether an offer from the far end must be refused now (RFC 3261 §14.2 and RFC 3311
    /// §5.2): ours is outstanding (491, glare), or theirs is still unanswered (500).
    pub fn refuses_offer(self) -> Option<u16> {
        match self {
            OfferAnswer::Stable => None,
            OfferAnswer::LocalOffer { .. } => Some(491),
            OfferAnswer::RemoteOffer => Some(500),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Method;

    #[test]
    fn user_state_follows_the_phase_and_its_progress() {
        let mut s = SessionState::Calling(Outgoing::default());
        assert_eq!(s.user_state(), CallState::Calling);
        if let Some(o) = s.outgoing_mut() {
            o.progress = Progress::Ringing;
        }
        assert_eq!(s.user_state(), CallState::Ringing);
        assert_eq!(SessionState::Accepted.user_state(), CallState::Connecting);
        let bye = SessionState::Terminating(Terminating::Bye { ack: None });
        assert_eq!(bye.user_state(), CallState::Terminating);
    }

    #[test]
    fn a_cancelled_call_keeps_its_invite_and_a_hung_up_one_its_ack() {
        let invite = SipMessage::request(Method::Invite, "sip:a@b");
        let s = SessionState::Terminating(Terminating::Cancelling {
            outgoing: Outgoing {
                invite: Some(invite),
                ..Outgoing::default()
            },
            cancel_sent: false,
        });
        assert!(s.outgoing().and_then(|o| o.invite.as_ref()).is_some());
        assert!(s.ack().is_none() && s.modify().is_none());
        let ack = SipMessage::request(Method::Ack, "sip:a@b");
        let up = SessionState::Confirmed(Confirmed {
            ack: Some(ack),
            modify: Modify::Idle,
        });
        assert!(up.ack().is_some());
        assert!(up.bye_sent().ack().is_some() && up.bye_sent().outgoing().is_none());
    }

    #[test]
    fn only_an_open_reinvite_blocks_another() {
        let mut s = SessionState::Confirmed(Confirmed {
            ack: None,
            modify: Modify::Updating,
        });
        assert!(!s.reinvite_open());
        if let Some(m) = s.modify_mut() {
            *m = Modify::GlareWait { refresh: false };
        }
        assert!(s.reinvite_open());
        assert!(!SessionState::Accepted.reinvite_open());
    }

    #[test]
    fn offers_are_refused_while_one_is_outstanding() {
        assert_eq!(OfferAnswer::Stable.refuses_offer(), None);
        let ours = OfferAnswer::LocalOffer {
            answer_in: AnswerIn::Ack,
        };
        assert_eq!(ours.refuses_offer(), Some(491));
        assert_eq!(OfferAnswer::RemoteOffer.refuses_offer(), Some(500));
    }
}

//! The SIP core's events as the model's events: what the faces are told. Pure translation;
//! the policy decides the rest.

use crate::model::{Event, MediaDirection, NoticeKind, Registration};
use crate::sip::ua::UaEvent;

/// The model's name for an SDP direction.
pub(crate) fn media_direction(d: crate::sdp::Direction) -> MediaDirection {
    match d {
        crate::sdp::Direction::SendRecv => MediaDirection::SendRecv,
        crate::sdp::Direction::SendOnly => MediaDirection::SendOnly,
        crate::sdp::Direction::RecvOnly => MediaDirection::RecvOnly,
        crate::sdp::Direction::Inactive => MediaDirection::Inactive,
    }
}

/// A call's state change, with when it was answered.
pub(super) fn call_event(ev: &UaEvent, answered_at_ms: Option<i64>) -> Option<Event> {
    let UaEvent::Call {
        line,
        state,
        direction,
        peer,
        peer_display,
        call_id,
        peer_uri,
        reason,
        ended_by_us,
    } = ev
    else {
        return None;
    };
    Some(Event::Call {
        line: *line,
        state: *state,
        direction: *direction,
        peer: peer.clone(),
        peer_display: peer_display.clone(),
        peer_uri: peer_uri.clone(),
        call_id: call_id.clone(),
        reason: reason.clone(),
        ended_by_us: *ended_by_us,
        answered_at_ms,
    })
}

/// Every other core event: what the faces hear of it (nothing for some).
/// `WHAT failed: REASON (retry in N s)`.
fn failed_text(what: &str, reason: &str, retry_in: Option<std::time::Duration>) -> String {
    match retry_in {
        Some(d) => format!("{what} failed: {reason} (retry in {} s)", d.as_secs()),
        None => format!("{what} failed: {reason}"),
    }
}

pub(super) fn translate(ev: &UaEvent) -> Option<Event> {
    Some(match ev {
        UaEvent::Registering => Event::Registration(Registration::Registering),
        UaEvent::Registered { expires } => {
            tracing::info!(expires, "registered");
            Event::Registration(Registration::Registered {
                expires_s: *expires,
            })
        }
        UaEvent::RegisterFailed {
            code,
            reason,
            retry_in,
        } => Event::Registration(Registration::Failed {
            code: *code,
            reason: reason.clone(),
            retry_in_ms: retry_in.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }),
        UaEvent::Unregistered => Event::Registration(Registration::Unregistered),
        UaEvent::CapabilityResponse {
            code,
            reason,
            allow,
        } => Event::CapabilityResponse {
            code: *code,
            reason: reason.clone(),
            allow: allow.clone(),
        },
        UaEvent::PublicAddress { addr } => Event::PublicAddress {
            addr: addr.to_string(),
        },
        UaEvent::Malformed {
            source,
            error,
            answered,
        } => {
            let answered = answered
                .map(|c| format!(", answered {c}"))
                .unwrap_or_default();
            Event::warning(
                NoticeKind::Sip,
                format!("Malformed SIP message from {source}: {error}{answered}"),
            )
        }
        UaEvent::RequestRejected { method, code } => {
            tracing::debug!(%method, code, "request answered with an error");
            return None;
        }
        UaEvent::Media {
            line,
            negotiated: Some(n),
        } => Event::Media {
            line: *line,
            codec: n.codec.name().to_string(),
            remote: n.remote.to_string(),
            direction: media_direction(n.direction),
            encryption: match (&n.srtp, &n.dtls) {
                (Some(k), _) => Some(k.send.suite.name().to_string()),
                // The suite is known once the handshake is through (a `secured` event).
                (None, Some(_)) => Some("keyed by DTLS".to_string()),
                (None, None) => None,
            },
        },
        UaEvent::Media {
            line,
            negotiated: None,
        } => {
            tracing::debug!(line, "media stopped");
            return None;
        }
        UaEvent::CommandFailed { error } => Event::error(NoticeKind::Call, error.clone()),
        UaEvent::Hold {
            line,
            local,
            remote,
        } => Event::Hold {
            line: *line,
            local: *local,
            remote: *remote,
        },
        UaEvent::Dtmf { line, digit } => Event::DtmfReceived {
            line: *line,
            digit: *digit,
        },
        UaEvent::Transfer { line, step } => Event::Transfer {
            line: *line,
            step: step.clone(),
        },
        UaEvent::Diverted { line, diversion } => Event::CallDiverted {
            line: *line,
            from: diversion.from.clone(),
            reason: diversion.reason,
        },
        UaEvent::CallRefused { peer, code, why } => Event::Notice {
            severity: crate::model::Severity::Info,
            kind: NoticeKind::Call,
            text: format!("Call from {peer} answered {code}: {why}"),
        },
        UaEvent::MessageReceived {
            line,
            from,
            display,
            text,
        } => Event::ChatReceived {
            line: *line,
            from: from.clone(),
            display: display.clone(),
            text: text.clone(),
        },
        UaEvent::MessageDelivery {
            tag,
            to,
            delivered,
            code,
            reason,
            ..
        } => Event::ChatDelivery {
            request: crate::model::RequestId(*tag),
            to: to.clone(),
            delivered: *delivered,
            code: (*code > 0).then_some(*code),
            reason: reason.clone(),
        },
        UaEvent::MessageWaiting { summary } => Event::Voicemail(*summary),
        UaEvent::Presence { user, status, note } => Event::Presence {
            user: user.clone(),
            status: *status,
            note: note.clone(),
        },
        UaEvent::BusyLamp {
            user,
            state,
            pickup,
        } => Event::BusyLamp {
            user: user.clone(),
            state: *state,
            pickup: *pickup,
        },
        UaEvent::Watchers { watchers } => Event::Watchers {
            watchers: watchers.clone(),
        },
        UaEvent::WatcherRequest { watcher } => Event::WatcherRequest {
            watcher: watcher.clone(),
        },
        UaEvent::PresencePublished { status } => Event::info(
            NoticeKind::Subscription,
            format!("Presence published: {}", status.word()),
        ),
        UaEvent::PublishFailed { reason, retry_in } => Event::warning(
            NoticeKind::Subscription,
            failed_text("Publishing our presence", reason, *retry_in),
        ),
        UaEvent::Subscription {
            event,
            target,
            status,
        } => {
            use crate::sip::subscription::SubStatus;
            let what = match event.as_str() {
                "message-summary" => format!("the voicemail box {target}"),
                _ => format!("{event} of {target}"),
            };
            match status {
                SubStatus::Active => {
                    Event::info(NoticeKind::Subscription, format!("Subscribed to {what}"))
                }
                SubStatus::Pending => Event::info(
                    NoticeKind::Subscription,
                    format!("Subscription to {what} waits for approval"),
                ),
                SubStatus::Failed {
                    reason, retry_in, ..
                } => Event::warning(
                    NoticeKind::Subscription,
                    failed_text(&format!("Subscription to {what}"), reason, *retry_in),
                ),
                SubStatus::Ended { reason } if reason.starts_with("unsubscribed") => return None,
                SubStatus::Ended { reason } => Event::warning(
                    NoticeKind::Subscription,
                    format!("Subscription to {what} ended: {reason}"),
                ),
            }
        }
        UaEvent::Call { .. }
        | UaEvent::Referred { .. }
        | UaEvent::Replacing { .. }
        | UaEvent::AutoAnswer { .. }
        | UaEvent::Stopped
        | UaEvent::ServerParameters { .. } => {
            return None;
        }
    })
}

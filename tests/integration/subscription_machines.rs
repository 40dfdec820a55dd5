//! The RFC 6665/3903 state machines on their own (no UA, no network): the subscriber
//! (`ClientSubscription`), the notifier (`ServerSubscription`) and the publication
//! (`Publication`), fed hand-written responses and NOTIFYs on a clock the test moves. They live
//! here rather than beside the code because the cores never read the clock themselves.

mod client {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use softphone::model::Secret;
    use softphone::sip::digest::Credentials;
    use softphone::sip::headers::CSeq;
    use softphone::sip::message::SipMessage;
    use softphone::sip::parse::parse_message;
    use softphone::sip::subscription::{
        ClientSubscription, SubOutput, SubStatus, SubscriptionConfig,
    };
    use std::time::{Duration, Instant};

    fn parse(text: &str) -> SipMessage {
        match parse_message(text.as_bytes()) {
            Ok(m) => m,
            Err(e) => panic!("{e}: {text}"),
        }
    }

    fn sub(expires: u32) -> ClientSubscription {
        ClientSubscription::new(
            SubscriptionConfig {
                event: "message-summary",
                accept: "application/simple-message-summary",
                target: "sip:1001@pbx".into(),
                local_uri: "sip:1001@pbx".into(),
                contact: "sip:1001@10.0.0.1:5060".into(),
                expires,
                poll_every: Duration::from_secs(120),
                credentials: Credentials {
                    username: "1001".into(),
                    password: Some(Secret::new("pw")),
                    ha1_md5: None,
                    realm: None,
                },
                extra_headers: vec![],
                retry_base: Duration::from_secs(5),
                retry_max: Duration::from_secs(60),
            },
            StdRng::seed_from_u64(7),
        )
    }

    /// The SUBSCRIBEs sent, the other outputs dropped.
    fn sent(s: &mut ClientSubscription) -> Vec<SipMessage> {
        let mut v = Vec::new();
        while let Some(o) = s.poll_output() {
            if let SubOutput::Send(m) = o {
                v.push(m);
            }
        }
        v
    }

    fn outputs(s: &mut ClientSubscription) -> Vec<SubOutput> {
        std::iter::from_fn(|| s.poll_output()).collect()
    }

    fn response(req: &SipMessage, code: u16, extra: &str) -> SipMessage {
        let h = |n: &str| req.headers.get(n).unwrap_or_default().to_string();
        parse(&format!(
            "SIP/2.0 {code} Whatever\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: {}\r\n\
             To: {};tag=srv\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:pbx:5060>\r\n{extra}\
             Content-Length: 0\r\n\r\n",
            h("From"),
            h("To").split(";tag=").next().unwrap_or_default(),
            h("Call-ID"),
            h("CSeq")
        ))
    }

    fn notify(req: &SipMessage, from_tag: &str, cseq: u32, state: &str, body: &str) -> SipMessage {
        let h = |n: &str| req.headers.get(n).unwrap_or_default().to_string();
        parse(&format!(
            "NOTIFY sip:1001@10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP pbx;branch=z9hG4bKn{cseq}\r\n\
             From: <sip:1001@pbx>;tag={from_tag}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} NOTIFY\r\n\
             Contact: <sip:pbx:5060>\r\nEvent: message-summary\r\nSubscription-State: {state}\r\n\
             Content-Type: application/simple-message-summary\r\nContent-Length: {}\r\n\r\n{body}",
            h("From"),
            h("Call-ID"),
            body.len()
        ))
    }

    #[test]
    fn subscribes_answers_the_challenge_and_refreshes_in_the_dialog_before_expiry() {
        let t0 = Instant::now();
        let mut s = sub(3600);
        s.subscribe(t0);
        let first = sent(&mut s).pop().expect("SUBSCRIBE");
        assert_eq!(first.headers.get("Event"), Some("message-summary"));
        assert_eq!(first.headers.get("Expires"), Some("3600"));
        let challenge = response(
            &first,
            407,
            "Proxy-Authenticate: Digest realm=\"pbx\", nonce=\"n1\", qop=\"auth\"\r\n",
        );
        s.on_response(t0, &challenge);
        let authed = sent(&mut s).pop().expect("retried");
        assert!(authed.headers.get("Proxy-Authorization").is_some());
        assert_eq!(
            CSeq::of(&authed).map(|c| c.seq),
            CSeq::of(&first).map(|c| c.seq + 1)
        );
        s.on_response(t0, &response(&authed, 200, "Expires: 600\r\n"));
        // The notifier granted 600 s: the refresh is due 32 s before.
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(568)));
        assert_eq!(
            s.on_notify(
                t0,
                &notify(
                    &authed,
                    "srv",
                    1,
                    "active;expires=600",
                    "Messages-Waiting: yes\r\n"
                )
            ),
            (200, "OK")
        );
        let outs = outputs(&mut s);
        assert!(
            outs.contains(&SubOutput::Status(SubStatus::Active)),
            "{outs:?}"
        );
        assert!(outs.iter().any(|o| matches!(o, SubOutput::Content { body, .. } if body.starts_with(b"Messages-Waiting"))));
        s.on_timeout(t0 + Duration::from_secs(567));
        assert!(sent(&mut s).is_empty(), "not yet");
        s.on_timeout(t0 + Duration::from_secs(568));
        let refresh = sent(&mut s).pop().expect("refresh");
        // In the dialog: the notifier's tag and Contact, the same Call-ID.
        assert_eq!(refresh.request_uri(), Some("sip:pbx:5060"));
        assert!(
            refresh
                .headers
                .get("To")
                .is_some_and(|t| t.ends_with(";tag=srv"))
        );
        assert_eq!(
            refresh.headers.get("Call-ID"),
            authed.headers.get("Call-ID")
        );
    }

    #[test]
    fn a_lost_subscription_starts_over_and_forks_and_old_notifies_are_refused() {
        let t0 = Instant::now();
        let mut s = sub(3600);
        s.subscribe(t0);
        let first = sent(&mut s).pop().expect("SUBSCRIBE");
        // The NOTIFY beats the 2xx: it makes the dialog.
        assert_eq!(
            s.on_notify(t0, &notify(&first, "a", 5, "pending", "")).0,
            200
        );
        // A second fork's NOTIFY is refused; an out-of-order one too.
        assert_eq!(
            s.on_notify(t0, &notify(&first, "b", 1, "active", "")).0,
            481
        );
        assert_eq!(
            s.on_notify(t0, &notify(&first, "a", 4, "active", "")).0,
            500
        );
        // Negative control: the next in order from the first fork is taken.
        assert_eq!(
            s.on_notify(t0, &notify(&first, "a", 6, "active", "")).0,
            200
        );
        // Missing Subscription-State, wrong Event.
        let mut bad = notify(&first, "a", 7, "active", "");
        bad.headers.remove("Subscription-State");
        assert_eq!(s.on_notify(t0, &bad).0, 400);
        let mut bad = notify(&first, "a", 8, "active", "");
        bad.headers.remove("Event");
        bad.headers.push("Event", "presence");
        assert_eq!(s.on_notify(t0, &bad).0, 489);
        s.on_response(t0, &response(&first, 200, "Expires: 3600\r\n"));
        let _ = outputs(&mut s);
        // The refresh meets a server that restarted: 481, and a new subscription goes out.
        let due = s.poll_timeout().expect("refresh due");
        s.on_timeout(due);
        let refresh = sent(&mut s).pop().expect("refresh");
        s.on_response(due, &response(&refresh, 481, ""));
        let again = sent(&mut s).pop().expect("a new SUBSCRIBE");
        assert!(again.headers.get("To").is_some_and(|t| !t.contains("tag=")));
        assert_ne!(again.headers.get("Call-ID"), first.headers.get("Call-ID"));
        // The old dialog's NOTIFYs no longer match.
        assert!(!s.matches(&notify(&first, "a", 9, "active", "")));
        assert!(s.matches(&notify(&again, "c", 1, "active", "")));
    }

    #[test]
    fn termination_reasons_decide_whether_and_when_to_ask_again() {
        let t0 = Instant::now();
        for (state, resubscribes_at, ended) in [
            ("terminated;reason=deactivated", Some(0), false),
            ("terminated;reason=timeout", Some(0), false),
            (
                "terminated;reason=probation;retry-after=30",
                Some(30),
                false,
            ),
            ("terminated;reason=giveup", Some(5), false),
            ("terminated;reason=rejected", None, true),
            ("terminated;reason=noresource", None, true),
        ] {
            let mut s = sub(3600);
            s.subscribe(t0);
            let first = sent(&mut s).pop().expect("SUBSCRIBE");
            s.on_response(t0, &response(&first, 202, ""));
            let _ = outputs(&mut s);
            assert_eq!(s.on_notify(t0, &notify(&first, "srv", 1, state, "")).0, 200);
            let at_once = sent(&mut s);
            match resubscribes_at {
                Some(0) => assert_eq!(at_once.len(), 1, "{state}"),
                Some(secs) => {
                    assert!(at_once.is_empty(), "{state}");
                    assert_eq!(
                        s.poll_timeout(),
                        Some(t0 + Duration::from_secs(secs)),
                        "{state}"
                    );
                    s.on_timeout(t0 + Duration::from_secs(secs));
                    assert_eq!(sent(&mut s).len(), 1, "{state}");
                }
                None => {
                    assert!(at_once.is_empty() && s.poll_timeout().is_none(), "{state}");
                }
            }
            assert_eq!(s.is_ended(), ended, "{state}");
        }
    }

    #[test]
    fn failures_back_off_and_polling_fetches_at_its_interval() {
        let t0 = Instant::now();
        let mut s = sub(3600);
        s.subscribe(t0);
        let first = sent(&mut s).pop().expect("SUBSCRIBE");
        s.on_response(t0, &response(&first, 503, ""));
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        s.on_timeout(t0 + Duration::from_secs(5));
        let second = sent(&mut s).pop().expect("retry");
        s.on_no_response(t0 + Duration::from_secs(37), 408, "Request Timeout");
        // Doubled.
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(47)));
        let _ = second;
        // A server without the package: ended, never asked again.
        let mut no = sub(3600);
        no.subscribe(t0);
        let first = sent(&mut no).pop().expect("SUBSCRIBE");
        no.on_response(t0, &response(&first, 489, ""));
        assert!(no.is_ended() && no.poll_timeout().is_none());

        let mut p = sub(0);
        p.subscribe(t0);
        let fetch = sent(&mut p).pop().expect("fetch");
        assert_eq!(fetch.headers.get("Expires"), Some("0"));
        p.on_response(t0, &response(&fetch, 200, ""));
        assert_eq!(
            p.on_notify(
                t0,
                &notify(
                    &fetch,
                    "srv",
                    1,
                    "terminated;reason=timeout",
                    "Messages-Waiting: no\r\n"
                )
            )
            .0,
            200
        );
        assert!(
            outputs(&mut p)
                .iter()
                .any(|o| matches!(o, SubOutput::Content { .. }))
        );
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(120)));
        p.on_timeout(t0 + Duration::from_secs(120));
        assert_eq!(sent(&mut p).len(), 1, "the next fetch");
    }

    #[test]
    fn unsubscribing_sends_expires_zero_in_the_dialog_and_ends() {
        let t0 = Instant::now();
        let mut s = sub(3600);
        s.subscribe(t0);
        let first = sent(&mut s).pop().expect("SUBSCRIBE");
        s.on_response(t0, &response(&first, 200, ""));
        assert!(s.unsubscribe(t0));
        let bye = sent(&mut s).pop().expect("unsubscribe");
        assert_eq!(bye.headers.get("Expires"), Some("0"));
        assert!(
            bye.headers
                .get("To")
                .is_some_and(|t| t.ends_with(";tag=srv"))
        );
        s.on_response(t0, &response(&bye, 200, ""));
        assert!(s.is_ended());
        // Asked to end again while the unsubscribe meets a challenge (Exit, then SIGTERM):
        // nothing is cut short, the challenge is answered and the 2xx ends it.
        let mut twice = sub(3600);
        twice.subscribe(t0);
        let first = sent(&mut twice).pop().expect("SUBSCRIBE");
        twice.on_response(t0, &response(&first, 200, ""));
        assert!(twice.unsubscribe(t0));
        let bye = sent(&mut twice).pop().expect("unsubscribe");
        assert!(twice.unsubscribe(t0));
        assert!(
            !twice.is_ended(),
            "a second unsubscribe cut the first short"
        );
        assert!(sent(&mut twice).is_empty(), "nothing new to send");
        let challenge = "Proxy-Authenticate: Digest realm=\"pbx\", nonce=\"n9\", qop=\"auth\"\r\n";
        twice.on_response(t0, &response(&bye, 407, challenge));
        let again = sent(&mut twice)
            .pop()
            .expect("the unsubscribe with credentials");
        assert_eq!(again.headers.get("Expires"), Some("0"));
        assert!(again.headers.get("Proxy-Authorization").is_some());
        assert!(!twice.is_ended());
        twice.on_response(t0, &response(&again, 200, ""));
        assert!(twice.is_ended());
        // Negative control: never subscribed, nothing to send.
        let mut idle = sub(3600);
        assert!(!idle.unsubscribe(t0));
        assert!(idle.is_ended());
    }
}

mod server {
    use softphone::sip::message::SipMessage;
    use softphone::sip::parse::parse_message;
    use softphone::sip::subscription::server::{Authorization, ServerSubscription};
    use std::time::{Duration, Instant};

    fn subscribe(expires: &str, cseq: u32, to_tag: &str) -> SipMessage {
        let text = format!(
            "SUBSCRIBE sip:1001@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK{cseq}\r\n\
             From: <sip:1002@10.0.0.2>;tag=w1\r\nTo: <sip:1001@10.0.0.1>{to_tag}\r\nCall-ID: s1\r\n\
             CSeq: {cseq} SUBSCRIBE\r\nContact: <sip:1002@10.0.0.2:5062>\r\nEvent: presence\r\n\
             {expires}Content-Length: 0\r\n\r\n"
        );
        parse_message(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn accepts_notifies_refreshes_and_ends() {
        let t0 = Instant::now();
        let req = subscribe("Expires: 600\r\n", 1, "");
        let (mut s, granted) = ServerSubscription::accept(
            t0,
            &req,
            "presence",
            ("me1", "sip:1001@10.0.0.1:5060"),
            3600,
            Authorization::Active,
        )
        .expect("accepted");
        assert_eq!(granted, 600);
        assert_eq!(s.watcher(), "sip:1002@10.0.0.2");
        let n = s.notify(
            t0 + Duration::from_secs(100),
            None,
            ("application/pidf+xml", "<x/>"),
        );
        assert_eq!(n.request_uri(), Some("sip:1002@10.0.0.2:5062"));
        assert_eq!(
            n.headers.get("Subscription-State"),
            Some("active;expires=500")
        );
        assert!(n.headers.get("To").is_some_and(|t| t.ends_with("tag=w1")));
        assert!(
            n.headers
                .get("From")
                .is_some_and(|t| t.ends_with("tag=me1"))
        );
        assert_eq!(n.body, b"<x/>");
        assert_eq!(n.headers.get_all("Max-Forwards").count(), 1);
        // The refresh in the dialog, then the watcher leaves.
        let refresh = subscribe("Expires: 7200\r\n", 2, ";tag=me1");
        assert!(s.matches(&refresh));
        assert_eq!(s.refresh(t0, &refresh, 3600), Ok(3600));
        assert_eq!(
            s.refresh(t0, &refresh, 3600),
            Err((500, "Server Internal Error (out of order)"))
        );
        let leave = subscribe("Expires: 0\r\n", 3, ";tag=me1");
        assert_eq!(s.refresh(t0, &leave, 3600), Ok(0));
        assert!(s.expired(t0));
        let last = s.notify(t0, Some("timeout"), ("application/pidf+xml", "<x/>"));
        assert_eq!(
            last.headers.get("Subscription-State"),
            Some("terminated;reason=timeout")
        );
    }

    #[test]
    fn pending_says_nothing_and_bad_requests_are_refused() {
        let t0 = Instant::now();
        let (mut s, _) = ServerSubscription::accept(
            t0,
            &subscribe("", 1, ""),
            "presence",
            ("me1", "sip:1001@10.0.0.1"),
            3600,
            Authorization::Pending,
        )
        .expect("accepted");
        let n = s.notify(t0, None, ("application/pidf+xml", "<x/>"));
        assert_eq!(
            n.headers.get("Subscription-State"),
            Some("pending;expires=3600")
        );
        assert!(n.body.is_empty(), "a pending watcher learns nothing");
        let short = ServerSubscription::accept(
            t0,
            &subscribe("Expires: 10\r\n", 1, ""),
            "presence",
            ("me1", "sip:1001@10.0.0.1"),
            3600,
            Authorization::Active,
        );
        assert_eq!(short.err(), Some((423, "Interval Too Brief")));
        let mut no_contact = subscribe("", 1, "");
        no_contact.headers.remove("Contact");
        let r = ServerSubscription::accept(
            t0,
            &no_contact,
            "presence",
            ("me1", "sip:1001@10.0.0.1"),
            3600,
            Authorization::Active,
        );
        assert_eq!(r.err(), Some((400, "Bad Request (no Contact)")));
    }
}

mod publication {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use softphone::model::Secret;
    use softphone::sip::digest::Credentials;
    use softphone::sip::message::SipMessage;
    use softphone::sip::parse::parse_message;
    use softphone::sip::publication::{PubOutput, Publication, PublicationConfig};
    use std::time::{Duration, Instant};

    fn publication() -> Publication {
        Publication::new(
            PublicationConfig {
                event: "presence",
                content_type: "application/pidf+xml",
                aor: "sip:1001@pbx".into(),
                expires: 600,
                credentials: Credentials {
                    username: "1001".into(),
                    password: Some(Secret::new("pw")),
                    ha1_md5: None,
                    realm: None,
                },
                extra_headers: vec![],
                retry_base: Duration::from_secs(5),
                retry_max: Duration::from_secs(60),
            },
            StdRng::seed_from_u64(3),
        )
    }

    fn sent(p: &mut Publication) -> SipMessage {
        loop {
            match p.poll_output() {
                Some(PubOutput::Send(m)) => return m,
                Some(_) => {}
                None => panic!("nothing sent"),
            }
        }
    }

    fn answer(req: &SipMessage, code: u16, extra: &str) -> SipMessage {
        let h = |n: &str| req.headers.get(n).unwrap_or_default().to_string();
        let text = format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: {}\r\nTo: {};tag=s\r\n\
             Call-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
            h("From"),
            h("To"),
            h("Call-ID"),
            h("CSeq")
        );
        parse_message(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn publishes_refreshes_by_tag_modifies_and_removes() {
        let t0 = Instant::now();
        let mut p = publication();
        p.publish("<doc1/>".into());
        let first = sent(&mut p);
        assert_eq!(first.body, b"<doc1/>");
        assert!(first.headers.get("SIP-If-Match").is_none());
        let challenge = answer(
            &first,
            407,
            "Proxy-Authenticate: Digest realm=\"pbx\", nonce=\"n\", qop=\"auth\"\r\n",
        );
        p.on_response(t0, &challenge);
        let authed = sent(&mut p);
        assert!(authed.headers.get("Proxy-Authorization").is_some());
        p.on_response(
            t0,
            &answer(&authed, 200, "SIP-ETag: e1\r\nExpires: 600\r\n"),
        );
        assert_eq!(p.poll_output(), Some(PubOutput::Published { expires: 600 }));
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(568)));
        p.on_timeout(t0 + Duration::from_secs(568));
        let refresh = sent(&mut p);
        assert_eq!(refresh.headers.get("SIP-If-Match"), Some("e1"));
        assert!(refresh.body.is_empty(), "a refresh carries no document");
        // A change while the refresh is out waits for its answer, then goes under the tag.
        p.publish("<doc2/>".into());
        p.on_response(t0, &answer(&refresh, 200, "SIP-ETag: e2\r\n"));
        let modify = sent(&mut p);
        assert_eq!(modify.headers.get("SIP-If-Match"), Some("e2"));
        assert_eq!(modify.body, b"<doc2/>");
        p.on_response(t0, &answer(&modify, 200, "SIP-ETag: e3\r\n"));
        let _ = p.poll_output();
        assert!(p.remove());
        let remove = sent(&mut p);
        assert_eq!(remove.headers.get("Expires"), Some("0"));
        assert_eq!(remove.headers.get("SIP-If-Match"), Some("e3"));
        p.on_response(t0, &answer(&remove, 200, ""));
        assert_eq!(p.poll_output(), Some(PubOutput::Removed));
    }

    #[test]
    fn a_forgotten_tag_publishes_afresh_and_failures_back_off() {
        let t0 = Instant::now();
        let mut p = publication();
        p.publish("<doc/>".into());
        let first = sent(&mut p);
        p.on_response(t0, &answer(&first, 200, "SIP-ETag: e1\r\n"));
        p.on_timeout(t0 + Duration::from_secs(600));
        let refresh = sent(&mut p);
        p.on_response(t0, &answer(&refresh, 412, ""));
        let fresh = sent(&mut p);
        assert!(fresh.headers.get("SIP-If-Match").is_none());
        assert_eq!(fresh.body, b"<doc/>");
        p.on_response(t0, &answer(&fresh, 503, ""));
        assert!(matches!(
            p.poll_output(),
            Some(PubOutput::Failed { code: 503, .. })
        ));
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        // Negative control: nothing goes before the back-off.
        p.on_timeout(t0 + Duration::from_secs(4));
        assert_eq!(p.poll_output(), None);
        p.on_timeout(t0 + Duration::from_secs(5));
        assert_eq!(sent(&mut p).body, b"<doc/>");
    }
}

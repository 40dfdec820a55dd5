//! `checktarget`: how strictly what the user (or a transferring far end) asks us to call is
//! checked before a call is placed. A call-centre PBX may want agents to reach only numbers
//! through it: level 3 keeps calls on our own server, level 4 lets only phone numbers through.
//! Every refusal says why, in words the agent can act on.

/// The levels of `checktarget`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum TargetCheck {
    /// 0: anything that parses as a target is called.
    #[default]
    Off,
    /// 1: no control characters, quotes or angle brackets, at most 128 characters.
    Sane,
    /// 2: as 1, and what looks like a phone number (starts with a digit or `+`) holds only
    /// digits and `+ * #` once spaces, dashes, dots and parentheses are taken out.
    Numbers,
    /// 3: as 2, and a SIP address must be on our own server's domain.
    OwnDomain,
    /// 4: phone numbers only: no user names, no SIP addresses.
    NumbersOnly,
}

impl TargetCheck {
    /// From the parameter (0..4; anything above is the strictest).
    pub fn from_param(v: i64) -> TargetCheck {
        match v {
            i64::MIN..=0 => TargetCheck::Off,
            1 => TargetCheck::Sane,
            2 => TargetCheck::Numbers,
            3 => TargetCheck::OwnDomain,
            _ => TargetCheck::NumbersOnly,
        }
    }

    /// Checks `target` as typed (before it becomes a URI); `domain` is our server's. `Err`
    /// says why it is refused.
    pub fn check(self, target: &str, domain: &str) -> Result<(), String> {
        if self == TargetCheck::Off {
            return Ok(());
        }
        let t = target.trim();
        if t.chars().count() > 128 {
            return Err("longer than 128 characters".into());
        }
        if let Some(c) = t
            .chars()
            .find(|c| c.is_control() || matches!(c, '<' | '>' | '"' | '\\'))
        {
            return Err(format!("it contains {c:?}, which no number or address has"));
        }
        if self == TargetCheck::Sane {
            return Ok(());
        }
        let bare: String = t
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let lower = t.to_ascii_lowercase();
        let is_uri = lower.starts_with("sip:") || lower.starts_with("sips:") || t.contains('@');
        let looks_numeric = bare.starts_with(|c: char| c.is_ascii_digit() || c == '+');
        let is_number = !bare.is_empty()
            && bare
                .char_indices()
                .all(|(i, c)| c.is_ascii_digit() || matches!(c, '*' | '#') || (c == '+' && i == 0));
        if looks_numeric && !is_uri && !is_number {
            return Err("a phone number may hold only digits, a leading + and * #".into());
        }
        match self {
            TargetCheck::OwnDomain if is_uri => {
                let host = t
                    .rsplit('@')
                    .next()
                    .unwrap_or("")
                    .split([';', '>', '?'])
                    .next()
                    .unwrap_or("");
                let ours = domain.split(':').next().unwrap_or(domain);
                let theirs = host.split(':').next().unwrap_or(host);
                if t.contains('@') && theirs.eq_ignore_ascii_case(ours) {
                    Ok(())
                } else {
                    Err(format!(
                        "only numbers and users on {ours} may be called here (checktarget=3)"
                    ))
                }
            }
            TargetCheck::NumbersOnly if !is_number || is_uri => {
                Err("only phone numbers may be called here (checktarget=4)".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TargetCheck as C;

    #[test]
    fn each_level_refuses_what_it_says() {
        let d = "pbx.example.com:5060";
        for t in ["1002", "sip:x@elsewhere.org", "alice", "+36 (1) 234-5678"] {
            assert_eq!(C::Off.check(t, d), Ok(()), "{t}");
            assert_eq!(C::Sane.check(t, d), Ok(()), "{t}");
        }
        assert!(C::Sane.check("10\u{7}02", d).is_err());
        assert!(C::Sane.check("<sip:a@b>", d).is_err());
        assert!(C::Sane.check(&"1".repeat(129), d).is_err());
        assert!(C::Numbers.check("06-30-12x", d).is_err());
        assert!(C::Numbers.check("+1 555 0100", d).is_ok());
        assert!(C::Numbers.check("*8", d).is_ok());
        assert!(C::Numbers.check("alice", d).is_ok());
        assert!(C::OwnDomain.check("sip:1002@PBX.example.com", d).is_ok());
        assert!(C::OwnDomain.check("1002@pbx.example.com:5060", d).is_ok());
        let e = C::OwnDomain.check("sip:x@elsewhere.org", d).unwrap_err();
        assert!(e.contains("pbx.example.com"), "{e}");
        assert!(C::OwnDomain.check("sip:10.0.0.9", d).is_err());
        assert!(C::NumbersOnly.check("0612345", d).is_ok());
        assert!(C::NumbersOnly.check("alice", d).is_err());
        assert!(C::NumbersOnly.check("sip:1002@pbx.example.com", d).is_err());
        assert_eq!(C::from_param(9), C::NumbersOnly);
        assert_eq!(C::from_param(-1), C::Off);
    }
}

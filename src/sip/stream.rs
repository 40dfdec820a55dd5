//! Framing SIP over a byte stream (TCP): messages are delimited by Content-Length (RFC 3261
//! §18.3); CRLF keep-alives of RFC 5626 §3.5.1 are recognised between messages.

use super::parse::{MAX_MESSAGE_SIZE, canonical_name, header_end};
use thiserror::Error;

/// What the stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One whole message, to be given to [`super::parse::parse_message`].
    Message(Vec<u8>),
    /// A CRLFCRLF keep-alive ping: answer it with a single CRLF.
    Ping,
    /// A single CRLF: the pong answering our ping.
    Pong,
}

/// A stream that cannot be framed any further; the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FramingError {
    #[error("message larger than {MAX_MESSAGE_SIZE} bytes")]
    TooLarge,
    #[error("missing or bad Content-Length on a stream transport")]
    BadContentLength,
}

/// Accumulates bytes read from one connection and cuts them into frames.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

impl StreamFramer {
    /// Appends bytes read from the socket.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Takes the next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.buf.starts_with(b"\r\n\r\n") {
            self.buf.drain(..4);
            return Ok(Some(Frame::Ping));
        }
        if self.buf.starts_with(b"\r\n") {
            // "\r\n\r" may still become a ping; anything else after CRLF makes it a pong.
            if self.buf.len() == 3 && self.buf[2] == b'\r' {
                return Ok(None);
            }
            self.buf.drain(..2);
            return Ok(Some(Frame::Pong));
        }
        let Some(end) = header_end(&self.buf) else {
            if self.buf.len() > MAX_MESSAGE_SIZE {
                return Err(FramingError::TooLarge);
            }
            return Ok(None);
        };
        let len = content_length(&self.buf[..end]).ok_or(FramingError::BadContentLength)?;
        let total = end.checked_add(len).ok_or(FramingError::TooLarge)?;
        if total > MAX_MESSAGE_SIZE {
            return Err(FramingError::TooLarge);
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let msg: Vec<u8> = self.buf.drain(..total).collect();
        Ok(Some(Frame::Message(msg)))
    }

    /// Bytes waiting for the rest of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Content-Length of a header section: `Some(0)` when absent, `None` when malformed or twice.
fn content_length(head: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(head);
    let mut found: Option<usize> = None;
    for line in text.split('\n') {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if canonical_name(name.trim()).eq_ignore_ascii_case("Content-Length") {
            let v = value.trim();
            if found.is_some() || v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            found = Some(v.parse().ok()?);
        }
    }
    Some(found.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(f: &mut StreamFramer, into: &mut Vec<Frame>) {
        while let Some(fr) = f.next_frame().unwrap() {
            into.push(fr);
        }
    }

    #[test]
    fn frames_split_and_joined_messages() {
        let m1 = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
        let m2 = b"BYE sip:a@b SIP/2.0\r\nl: 0\r\n\r\n";
        let all = [&m1[..], &m2[..]].concat();
        // One byte at a time gives the same frames as everything at once.
        let mut f = StreamFramer::default();
        let mut frames = Vec::new();
        for b in &all {
            f.push(std::slice::from_ref(b));
            drain(&mut f, &mut frames);
        }
        let expected = vec![Frame::Message(m1.to_vec()), Frame::Message(m2.to_vec())];
        assert_eq!(frames, expected);
        let mut g = StreamFramer::default();
        g.push(&all);
        let mut frames2 = Vec::new();
        drain(&mut g, &mut frames2);
        assert_eq!(frames2, expected);
        assert_eq!(g.buffered(), 0);
    }

    #[test]
    fn keepalives_between_messages() {
        let m = b"BYE sip:a@b SIP/2.0\r\nl: 0\r\n\r\n";
        let mut f = StreamFramer::default();
        f.push(b"\r\n\r\n");
        f.push(m);
        f.push(b"\r\n");
        let mut frames = Vec::new();
        drain(&mut f, &mut frames);
        assert_eq!(
            frames,
            vec![Frame::Ping, Frame::Message(m.to_vec()), Frame::Pong]
        );
        // Half a ping waits for the rest.
        let mut g = StreamFramer::default();
        g.push(b"\r\n\r");
        assert_eq!(g.next_frame(), Ok(None));
        g.push(b"\n");
        assert_eq!(g.next_frame(), Ok(Some(Frame::Ping)));
    }

    #[test]
    fn bad_length_and_oversize_are_errors() {
        let mut f = StreamFramer::default();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::BadContentLength));
        let mut g = StreamFramer::default();
        g.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n");
        assert_eq!(g.next_frame(), Err(FramingError::TooLarge));
        let mut h = StreamFramer::default();
        h.push(&vec![b'a'; MAX_MESSAGE_SIZE + 1]);
        assert_eq!(h.next_frame(), Err(FramingError::TooLarge));
    }
}

//! The JSON wire format at the edge: one event per line out, one command per line in
//! (`{"id":1,"type":"call","number":"1002"}`; the id may be left out and is then given). The
//! format is serde's rendering of the model (README "JSON format").

use crate::model::{Event, Request, RequestId};

/// One event as a line of JSON.
pub fn event_line(ev: &Event) -> String {
    // Serializing the model's own types cannot fail (no maps with non-string keys, no
    // non-finite numbers reach it); should it ever, the line still says so as JSON.
    serde_json::to_string(ev).unwrap_or_else(|e| {
        serde_json::json!({ "type": "notice", "severity": "error", "kind": "engine",
                            "text": format!("an event could not be written as JSON: {e}") })
        .to_string()
    })
}

/// Reads one JSON command line; a missing `id` is taken from `next_id`.
pub fn parse_request(line: &str, next_id: impl FnOnce() -> RequestId) -> Result<Request, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(line.trim()).map_err(|e| format!("JSON command: {e}"))?;
    let Some(object) = value.as_object_mut() else {
        return Err("JSON command: an object is needed".into());
    };
    if !object.contains_key("id") {
        object.insert("id".into(), serde_json::Value::from(next_id().0));
    }
    serde_json::from_value(value).map_err(|e| format!("JSON command: {e}"))
}

/// The README's JSON examples: one of every command, then one of every event, a line each.
pub fn json_examples() -> String {
    let mut out = String::from("Commands (standard input):\n\n```json\n");
    for r in crate::model::command_examples() {
        out.push_str(&serde_json::to_string(&r).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("```\n\nEvents (standard output):\n\n```json\n");
    for e in crate::model::event_examples() {
        out.push_str(&event_line(&e));
        out.push('\n');
    }
    out.push_str("```\n");
    out
}

/// Whether a command line is JSON (it opens an object) rather than a text command.
pub fn is_json(line: &str) -> bool {
    line.trim_start().starts_with('{')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Command;

    #[test]
    fn commands_with_and_without_an_id() {
        let r = parse_request(r#"{"type":"hangup","line":2}"#, || RequestId(9)).unwrap();
        assert_eq!(r.id, RequestId(9));
        assert_eq!(r.command, Command::Hangup { line: 2 });
        let r = parse_request(r#" {"id":4,"type":"exit"} "#, || RequestId(9)).unwrap();
        assert_eq!(r.id, RequestId(4));
        assert!(parse_request("[1]", || RequestId(1)).is_err());
        assert!(parse_request(r#"{"type":"fly"}"#, || RequestId(1)).is_err());
        assert!(parse_request(r#"{"type":"hangup","line":-1}"#, || RequestId(1)).is_err());
        assert!(parse_request("{", || RequestId(1)).is_err());
        assert!(is_json(" {\"type\":\"exit\"}") && !is_json("Exit"));
    }

    #[test]
    fn the_readme_shows_every_example() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&json_examples()),
            "README.md's JSON examples are stale; paste the output of \
             `softphone --json-examples`:\n{}",
            json_examples()
        );
    }
}

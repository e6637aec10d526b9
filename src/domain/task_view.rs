//! A task borrowed from a database row, for writing a long list straight
//! into the response: no `Task` (and no `String`) per row, and SQLite's
//! stored timestamp text goes out as it is instead of being parsed and
//! formatted again. It writes exactly the JSON `Task` serializes to.

use super::Timestamp;

/// A timestamp as the row holds it.
#[derive(Debug, Clone, Copy)]
pub enum Stamp<'a> {
    /// Text already in the wire layout (checked by `Timestamp::is_text`).
    Text(&'a str),
    At(Timestamp),
}

/// `Task`'s fields, borrowed, in `Task`'s order.
#[derive(Debug, Clone, Copy)]
pub struct TaskView<'a> {
    pub id: i64,
    pub user_id: &'a str,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub completed: bool,
    pub created_at: Stamp<'a>,
    pub updated_at: Stamp<'a>,
    /// Not in the body (as on `Task`): for the list's entity tag.
    pub revision: i64,
}

impl TaskView<'_> {
    /// Appends the task's JSON to `out`, byte for byte what serde writes for
    /// `Task` (the test below holds the two together). Written by hand, not
    /// derived, because a long list is mostly this loop: serde's escaper
    /// scans every byte of every string, and here only the user's own text
    /// (id, title, description) can hold anything to escape; the numbers,
    /// the flag and the ASCII timestamps go in as they are.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.id).as_bytes());
        out.extend_from_slice(b",\"user_id\":");
        escaped(out, self.user_id);
        out.extend_from_slice(b",\"title\":");
        escaped(out, self.title);
        out.extend_from_slice(b",\"description\":");
        match self.description {
            Some(text) => escaped(out, text),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(if self.completed { b",\"completed\":true" } else { b",\"completed\":false" });
        out.extend_from_slice(b",\"created_at\":");
        self.created_at.write_json(out);
        out.extend_from_slice(b",\"updated_at\":");
        self.updated_at.write_json(out);
        out.push(b'}');
    }
}

impl Stamp<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        match self {
            Self::Text(text) => out.extend_from_slice(text.as_bytes()),
            Self::At(at) => out.extend_from_slice(&at.text_bytes()),
        }
        out.push(b'"');
    }
}

/// A JSON string, escaped as serde_json escapes it.
fn escaped(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("a string serializes into memory");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Task;

    #[test]
    fn writes_what_a_task_serializes_to() {
        let created = Timestamp::parse_text("2026-01-05T10:00:00.123456Z").unwrap();
        let task = Task {
            id: 7,
            user_id: "al\"ice".into(),
            title: "Buy \u{e9} milk\n".into(),
            description: None,
            completed: true,
            created_at: created,
            updated_at: created,
            revision: 3,
        };
        let view = TaskView {
            id: 7,
            user_id: "al\"ice",
            title: "Buy \u{e9} milk\n",
            description: None,
            completed: true,
            created_at: Stamp::Text("2026-01-05T10:00:00.123456Z"),
            updated_at: Stamp::At(created),
            revision: 3,
        };
        assert_eq!(json(&view), serde_json::to_string(&task).unwrap());
        let described = TaskView { description: Some("tab\there \u{1}"), completed: false, id: -12, ..view };
        let task = Task { description: Some("tab\there \u{1}".into()), completed: false, id: -12, ..task };
        assert_eq!(json(&described), serde_json::to_string(&task).unwrap());
    }

    fn json(view: &TaskView<'_>) -> String {
        let mut out = Vec::new();
        view.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }
}

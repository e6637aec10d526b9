//! A task borrowed from a database row, for writing a long list straight
//! into the response: no `Task` (and no `String`) per row, and SQLite's
//! stored timestamp text goes out as it is instead of being parsed and
//! formatted again. It serializes exactly as `Task` does.

use serde::{Serialize, Serializer};

use super::Timestamp;

/// A timestamp as the row holds it.
#[derive(Debug, Clone, Copy)]
pub enum Stamp<'a> {
    /// Text already in the wire layout (checked by `Timestamp::is_text`).
    Text(&'a str),
    At(Timestamp),
}

impl Serialize for Stamp<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::At(at) => at.serialize(serializer),
        }
    }
}

/// `Task`'s fields, borrowed, in `Task`'s order (so the JSON is the same).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TaskView<'a> {
    pub id: i64,
    pub user_id: &'a str,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub completed: bool,
    pub created_at: Stamp<'a>,
    pub updated_at: Stamp<'a>,
    /// Not in the body (as on `Task`): for the list's entity tag.
    #[serde(skip)]
    pub revision: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Task;

    #[test]
    fn serializes_exactly_as_a_task() {
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
        assert_eq!(serde_json::to_string(&view).unwrap(), serde_json::to_string(&task).unwrap());
        let described = TaskView { description: Some("2 l"), ..view };
        let task = Task { description: Some("2 l".into()), ..task };
        assert_eq!(serde_json::to_string(&described).unwrap(), serde_json::to_string(&task).unwrap());
    }
}

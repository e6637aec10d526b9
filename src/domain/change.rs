//! The change log as clients see it: each create, update, toggle and delete of
//! a user's task, numbered in that user's own sequence (`seq`), in the order
//! the writes committed.

use serde::Serialize;
use serde::ser::SerializeStruct;

use super::Task;

/// What happened to the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

impl ChangeKind {
    /// The log's `kind` column, which is also the SSE `event` name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(Self::Created),
            "updated" => Some(Self::Updated),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }
}

/// One change. `task` is the task as the change left it; a deletion is sent
/// as its `id` alone (the task no longer exists to be shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub task: Task,
}

impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Change", 3)?;
        out.serialize_field("seq", &self.seq)?;
        out.serialize_field("type", &self.kind)?;
        match self.kind {
            ChangeKind::Deleted => out.serialize_field("id", &self.task.id)?,
            ChangeKind::Created | ChangeKind::Updated => out.serialize_field("task", &self.task)?,
        }
        out.end()
    }
}

/// A page of a user's log after some `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangesSince {
    /// `changes` in order, all after `since`; `head` is the user's latest number.
    Found { changes: Vec<Change>, head: i64 },
    /// `since` is no position in this log: older than what retention kept,
    /// or ahead of its head (a log the client never read from).
    Gone { head: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    fn change(kind: ChangeKind) -> Change {
        let at = Timestamp::parse_text("2026-01-05T10:00:00.123456Z").unwrap();
        let task = Task {
            id: 7,
            user_id: "u".into(),
            title: "t".into(),
            description: None,
            completed: false,
            created_at: at,
            updated_at: at,
            revision: 2,
        };
        Change { seq: 12, kind, task }
    }

    #[test]
    fn a_deletion_carries_the_id_instead_of_the_task() {
        let deleted = serde_json::to_value(change(ChangeKind::Deleted)).unwrap();
        assert_eq!(deleted, serde_json::json!({"seq": 12, "type": "deleted", "id": 7}));
        let updated = serde_json::to_value(change(ChangeKind::Updated)).unwrap();
        assert_eq!(updated["type"], "updated");
        assert_eq!(updated["task"]["id"], 7);
        assert_eq!(updated["task"]["created_at"], "2026-01-05T10:00:00.123456Z");
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [ChangeKind::Created, ChangeKind::Updated, ChangeKind::Deleted] {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ChangeKind::parse("other"), None);
    }
}

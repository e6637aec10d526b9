//! Tasks and the input that creates or changes them, parsed once into types
//! that cannot hold an invalid value.

use serde::Serialize;
use serde_json::Value;

use super::Timestamp;
use super::validation::{FieldError, Location};

/// How long a title and a description may be, in characters (Unicode scalar
/// values, not bytes): `MAX_TITLE_CHARS` and `MAX_DESCRIPTION_CHARS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLimits {
    pub title_chars: usize,
    pub description_chars: usize,
}

impl FieldLimits {
    /// The most either setting may be (the database's own check, migration 6).
    pub const CEILING: usize = 10_000;
}

impl Default for FieldLimits {
    /// The original backends' limits.
    fn default() -> Self {
        Self { title_chars: 200, description_chars: 1000 }
    }
}

/// A task as stored and as sent to clients (field names are the wire contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Task {
    #[schema(minimum = 1, example = 1)]
    pub id: i64,
    /// The owner: the `sub` of the token that created it.
    #[schema(example = "alice")]
    pub user_id: String,
    #[schema(example = "Buy milk")]
    pub title: String,
    #[schema(example = "2 litres")]
    pub description: Option<String>,
    pub completed: bool,
    /// RFC 3339, UTC, microseconds.
    #[schema(value_type = String, format = DateTime, example = "2026-01-05T10:00:00.123456Z")]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime, example = "2026-01-05T10:00:00.123456Z")]
    pub updated_at: Timestamp,
    /// Advanced by every write; sent as the `ETag`, not in the body.
    #[serde(skip)]
    pub revision: i64,
}

/// A task id from a URL: a positive 64-bit integer. Anything else names no task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskId(i64);

impl TaskId {
    /// `None` for text that is not a positive 64-bit integer in plain decimal.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<i64>().ok().filter(|id| *id > 0).map(Self)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A title: trimmed, 1 to `MAX_TITLE_CHARS` characters, no NUL (PostgreSQL text cannot hold one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(value: &Value, max_chars: usize) -> Result<Self, FieldError> {
        let loc = Location::Body("title");
        let text = value.as_str().ok_or_else(|| FieldError::string_type(loc))?.trim();
        check_text(text, 1, max_chars, loc)?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description: at most `MAX_DESCRIPTION_CHARS` characters, no NUL; kept exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDescription(String);

impl TaskDescription {
    /// JSON `null` means "no description".
    pub fn parse_nullable(value: &Value, max_chars: usize) -> Result<Option<Self>, FieldError> {
        let loc = Location::Body("description");
        match value {
            Value::Null => Ok(None),
            Value::String(text) => {
                check_text(text, 0, max_chars, loc)?;
                Ok(Some(Self(text.clone())))
            }
            _ => Err(FieldError::string_type(loc)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_text(text: &str, min: usize, max: usize, loc: Location) -> Result<(), FieldError> {
    let chars = text.chars().count();
    if chars < min {
        return Err(FieldError::too_short(loc, min));
    }
    if chars > max {
        return Err(FieldError::too_long(loc, max));
    }
    if text.contains('\0') {
        return Err(FieldError::contains_nul(loc));
    }
    Ok(())
}

pub(super) fn parse_completed(value: &Value) -> Result<bool, FieldError> {
    value.as_bool().ok_or(FieldError::bool_type(Location::Body("completed")))
}

/// The body of `POST /api/{user_id}/tasks`. Fields the server owns (`id`,
/// `user_id`, timestamps) and unknown fields are ignored, never bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub completed: bool,
}

/// The body of `PUT`/`PATCH /api/{user_id}/tasks/{id}`: only present fields change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<TaskTitle>,
    /// `Some(None)` clears the description; `None` leaves it alone.
    pub description: Option<Option<TaskDescription>>,
    pub completed: Option<bool>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none() && self.completed.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn task_ids_are_positive_plain_decimal_i64() {
        assert_eq!(TaskId::parse("1").map(TaskId::get), Some(1));
        assert_eq!(TaskId::parse("9223372036854775807").map(TaskId::get), Some(i64::MAX));
        for bad in ["", "0", "-1", "+1", " 1", "1.0", "1e3", "9223372036854775808", "abc"] {
            assert_eq!(TaskId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn title_is_trimmed_and_bounded_in_characters() {
        let parse = |value: Value| TaskTitle::parse(&value, 200);
        assert_eq!(parse(json!("  hi \n")).unwrap().as_str(), "hi");
        assert!(parse(json!("é".repeat(200))).is_ok());
        assert_eq!(parse(json!("é".repeat(201))).unwrap_err().kind, "string_too_long");
        assert_eq!(parse(json!("   ")).unwrap_err().kind, "string_too_short");
        assert_eq!(parse(json!(5)).unwrap_err().kind, "string_type");
        assert_eq!(parse(json!("a\u{0}b")).unwrap_err().kind, "string_pattern_mismatch");
        assert!(TaskTitle::parse(&json!("é".repeat(5000)), 5000).is_ok());
        let long = TaskTitle::parse(&json!("é".repeat(5001)), 5000).unwrap_err();
        assert!(long.msg.contains("5000"), "{}", long.msg);
    }

    #[test]
    fn new_task_reports_every_bad_field_and_ignores_server_fields() {
        let errors = NewTask::from_json(
            &object(json!({"description": 1, "completed": "yes"})),
            FieldLimits::default(),
        )
        .unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["missing", "string_type", "bool_type"]);

        let task = NewTask::from_json(
            &object(json!({"title": "t", "id": 7, "user_id": "x", "created_at": "y", "extra": true})),
            FieldLimits::default(),
        )
        .unwrap();
        assert_eq!(task.title.as_str(), "t");
        assert_eq!((task.description, task.completed), (None, false));
    }

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let patch = |value: Value| TaskPatch::from_json(&object(value), FieldLimits::default());
        assert_eq!(patch(json!({"description": null})).unwrap().description, Some(None));
        assert!(patch(json!({})).unwrap().is_empty());
        assert!(patch(json!({"title": null})).is_err());
        assert!(patch(json!({"completed": null})).is_err());
        let long = json!({"description": "d".repeat(1001)});
        assert!(patch(long.clone()).is_err());
        let raised = FieldLimits { description_chars: 5000, ..FieldLimits::default() };
        assert!(TaskPatch::from_json(&object(long), raised).is_ok());
    }
}

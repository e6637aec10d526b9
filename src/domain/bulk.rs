//! Bulk actions on a user's whole list: mark every (matching) task complete
//! or not, and delete every completed (or pending) task. Their input is
//! stricter than the list's: an unknown filter or body field is an error, not
//! ignored, since a typo here would change or delete more than was meant.

use super::validation::{FieldError, Location};

/// Which of the owner's tasks a bulk action touches: those whose `completed`
/// is this value, or every task (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkFilter {
    pub completed: Option<bool>,
}

impl BulkFilter {
    /// From the query string's pairs, as sent: `completed=true|false`, or the
    /// list's own `status=all|pending|completed`; anything else is refused.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let (mut completed, mut status) = (None, None);
        for (name, value) in pairs {
            let (slot, parsed) = match name.as_str() {
                "completed" => (&mut completed, parse_bool(value).map(Some)),
                "status" => (&mut status, parse_status(value)),
                other => {
                    errors.push(unknown_parameter(other));
                    continue;
                }
            };
            match (slot.is_some(), parsed) {
                (true, _) => errors.push(repeated_parameter(name)),
                (false, Ok(value)) => *slot = Some(value),
                (false, Err(error)) => errors.push(error),
            }
        }
        if let (Some(Some(completed)), Some(Some(status))) = (completed, status)
            && status != completed
        {
            errors.push(FieldError::new(
                "value_error",
                Location::Query("status"),
                "status and completed ask for different tasks; give one of them",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self { completed: completed.flatten().or(status.flatten()) })
    }

    /// Whether the query named a filter at all (`status=all` names one: every task).
    pub fn named(pairs: &[(String, String)]) -> bool {
        pairs.iter().any(|(name, _)| name == "completed" || name == "status")
    }
}

/// Query booleans as FastAPI reads them.
fn parse_bool(value: &str) -> Result<bool, FieldError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(FieldError::new(
            "bool_parsing",
            Location::Query("completed"),
            "Input should be a valid boolean, unable to interpret input",
        )),
    }
}

fn parse_status(value: &str) -> Result<Option<bool>, FieldError> {
    match value {
        "all" => Ok(None),
        "pending" => Ok(Some(false)),
        "completed" => Ok(Some(true)),
        _ => Err(FieldError::new(
            "literal_error",
            Location::Query("status"),
            "Input should be 'all', 'pending' or 'completed'",
        )),
    }
}

fn unknown_parameter(name: &str) -> FieldError {
    let shown: String = name.chars().take(64).collect();
    FieldError::new(
        "extra_forbidden",
        Location::Query("query"),
        format!("Unknown query parameter {shown:?}: a bulk action takes only completed (or status)"),
    )
}

fn repeated_parameter(name: &str) -> FieldError {
    let field = if name == "status" { "status" } else { "completed" };
    FieldError::new("query_invalid", Location::Query(field), "Give this parameter at most once")
}

/// What a bulk action did, as its answer's one field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// Set `completed` on every matching task whose value differs.
    Complete(bool),
    /// Delete every matching task.
    Delete,
}

impl BulkAction {
    /// The answer's field: `{"updated": N}` or `{"deleted": N}`.
    pub fn counted_as(self) -> &'static str {
        match self {
            Self::Complete(_) => "updated",
            Self::Delete => "deleted",
        }
    }

    /// The answer's body for `count` tasks.
    pub fn answer(self, count: i64) -> String {
        format!("{{\"{}\":{count}}}", self.counted_as())
    }
}

/// The list's version as an entity tag: the owner's change number, weak
/// (it names the state of the whole list, not a representation of it).
pub fn change_seq_etag(seq: i64) -> String {
    format!("W/\"{seq}\"")
}

/// The change number in a tag made by `change_seq_etag` (or its strong form).
pub fn change_seq_of(tag: &str) -> Option<i64> {
    let opaque = tag.strip_prefix("W/").unwrap_or(tag);
    opaque.strip_prefix('"')?.strip_suffix('"')?.parse().ok().filter(|seq: &i64| *seq >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn filters() {
        let parsed = |list: &[(&str, &str)]| BulkFilter::parse(&pairs(list)).map(|f| f.completed);
        assert_eq!(parsed(&[]), Ok(None));
        assert_eq!(parsed(&[("completed", "true")]), Ok(Some(true)));
        assert_eq!(parsed(&[("completed", "False")]), Ok(Some(false)));
        assert_eq!(parsed(&[("status", "pending")]), Ok(Some(false)));
        assert_eq!(parsed(&[("status", "all")]), Ok(None));
        assert_eq!(parsed(&[("status", "completed"), ("completed", "true")]), Ok(Some(true)));
        assert!(parsed(&[("status", "completed"), ("completed", "false")]).is_err());
        assert!(parsed(&[("completed", "maybe")]).is_err());
        assert!(parsed(&[("completed", "true"), ("completed", "true")]).is_err());
        let errors = parsed(&[("done", "1"), ("completed", "x")]).unwrap_err();
        assert_eq!(errors.len(), 2, "every problem at once");
        assert!(BulkFilter::named(&pairs(&[("status", "all")])));
        assert!(!BulkFilter::named(&pairs(&[("limit", "3")])));
    }

    #[test]
    fn answers_and_tags() {
        assert_eq!(BulkAction::Complete(true).answer(3), r#"{"updated":3}"#);
        assert_eq!(BulkAction::Delete.answer(0), r#"{"deleted":0}"#);
        assert_eq!(change_seq_etag(12), "W/\"12\"");
        assert_eq!(change_seq_of("W/\"12\""), Some(12));
        assert_eq!(change_seq_of("\"12\""), Some(12));
        assert_eq!(change_seq_of("\"-1\""), None);
        assert_eq!(change_seq_of("\"l12\""), None);
    }
}

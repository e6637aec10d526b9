//! The JSON bodies of task writes as serde types that also describe
//! themselves in the OpenAPI document: one declaration for what is parsed
//! and what is documented. Every field is taken as sent (absent, `null` or
//! any value) and then checked on its own, so a 422 lists every bad field
//! at once, as FastAPI's does; a typed serde field would stop at the first.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::task::{FieldLimits, NewTask, TaskDescription, TaskPatch, TaskTitle, parse_completed};
use super::validation::{FieldError, Location, keep};

/// A field as sent: `None` when absent, else its value (`null` included).
type Sent = Option<Value>;

fn sent<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Sent, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Reads a JSON object into a body type. Cannot fail: every field takes any
/// value, unknown fields are ignored, and an object holds no key twice.
fn read<'de, T: Deserialize<'de> + Default>(body: &'de Map<String, Value>) -> T {
    use serde::de::IntoDeserializer;
    T::deserialize(body.into_deserializer()).unwrap_or_default()
}

/// Body of `POST /api/{user_id}/tasks`. `id`, `user_id`, timestamps and unknown
/// fields are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TaskCreate {
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = title_schema, required = true)]
    title: Sent,
    /// Up to `MAX_DESCRIPTION_CHARS` characters, no NUL; `null` for none.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = Option<String>, max_length = 1000, pattern = r"^[^\x00]*$", nullable, example = "2 litres")]
    description: Sent,
    /// Defaults to `false`; may not be `null`.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = bool, default = false, required = false)]
    completed: Sent,
}

impl TaskCreate {
    /// The task to create, or every field that is wrong.
    pub fn validate(self, limits: FieldLimits) -> Result<NewTask, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = match &self.title {
            Some(value) => keep(TaskTitle::parse(value, limits.title_chars), &mut errors),
            None => {
                errors.push(FieldError::missing(Location::Body("title")));
                None
            }
        };
        let description = self
            .description
            .and_then(|value| {
                keep(TaskDescription::parse_nullable(&value, limits.description_chars), &mut errors)
            })
            .flatten();
        let completed =
            self.completed.and_then(|value| keep(parse_completed(&value), &mut errors)).unwrap_or(false);
        match title {
            Some(title) if errors.is_empty() => Ok(NewTask { title, description, completed }),
            _ => Err(errors),
        }
    }
}

/// Body of `PUT`/`PATCH /api/{user_id}/tasks/{id}`: only present fields change;
/// `{}` changes nothing.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TaskUpdate {
    /// As on create; may not be `null`.
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = title_schema, required = false)]
    title: Sent,
    /// Up to `MAX_DESCRIPTION_CHARS` characters, no NUL; `null` clears the description.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = Option<String>, max_length = 1000, pattern = r"^[^\x00]*$", nullable)]
    description: Sent,
    /// May not be `null`.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = bool, required = false)]
    completed: Sent,
}

impl TaskUpdate {
    /// The patch, or every field that is wrong.
    pub fn validate(self, limits: FieldLimits) -> Result<TaskPatch, Vec<FieldError>> {
        let mut errors = Vec::new();
        let patch = TaskPatch {
            title: self.title.and_then(|v| keep(TaskTitle::parse(&v, limits.title_chars), &mut errors)),
            description: self.description.and_then(|v| {
                keep(TaskDescription::parse_nullable(&v, limits.description_chars), &mut errors)
            }),
            completed: self.completed.and_then(|v| keep(parse_completed(&v), &mut errors)),
        };
        if errors.is_empty() { Ok(patch) } else { Err(errors) }
    }
}

/// Optional body of `PATCH .../complete`: `{"completed": true|false}` sets it;
/// no body, an empty one or `{}` flips it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CompletionBody {
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = bool, required = false)]
    completed: Sent,
}

impl CompletionBody {
    /// `Some(value)` sets it; `None` flips it.
    pub fn validate(self) -> Result<Option<bool>, Vec<FieldError>> {
        self.completed.map(|value| parse_completed(&value)).transpose().map_err(|error| vec![error])
    }
}

/// Body of `PATCH /api/{user_id}/tasks`: exactly this one field.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BulkCompletionBody {
    /// What every matching task's `completed` becomes.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = bool, required = true)]
    completed: Sent,
    /// Any other field, each an error (a typo must not widen the action).
    #[serde(flatten)]
    #[schema(ignore)]
    others: Map<String, Value>,
}

impl BulkCompletionBody {
    pub fn validate(self) -> Result<bool, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = self
            .others
            .keys()
            .map(|key| {
                let shown: String = key.chars().take(64).collect();
                FieldError::new(
                    "extra_forbidden",
                    Location::BodyRoot,
                    format!("Unknown field {shown:?}: the body is {{\"completed\": true}} or {{\"completed\": false}}"),
                )
            })
            .collect();
        let completed = match self.completed {
            Some(Value::Bool(completed)) => Some(completed),
            Some(_) => {
                errors.push(FieldError::bool_type(Location::Body("completed")));
                None
            }
            None => {
                errors.push(FieldError::missing(Location::Body("completed")));
                None
            }
        };
        match completed {
            Some(completed) if errors.is_empty() => Ok(completed),
            _ => Err(errors),
        }
    }
}

/// The body of a bulk completion, as `BulkCompletionBody` reads it.
pub fn parse_bulk_completion(body: &Map<String, Value>) -> Result<bool, Vec<FieldError>> {
    read::<BulkCompletionBody>(body).validate()
}

impl NewTask {
    /// A create body, as `TaskCreate` reads it.
    pub fn from_json(body: &Map<String, Value>, limits: FieldLimits) -> Result<Self, Vec<FieldError>> {
        read::<TaskCreate>(body).validate(limits)
    }
}

impl TaskPatch {
    /// An update body, as `TaskUpdate` reads it.
    pub fn from_json(body: &Map<String, Value>, limits: FieldLimits) -> Result<Self, Vec<FieldError>> {
        read::<TaskUpdate>(body).validate(limits)
    }
}

/// The optional body of `PATCH .../complete`, as `CompletionBody` reads it.
pub fn parse_completion(body: &Map<String, Value>) -> Result<Option<bool>, Vec<FieldError>> {
    read::<CompletionBody>(body).validate()
}

/// Unicode White_Space, as `str::trim` trims it.
const SPACE: &str = r"[\t\n\x0b\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
const NOT_SPACE: &str = r"[^\x00\t\n\x0b\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// Title after trimming: 1 to `max` characters, no NUL. JSON Schema cannot say
/// "after trimming", so the pattern spells it out with the exact whitespace set
/// the server trims.
pub fn title_pattern(max: usize) -> String {
    let middle = match max {
        0 | 1 => String::new(),
        _ => format!("(?:[^\\x00]{{0,{}}}{NOT_SPACE})?", max - 2),
    };
    format!("^{SPACE}*{NOT_SPACE}{middle}{SPACE}*$")
}

/// The title's schema for a `MAX_TITLE_CHARS` of `max`.
pub fn title_schema_for(max: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "Trimmed of surrounding whitespace; 1-{max} characters after trimming; no NUL."
        )))
        .pattern(Some(title_pattern(max)))
        .examples([json!("Buy milk")])
        .build()
}

fn title_schema() -> Object {
    title_schema_for(FieldLimits::default().title_chars)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn completion_bodies() {
        let parse = |value: Value| parse_bulk_completion(value.as_object().unwrap());
        assert_eq!(parse(json!({"completed": true})), Ok(true));
        assert_eq!(parse(json!({"completed": false})), Ok(false));
        assert_eq!(parse(json!({})).unwrap_err()[0].kind, "missing");
        assert_eq!(parse(json!({"completed": "yes"})).unwrap_err()[0].kind, "bool_type");
        assert_eq!(parse(json!({"completed": true, "title": "x"})).unwrap_err().len(), 1);
        assert_eq!(parse(json!({"title": "x"})).unwrap_err().len(), 2);
    }
}

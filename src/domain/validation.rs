//! Validation failures in FastAPI's shape (`type`, `loc`, `msg`), so frontends
//! written against the original backend read them unchanged.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

/// Where a bad value was found, serialized as FastAPI's `loc` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The request body as a whole.
    BodyRoot,
    Body(&'static str),
    Query(&'static str),
    Header(&'static str),
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (root, field) = match *self {
            Location::BodyRoot => ("body", None),
            Location::Body(field) => ("body", Some(field)),
            Location::Query(field) => ("query", Some(field)),
            Location::Header(field) => ("header", Some(field)),
        };
        let mut seq = serializer.serialize_seq(None)?;
        seq.serialize_element(root)?;
        if let Some(field) = field {
            seq.serialize_element(field)?;
        }
        seq.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Location,
    pub msg: Cow<'static, str>,
}

impl FieldError {
    pub fn new(kind: &'static str, loc: Location, msg: impl Into<Cow<'static, str>>) -> Self {
        Self { kind, loc, msg: msg.into() }
    }

    pub fn missing(loc: Location) -> Self {
        Self::new("missing", loc, "Field required")
    }

    pub fn string_type(loc: Location) -> Self {
        Self::new("string_type", loc, "Input should be a valid string")
    }

    pub fn bool_type(loc: Location) -> Self {
        Self::new("bool_type", loc, "Input should be a valid boolean")
    }

    pub fn too_short(loc: Location, min: usize) -> Self {
        let unit = if min == 1 { "character" } else { "characters" };
        Self::new("string_too_short", loc, format!("String should have at least {min} {unit}"))
    }

    pub fn too_long(loc: Location, max: usize) -> Self {
        Self::new("string_too_long", loc, format!("String should have at most {max} characters"))
    }

    pub fn contains_nul(loc: Location) -> Self {
        Self::new("string_pattern_mismatch", loc, "String should not contain NUL characters")
    }

    pub fn not_an_object() -> Self {
        Self::new(
            "model_attributes_type",
            Location::BodyRoot,
            "Input should be a valid dictionary or object to extract fields from",
        )
    }

    pub fn duplicate_key() -> Self {
        Self::new("json_invalid", Location::BodyRoot, "JSON decode error: an object has the same key twice")
    }

    pub fn invalid_json() -> Self {
        Self::new("json_invalid", Location::BodyRoot, "JSON decode error")
    }
}

/// Keeps parsing after the first bad value so a client sees every problem at once.
pub fn keep<T>(result: Result<T, FieldError>, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

//! The one timestamp type the service stores and returns.
//!
//! Wire format: RFC 3339 in UTC with exactly six fractional digits and a `Z`
//! (`2026-01-05T10:00:00.123456Z`), the shape FastAPI frontends already parse.
//! PostgreSQL keeps it as a native `timestamptz`; SQLite has no date type, so it
//! stores the same fixed-width text, which sorts chronologically as plain text.

use serde::{Serialize, Serializer};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Type};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A UTC instant with microsecond precision (PostgreSQL's precision, so a value
/// read back equals the value written on both engines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    fn from_datetime(at: OffsetDateTime) -> Self {
        let at = at.to_offset(UtcOffset::UTC);
        let micros = at.microsecond();
        Self(at.replace_nanosecond(micros * 1_000).expect("whole microseconds are valid"))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    fn to_text(self) -> String {
        self.0.format(FORMAT).expect("a UTC date in range always formats")
    }

    fn parse_text(text: &str) -> Result<Self, time::error::Parse> {
        PrimitiveDateTime::parse(text, FORMAT).map(|at| Self(at.assume_utc()))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_text())
    }
}

impl Type<Sqlite> for Timestamp {
    fn type_info() -> SqliteTypeInfo {
        <str as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.to_text(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self::parse_text(text)?)
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <OffsetDateTime as Decode<Postgres>>::decode(value).map(Self::from_datetime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_is_fixed_width_utc_with_micros() {
        let at = Timestamp::parse_text("2026-01-05T10:00:00.123456Z").unwrap();
        assert_eq!(at.to_string(), "2026-01-05T10:00:00.123456Z");
        let whole = Timestamp::parse_text("2026-01-05T10:00:00.000000Z").unwrap();
        assert_eq!(whole.to_string(), "2026-01-05T10:00:00.000000Z");
        assert!(whole < at);
    }

    #[test]
    fn now_is_truncated_to_microseconds() {
        let now = Timestamp::now();
        assert_eq!(now.0.nanosecond() % 1_000, 0);
        assert_eq!(Timestamp::parse_text(&now.to_string()).unwrap(), now);
    }
}

//! The one timestamp type the service stores and returns.
//!
//! Wire format: RFC 3339 in UTC with exactly six fractional digits and a `Z`
//! (`2026-01-05T10:00:00.123456Z`), the shape FastAPI frontends already parse.
//! PostgreSQL keeps it as a native `timestamptz`; SQLite has no date type, so it
//! stores the same fixed-width text, which sorts chronologically as plain text.

use serde::{Serialize, Serializer};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`
const TEXT_LEN: usize = 27;

/// A UTC instant with microsecond precision (PostgreSQL's precision, so a value
/// read back equals the value written on both engines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// Now, in whole Unix seconds (the change log's and tickets' clock).
    pub fn unix_now() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }

    /// Truncated to whole microseconds, in UTC.
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let at = at.to_offset(UtcOffset::UTC);
        let micros = at.microsecond();
        Self(at.replace_nanosecond(micros * 1_000).expect("whole microseconds are valid"))
    }

    /// The fixed-width text, written by hand: every task in every response
    /// carries two of these, and `time`'s general formatter was a tenth of a
    /// list request's instructions under callgrind.
    fn write_text(self, out: &mut [u8; TEXT_LEN]) {
        fn digits(out: &mut [u8], mut value: u32) {
            for slot in out.iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        let (date, time) = (self.0.date(), self.0.time());
        // Years outside 0..=9999 cannot come from `now()` or from storage.
        digits(&mut out[0..4], date.year().clamp(0, 9999) as u32);
        digits(&mut out[5..7], u32::from(u8::from(date.month())));
        digits(&mut out[8..10], u32::from(date.day()));
        digits(&mut out[11..13], u32::from(time.hour()));
        digits(&mut out[14..16], u32::from(time.minute()));
        digits(&mut out[17..19], u32::from(time.second()));
        digits(&mut out[20..26], time.microsecond());
        (out[4], out[7], out[10], out[13], out[16], out[19], out[26]) =
            (b'-', b'-', b'T', b':', b':', b'.', b'Z');
    }

    pub fn plus(self, by: std::time::Duration) -> Self {
        Self::from_datetime(self.0 + by)
    }

    pub fn minus(self, by: std::time::Duration) -> Self {
        Self::from_datetime(self.0 - by)
    }

    pub fn as_datetime(self) -> OffsetDateTime {
        self.0
    }

    /// The fixed-width text form, as SQLite stores it.
    pub fn to_text(self) -> String {
        String::from_utf8(self.text_bytes().to_vec()).expect("ASCII digits and separators")
    }

    /// The fixed-width text's bytes (ASCII: nothing in it needs escaping in JSON).
    pub fn text_bytes(self) -> [u8; TEXT_LEN] {
        let mut out = [0; TEXT_LEN];
        self.write_text(&mut out);
        out
    }

    /// Whether `text` has the layout `write_text` produces (separators and
    /// digits where they belong; the calendar is not checked): stored text of
    /// ours that can go out as it is.
    pub fn is_text(text: &str) -> bool {
        let bytes = text.as_bytes();
        bytes.len() == TEXT_LEN
            && bytes.iter().enumerate().all(|(i, &b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                19 => b == b'.',
                26 => b == b'Z',
                _ => b.is_ascii_digit(),
            })
    }

    /// Parses exactly the layout `write_text` produces.
    pub fn parse_text(text: &str) -> Result<Self, TimestampError> {
        let bytes = text.as_bytes();
        if !Self::is_text(text) {
            return Err(TimestampError);
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, TimestampError> {
            bytes[range].iter().try_fold(0u32, |acc, b| {
                if b.is_ascii_digit() { Ok(acc * 10 + u32::from(b - b'0')) } else { Err(TimestampError) }
            })
        };
        let month = Month::try_from(number(5..7)? as u8).map_err(|_| TimestampError)?;
        let date = Date::from_calendar_date(number(0..4)? as i32, month, number(8..10)? as u8)
            .map_err(|_| TimestampError)?;
        let time = Time::from_hms_micro(
            number(11..13)? as u8,
            number(14..16)? as u8,
            number(17..19)? as u8,
            number(20..26)?,
        )
        .map_err(|_| TimestampError)?;
        Ok(Self(PrimitiveDateTime::new(date, time).assume_utc()))
    }
}

/// Stored text that is not a timestamp of ours.
#[derive(Debug, thiserror::Error)]
#[error("not a YYYY-MM-DDTHH:MM:SS.ffffffZ timestamp")]
pub struct TimestampError;

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.text_bytes();
        serializer.serialize_str(std::str::from_utf8(&text).expect("ASCII digits and separators"))
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
    fn malformed_text_is_refused() {
        for bad in [
            "2026-01-05 10:00:00.123456Z",
            "2026-13-05T10:00:00.123456Z",
            "2026-02-30T10:00:00.123456Z",
            "2026-01-05T24:00:00.123456Z",
            "2026-01-05T10:00:00.12345Z",
            "2026-01-05T10:00:00.1234567",
            "2026-01-05T10:0a:00.123456Z",
            "",
        ] {
            assert!(Timestamp::parse_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_text_layout_is_recognized() {
        assert!(Timestamp::is_text("2026-01-05T10:00:00.123456Z"));
        for bad in
            ["2026-01-05 10:00:00.123456Z", "2026-01-05T10:0a:00.123456Z", "2026-01-05T10:00:00.12345Z", ""]
        {
            assert!(!Timestamp::is_text(bad), "{bad}");
        }
    }

    #[test]
    fn serializes_as_the_same_text() {
        let at = Timestamp::parse_text("0999-12-31T23:59:59.000001Z").unwrap();
        assert_eq!(serde_json::to_string(&at).unwrap(), "\"0999-12-31T23:59:59.000001Z\"");
    }

    #[test]
    fn now_is_truncated_to_microseconds() {
        let now = Timestamp::now();
        assert_eq!(now.0.nanosecond() % 1_000, 0);
        assert_eq!(Timestamp::parse_text(&now.to_string()).unwrap(), now);
    }
}

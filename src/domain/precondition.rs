//! Conditional requests (RFC 9110 §13). A task's entity tag is its revision,
//! which every write to it advances: `"7"`. Tags are strong, so `If-Match`
//! (strong comparison) and `If-None-Match` (weak comparison) both work on them.

/// `If-Match` as the store applies it, in the same statement as the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: write unconditionally.
    Absent,
    /// `*`: the task must exist (as every write already requires).
    Exists,
    /// The task's revision must be one of these. Empty when no listed tag can
    /// be ours (weak or foreign tags never match strongly): the write fails.
    Revisions(Vec<i64>),
}

/// The entity tag of a task at `revision`.
pub fn task_etag(revision: i64) -> String {
    format!("\"{revision}\"")
}

/// `None` for `*`, else the well-formed entity tags listed (their `W/` kept),
/// over one or more header lines. A malformed entry is no tag at all: it can
/// match nothing, so a write conditioned on it fails (412) and a read
/// conditioned on it is answered in full; neither is unsafe.
fn tags<'a>(values: &[&'a str]) -> Option<Vec<&'a str>> {
    let listed: Vec<&str> =
        values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty()).collect();
    if listed == ["*"] {
        return None;
    }
    let well_formed = |tag: &&str| {
        let opaque = tag.strip_prefix("W/").unwrap_or(tag);
        opaque.len() >= 2
            && opaque.starts_with('"')
            && opaque.ends_with('"')
            && opaque[1..opaque.len() - 1].bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
    };
    Some(listed.into_iter().filter(well_formed).collect())
}

impl IfMatch {
    /// From the request's `If-Match` lines (none: `Absent`).
    pub fn parse(values: &[&str]) -> Self {
        if values.is_empty() {
            return Self::Absent;
        }
        match tags(values) {
            None => Self::Exists,
            Some(tags) => Self::Revisions(
                tags.iter()
                    .filter(|tag| !tag.starts_with("W/"))
                    .filter_map(|tag| tag.trim_matches('"').parse().ok())
                    .collect(),
            ),
        }
    }

    /// From `If-Match` on the whole list (bulk actions): the tags name the
    /// owner's change number (`X-Change-Seq`), weak as the list's version
    /// (`W/"12"`, see `change_seq_etag`) or strong (`"12"`); the numbers sit
    /// in `Revisions`. `*` holds always (a list always exists).
    pub fn parse_change_seq(values: &[&str]) -> Self {
        if values.is_empty() {
            return Self::Absent;
        }
        match tags(values) {
            None => Self::Exists,
            Some(tags) => Self::Revisions(tags.iter().filter_map(|tag| super::change_seq_of(tag)).collect()),
        }
    }

    /// Does a task at `revision` satisfy it (for reads that check it in Rust)?
    pub fn admits(&self, revision: i64) -> bool {
        match self {
            Self::Absent | Self::Exists => true,
            Self::Revisions(revisions) => revisions.contains(&revision),
        }
    }
}

/// `If-None-Match` against the current tag (weak comparison): `true` means
/// the client's copy is current (answer 304).
pub fn none_match_hits(values: &[&str], current: &str) -> bool {
    if values.is_empty() {
        return false;
    }
    let opaque = |tag: &str| tag.strip_prefix("W/").unwrap_or(tag).to_owned();
    match tags(values) {
        None => true,
        Some(tags) => tags.iter().any(|tag| opaque(tag) == opaque(current)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_forms() {
        assert_eq!(IfMatch::parse(&[]), IfMatch::Absent);
        assert_eq!(IfMatch::parse(&["*"]), IfMatch::Exists);
        assert_eq!(IfMatch::parse(&["\"3\""]), IfMatch::Revisions(vec![3]));
        assert_eq!(IfMatch::parse(&["\"3\", \"5\"", "\"9\""]), IfMatch::Revisions(vec![3, 5, 9]));
        // Weak and foreign tags never match strongly; malformed ones match nothing.
        assert_eq!(IfMatch::parse(&["W/\"3\", \"abc\""]), IfMatch::Revisions(vec![]));
        for bad in ["3", "\"3", "", "\"a b\"", "null"] {
            assert_eq!(IfMatch::parse(&[bad]), IfMatch::Revisions(vec![]), "{bad:?}");
        }
        assert_eq!(IfMatch::parse(&["3, \"4\""]), IfMatch::Revisions(vec![4]));
    }

    #[test]
    fn if_match_on_the_list_takes_change_numbers() {
        assert_eq!(IfMatch::parse_change_seq(&[]), IfMatch::Absent);
        assert_eq!(IfMatch::parse_change_seq(&["*"]), IfMatch::Exists);
        assert_eq!(IfMatch::parse_change_seq(&["W/\"3\", \"5\""]), IfMatch::Revisions(vec![3, 5]));
        assert_eq!(IfMatch::parse_change_seq(&["\"l3\"", "x"]), IfMatch::Revisions(vec![]));
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(none_match_hits(&["W/\"4\""], "\"4\""));
        assert!(none_match_hits(&["\"1\", \"4\""], "\"4\""));
        assert!(none_match_hits(&["*"], "\"4\""));
        assert!(!none_match_hits(&["\"5\""], "\"4\""));
        assert!(!none_match_hits(&[], "\"4\""));
        assert!(!none_match_hits(&["nope", "4"], "\"4\""));
    }
}

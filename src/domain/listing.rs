//! The query of `GET /api/{user_id}/tasks`: filter, sort, order and page.

use serde::Deserialize;

use super::validation::{FieldError, Location, keep};

pub const LIMIT_MAX: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Pending,
    Completed,
}

impl StatusFilter {
    /// The value `completed` must have, or `None` for every task.
    pub fn completed(self) -> Option<bool> {
        match self {
            Self::All => None,
            Self::Pending => Some(false),
            Self::Completed => Some(true),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Updated,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// The query string as sent, before any rule is applied. Unknown parameters are
/// ignored (as FastAPI does); a repeated known one is rejected by the decoder.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub status: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    pub status: StatusFilter,
    pub sort: SortKey,
    pub order: SortOrder,
    /// `None`: every matching task.
    pub limit: Option<i64>,
    pub offset: i64,
}

impl ListQuery {
    /// How many tasks this page holds when `total` match in all.
    pub fn page_size(&self, total: i64) -> usize {
        let left = total.saturating_sub(self.offset).max(0);
        usize::try_from(self.limit.map_or(left, |limit| left.min(limit))).unwrap_or(0)
    }

    pub fn parse(params: &ListParams) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let status = keep(parse_status(params.status.as_deref()), &mut errors);
        let sort = keep(parse_sort(params.sort.as_deref()), &mut errors);
        let order = keep(parse_order(params.order.as_deref()), &mut errors);
        let limit = keep(parse_bounded("limit", params.limit.as_deref(), 1, LIMIT_MAX), &mut errors);
        let offset = keep(parse_bounded("offset", params.offset.as_deref(), 0, i64::MAX), &mut errors);

        match (status, sort, order, limit, offset) {
            (Some(status), Some(sort), Some(order), Some(limit), Some(offset)) => Ok(Self {
                status,
                sort,
                order: order.unwrap_or(match sort {
                    SortKey::Title => SortOrder::Asc,
                    SortKey::Created | SortKey::Updated => SortOrder::Desc,
                }),
                limit,
                offset: offset.unwrap_or(0),
            }),
            _ => Err(errors),
        }
    }
}

fn literal_error(field: &'static str, expected: &'static str) -> FieldError {
    FieldError::new("literal_error", Location::Query(field), format!("Input should be {expected}"))
}

fn parse_status(value: Option<&str>) -> Result<StatusFilter, FieldError> {
    match value {
        None | Some("all") => Ok(StatusFilter::All),
        Some("pending") => Ok(StatusFilter::Pending),
        Some("completed") => Ok(StatusFilter::Completed),
        Some(_) => Err(literal_error("status", "'all', 'pending' or 'completed'")),
    }
}

fn parse_sort(value: Option<&str>) -> Result<SortKey, FieldError> {
    match value {
        None | Some("created" | "created_at") => Ok(SortKey::Created),
        Some("updated" | "updated_at") => Ok(SortKey::Updated),
        Some("title") => Ok(SortKey::Title),
        Some(_) => Err(literal_error("sort", "'created', 'created_at', 'updated', 'updated_at' or 'title'")),
    }
}

fn parse_order(value: Option<&str>) -> Result<Option<SortOrder>, FieldError> {
    match value {
        None => Ok(None),
        Some("asc") => Ok(Some(SortOrder::Asc)),
        Some("desc") => Ok(Some(SortOrder::Desc)),
        Some(_) => Err(literal_error("order", "'asc' or 'desc'")),
    }
}

fn parse_bounded(
    field: &'static str,
    value: Option<&str>,
    min: i64,
    max: i64,
) -> Result<Option<i64>, FieldError> {
    let Some(text) = value else { return Ok(None) };
    let loc = Location::Query(field);
    let number: i64 = text.parse().map_err(|_| {
        FieldError::new(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
        )
    })?;
    if number < min {
        let msg = format!("Input should be greater than or equal to {min}");
        return Err(FieldError::new("greater_than_equal", loc, msg));
    }
    if number > max {
        let msg = format!("Input should be less than or equal to {max}");
        return Err(FieldError::new("less_than_equal", loc, msg));
    }
    Ok(Some(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_what_is_left_after_the_offset_up_to_the_limit() {
        let all = ListQuery::parse(&ListParams::default()).unwrap();
        assert_eq!(all.page_size(10_000), 10_000);
        let paged = ListQuery::parse(&params(&[("limit", "20"), ("offset", "990")])).unwrap();
        assert_eq!(paged.page_size(1_000), 10);
        assert_eq!(paged.page_size(5_000), 20);
        assert_eq!(paged.page_size(900), 0);
    }

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let mut p = ListParams::default();
        for (key, value) in pairs {
            let slot = match *key {
                "status" => &mut p.status,
                "sort" => &mut p.sort,
                "order" => &mut p.order,
                "limit" => &mut p.limit,
                "offset" => &mut p.offset,
                _ => unreachable!(),
            };
            *slot = Some(value.to_string());
        }
        p
    }

    #[test]
    fn defaults_are_all_newest_first_unpaged() {
        let q = ListQuery::parse(&params(&[])).unwrap();
        assert_eq!(q.status, StatusFilter::All);
        assert_eq!((q.sort, q.order, q.limit, q.offset), (SortKey::Created, SortOrder::Desc, None, 0));
    }

    #[test]
    fn title_sorts_ascending_by_default_and_aliases_are_accepted() {
        let q = ListQuery::parse(&params(&[("sort", "title")])).unwrap();
        assert_eq!(q.order, SortOrder::Asc);
        let q = ListQuery::parse(&params(&[("sort", "updated_at"), ("order", "asc")])).unwrap();
        assert_eq!((q.sort, q.order), (SortKey::Updated, SortOrder::Asc));
    }

    #[test]
    fn every_bad_value_is_reported() {
        let errors = ListQuery::parse(&params(&[
            ("status", "done"),
            ("sort", ""),
            ("order", "up"),
            ("limit", "1001"),
            ("offset", "-1"),
        ]))
        .unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            ["literal_error", "literal_error", "literal_error", "less_than_equal", "greater_than_equal"]
        );
        let errors = ListQuery::parse(&params(&[("limit", "0"), ("offset", "x")])).unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["greater_than_equal", "int_parsing"]);
    }
}

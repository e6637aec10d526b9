//! One trailing slash is the same route as none (`/api/u/tasks/` is
//! `/api/u/tasks`). tower-http's `NormalizePath` trims every leading and
//! trailing slash, which would also make `//api/...` and `tasks///` aliases;
//! the contract accepts exactly one, so this small rewrite is ours.

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

pub fn strip_one_trailing_slash(mut request: Request) -> Request {
    if let Some(uri) = without_trailing_slash(request.uri()) {
        *request.uri_mut() = uri;
    }
    request
}

fn without_trailing_slash(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    // Swagger UI redirects `/docs` to `/docs/` and serves its files below it.
    if path.starts_with(super::DOCS_PATH) {
        return None;
    }
    let trimmed = path.strip_suffix('/')?;
    if trimmed.is_empty() || trimmed.ends_with('/') {
        return None;
    }
    let path_and_query = match uri.query() {
        Some(query) => PathAndQuery::try_from(format!("{trimmed}?{query}")),
        None => PathAndQuery::try_from(trimmed),
    }
    .ok()?;
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(uri: &str) -> String {
        let uri: Uri = uri.parse().unwrap();
        without_trailing_slash(&uri).unwrap_or(uri).to_string()
    }

    #[test]
    fn exactly_one_trailing_slash_is_dropped() {
        assert_eq!(rewrite("/api/u/tasks/"), "/api/u/tasks");
        assert_eq!(rewrite("/api/u/tasks/?status=all"), "/api/u/tasks?status=all");
        assert_eq!(rewrite("/api/u/tasks"), "/api/u/tasks");
        assert_eq!(rewrite("/api/u/tasks//"), "/api/u/tasks//");
        assert_eq!(rewrite("/"), "/");
        assert_eq!(rewrite("/docs/"), "/docs/");
    }
}

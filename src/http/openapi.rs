//! The OpenAPI 3.1 document. Routes are registered through `utoipa_axum::routes!`
//! from the same `#[utoipa::path]` declarations that describe them (see
//! `router`), so the document cannot list a route the server lacks or miss one
//! it has. What no Rust type states (bounds, patterns, error shapes, headers)
//! is declared here and in the handlers' attributes.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

use crate::config::Limits;
use crate::domain::title_schema_for;

/// The bearer security scheme every task route requires.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "todo-api",
        description = "Multi-user task API for Next.js + Better Auth frontends. Every task route needs \
                       `Authorization: Bearer <JWT>` whose `sub` equals the path's `user_id`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "tasks", description = "A user's tasks"),
        (name = "realtime", description = "The user's changes: a delta feed and a live stream (SSE)"),
        (name = "health", description = "Probes")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("A Better Auth JWT (EdDSA, ES256, ES512, RS256, PS256 via JWKS) or HS256"))
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// `{"detail": "..."}`: every error except validation.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// A human-readable message.
    #[schema(example = "Task not found")]
    pub detail: String,
}

/// One validation failure, in FastAPI's shape.
#[derive(ToSchema)]
pub struct ValidationIssue {
    /// e.g. `missing`, `string_too_long`, `bool_type`, `literal_error`, `json_invalid`.
    #[schema(rename = "type", example = "string_too_short")]
    pub kind: String,
    /// Where: `["body", "title"]`, `["query", "limit"]`, or `["body"]`.
    #[schema(example = json!(["body", "title"]))]
    pub loc: Vec<String>,
    #[schema(example = "String should have at least 1 character")]
    pub msg: String,
}

/// `{"detail": [...]}`: 422 responses.
#[derive(ToSchema)]
pub struct ValidationErrorBody {
    pub detail: Vec<ValidationIssue>,
}

/// The document as this server is configured: the field limits (in the
/// task bodies' schemas) and the body size limit (in every 413).
pub fn apply_limits(document: &mut utoipa::openapi::OpenApi, limits: &Limits) {
    if let Some(components) = document.components.as_mut() {
        for body in ["TaskCreate", "TaskUpdate"] {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(body) {
                let title = title_schema_for(limits.fields.title_chars);
                object.properties.insert("title".into(), RefOr::T(Schema::Object(title)));
                if let Some(RefOr::T(Schema::Object(description))) = object.properties.get_mut("description")
                {
                    description.max_length = Some(limits.fields.description_chars);
                }
            }
        }
    }
    let too_large = format!("Body over {} KiB.", limits.body_bytes / 1024);
    for item in document.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("413") {
                response.description = too_large.clone();
            }
        }
    }
}

/// The path of the list and create routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct UserPath {
    /// The user whose tasks these are: must equal the token's `sub`.
    user_id: String,
}

/// The path of the routes of one task.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TaskPath {
    /// The user whose task this is: must equal the token's `sub`.
    user_id: String,
    /// The task's id (anything but a positive 64-bit integer answers 404).
    #[param(minimum = 1)]
    id: i64,
}

/// `status` of a listing.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum StatusParam {
    All,
    Pending,
    Completed,
}

/// `sort` of a listing (`created_at` is what most frontends send).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SortParam {
    Created,
    CreatedAt,
    Updated,
    UpdatedAt,
    Title,
}

/// `order` of a listing.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum OrderParam {
    Asc,
    Desc,
}

/// The query of `GET /api/{user_id}/tasks`. Unknown parameters are ignored; a
/// repeated or invalid one is 422.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParamsDoc {
    /// Which tasks (default `all`).
    #[param(inline)]
    status: Option<StatusParam>,
    /// Sort key (default `created`); ties are broken by id.
    #[param(inline)]
    sort: Option<SortParam>,
    /// Default `desc`, or `asc` for `title`.
    #[param(inline)]
    order: Option<OrderParam>,
    /// Page size; without it every matching task is returned.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Tasks to skip (default 0).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    offset: Option<i64>,
}

/// Answers every authenticated route can give before it does its own work.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum AuthResponses {
    /// No, malformed or invalid token. `detail` names the cause.
    #[response(status = 401, headers(("WWW-Authenticate" = String, description = "`Bearer`, plus `error=\"invalid_token\"` when a token was sent")))]
    Unauthorized(ErrorBody),
    /// The token's `sub` is not the path's `user_id`.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Method not allowed on this path.
    #[response(status = 405, headers(("Allow" = String, description = "The methods this path supports")))]
    MethodNotAllowed(ErrorBody),
    /// Rate limited, before any work: this user's requests (`RATE_LIMIT_*`), or this
    /// client address's failed authentications (`AUTH_FAILURES_*`).
    #[response(status = 429, headers(
        ("Retry-After" = String, description = "Seconds until a request may go"),
        ("RateLimit-Policy" = String, description = "IETF httpapi: `\"user\";q=100;w=5` (burst, seconds to refill)"),
        ("RateLimit" = String, description = "IETF httpapi: `\"user\";r=0;t=1` (none remaining, seconds to wait)"),
    ))]
    TooManyRequests(ErrorBody),
    /// The database, or the auth server's keys for this token, are unavailable.
    #[response(status = 503, headers(("Retry-After" = String, description = "Seconds to wait")))]
    Unavailable(ErrorBody),
}

/// Answers about a request body.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BodyResponses {
    /// Body over the size limit (64 KiB by default).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Content type is not JSON.
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// Malformed JSON or a broken rule.
    #[response(status = 422)]
    Invalid(ValidationErrorBody),
}

/// The task does not exist or belongs to someone else (indistinguishable).
#[derive(IntoResponses)]
#[response(status = 404)]
#[allow(dead_code)]
pub struct TaskNotFound(ErrorBody);

/// The header of a conditional write to one task.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfMatchHeader {
    /// Write only if the task's current `ETag` is listed (`"3"`, or `"3", "4"`), or `*`
    /// (it exists); else `412` and nothing is written. Checked in the write itself.
    #[param(rename = "If-Match", required = false)]
    if_match: String,
}

/// The header of a conditional read.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfNoneMatchHeader {
    /// `304 Not Modified`, with no body, while the `ETag` is still one of these (or `*`).
    #[param(rename = "If-None-Match", required = false)]
    if_none_match: String,
}

/// Answers to `If-Match`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum PreconditionResponses {
    /// The task exists at another revision (or `If-Match` lists no tag it could
    /// have); nothing was written.
    #[response(status = 412, headers(("ETag" = String, description = "The task's current entity tag")))]
    PreconditionFailed(ErrorBody),
}

/// Answers to `If-None-Match`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum NotModifiedResponses {
    /// Unchanged since the `ETag` sent; no body.
    #[response(status = 304, headers(("ETag" = String, description = "The current entity tag")))]
    NotModified,
}

/// The header of a write that is safe to retry.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKeyHeader {
    /// A key of the client's (a UUID, say; 1-255 visible ASCII characters). The first
    /// request with it runs; a retry with the same key and request gets the same answer
    /// again (`Idempotent-Replayed: true`), without a second write, for
    /// `IDEMPOTENCY_KEY_TTL_SECONDS`. The same key with a different request is a 422
    /// (`loc` `["header", "Idempotency-Key"]`).
    #[param(rename = "Idempotency-Key", max_length = 255, pattern = r"^[!-~]+$", required = false)]
    idempotency_key: String,
}

/// Answers about an `Idempotency-Key`.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum IdempotencyResponses {
    /// The key is not 1-255 visible ASCII characters, or was sent twice.
    #[response(status = 400)]
    BadKey(ErrorBody),
    /// A request with this key is still running; retry to get its answer.
    #[response(status = 409, headers(("Retry-After" = String, description = "Seconds to wait")))]
    InFlight(ErrorBody),
}

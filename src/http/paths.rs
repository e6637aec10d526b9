//! Where the interactive docs, the OpenAPI document and the metrics are served.

pub const DOCS_PATH: &str = "/docs";
pub const OPENAPI_PATH: &str = "/openapi.json";
pub const METRICS_PATH: &str = "/metrics";

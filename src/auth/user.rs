//! Who a verified token says the caller is.

/// A caller whose token verified. `id` is the token's `sub`, an opaque string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: String,
    pub email: Option<String>,
    /// Unix second (leeway included) after which the token is expired: a
    /// change stream opened with it ends then.
    pub valid_until: u64,
}

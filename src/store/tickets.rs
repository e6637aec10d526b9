//! Stream tickets: what lets `EventSource`, which cannot send an
//! `Authorization` header, open a change stream. Only a ticket's SHA-256 is
//! stored; it opens streams for one user until it expires.

pub const ISSUE_TICKET: &str =
    "INSERT INTO stream_tickets (ticket_hash, user_id, expires_at, stream_until) VALUES ($1, $2, $3, $4)";

/// The ticket's user and until when its streams may run, if it is still valid at `$2`.
pub const REDEEM_TICKET: &str =
    "SELECT user_id, stream_until FROM stream_tickets WHERE ticket_hash = $1 AND expires_at > $2";

pub const PRUNE_TICKETS: &str = "DELETE FROM stream_tickets WHERE expires_at <= $1";

/// A ticket as the store keeps it: its SHA-256, never the ticket itself.
#[derive(Debug, Clone, Copy)]
pub struct TicketRecord<'a> {
    pub hash: &'a str,
    pub user_id: &'a str,
    /// Unix seconds: when it stops opening streams.
    pub expires_at: i64,
    /// Unix seconds: when the streams it opened end.
    pub stream_until: i64,
}

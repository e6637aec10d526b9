//! The subcommands and their own arguments (the settings they share are
//! `Settings`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default when no command is given).
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print an HS256 token for a user, signed with BETTER_AUTH_SECRET.
    Token(TokenArgs),
    /// Print the OpenAPI 3.1 document (as served at /openapi.json).
    Openapi,
    /// Check the configuration, the database and the auth keys; exit non-zero on a problem.
    Check,
    /// A user's data: export it as JSON, or erase it (works while the server runs).
    User(UserArgs),
    /// Copy the SQLite database to a new file, consistently, while the server runs.
    Backup(BackupArgs),
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Try it out: use an ephemeral random secret for this run only, listen on
    /// 127.0.0.1, and print a ready-to-use token and curl line.
    #[arg(long)]
    pub dev: bool,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user id to put in the token's `sub` claim.
    #[arg(long)]
    pub sub: String,
    /// An e-mail address to put in the token's `email` claim.
    #[arg(long)]
    pub email: Option<String>,
    /// Seconds until the token expires.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub ttl: u64,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Print the user's tasks and change log as JSON on stdout (GDPR art. 15).
    Export {
        /// The user's id (the token's `sub`).
        user_id: String,
    },
    /// Erase the user's tasks, change log, idempotency keys, stream tickets and
    /// counters in one transaction, and print what was removed (GDPR art. 17).
    Delete {
        /// The user's id (the token's `sub`).
        user_id: String,
    },
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where the copy goes: a file that does not exist yet. PostgreSQL is backed
    /// up with its own tools (pg_dump, point-in-time recovery).
    pub path: PathBuf,
}

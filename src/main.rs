//! The command line: parse settings, then serve, migrate or mint a token.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clap::error::ErrorKind;
use secrecy::ExposeSecret;

use todo_api::app::{self, App};
use todo_api::auth::mint_hs256;
use todo_api::config::{Cli, Command, Config, ServeArgs, TokenArgs, UserCommand};
use todo_api::domain::{Change, Task, Timestamp};
use todo_api::store::user_data::BackupError;
use todo_api::store::{DatabaseConfig, Lifecycle, PoolSettings, Store, StoreError, UserRecords};
use todo_api::telemetry;

/// Lifetime of the token `serve --dev` prints.
const DEV_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const DEV_USER: &str = "dev-user";

fn main() -> ExitCode {
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: cannot read .env: {error}");
        return ExitCode::from(2);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            error.exit()
        }
        Err(error) => {
            // clap adds usage and a hint; the first line is the whole story.
            let rendered = error.render().to_string();
            eprintln!("{}", rendered.lines().next().unwrap_or("error: invalid arguments"));
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_settings(&cli.settings) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    // Requests run on the workers' own runtimes (see `http::Workers`); this
    // one starts the server and runs its background work.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("the tokio runtime starts");
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => runtime.block_on(serve(config, args.dev)),
        Command::Migrate => runtime.block_on(migrate(config)),
        Command::Token(args) => token(&config, &args),
        Command::Check => runtime.block_on(check(config)),
        Command::User(args) => runtime.block_on(user_data(config, args.command)),
        Command::Backup(args) => runtime.block_on(backup(config, &args.path)),
        Command::Openapi => {
            let document = todo_api::http::openapi_document(&config.limits);
            println!("{}", document.to_pretty_json().expect("the document serializes"));
            ExitCode::SUCCESS
        }
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}

async fn serve(config: Config, dev: bool) -> ExitCode {
    let config = if dev {
        config.into_dev()
    } else {
        match config.require_auth() {
            Ok(config) => config,
            Err(error) => return fail(&error),
        }
    };
    let _log = telemetry::init(&config.log_level, config.log_format);
    let dev_secret = dev.then(|| config.auth.hs256_secret.clone()).flatten();
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(error) => return fail(&error),
    };
    if let Some(secret) = dev_secret {
        print_dev_banner(app.local_addr(), secret.expose_secret().as_bytes());
    }
    match app.run_until(app::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// Deliberately on stdout, not in the logs: this token is for the person at the
/// terminal, signed with a secret that dies with the process.
fn print_dev_banner(addr: std::net::SocketAddr, secret: &[u8]) {
    let token = mint_hs256(secret, DEV_USER, None, DEV_TOKEN_TTL);
    println!("todo-api dev mode: ephemeral secret, tokens stop working when this process exits");
    println!("  user:  {DEV_USER}");
    println!("  token: {token}");
    println!("  try:   curl -H 'Authorization: Bearer {token}' http://{addr}/api/{DEV_USER}/tasks");
}

async fn migrate(config: Config) -> ExitCode {
    let _log = telemetry::init(&config.log_level, config.log_format);
    let result = async {
        let store = Store::connect_migrated(
            &config.database,
            PoolSettings { max_connections: 1, workers: 0, ..config.pool_settings() },
        )
        .await?;
        store.close().await;
        Ok::<_, todo_api::store::StoreError>(())
    }
    .await;
    match result {
        Ok(()) => {
            println!("migrations applied to {}", config.database_display());
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}

/// `todo-api check`: what an operator wants to know before (or instead of)
/// starting: is the configuration valid, does the database answer, are the
/// auth keys reachable. One line per item; exit 1 if any failed.
async fn check(config: Config) -> ExitCode {
    let mut ok = true;
    let mut report = |item: &str, result: Result<String, String>| {
        match &result {
            Ok(found) => println!("ok    {item}: {found}"),
            Err(problem) => println!("FAIL  {item}: {problem}"),
        }
        ok &= result.is_ok();
    };
    report("configuration", Ok(format!("auth {}", config.auth.describe())));
    if !config.auth.is_configured() {
        report("auth", Err("no verification configured (BETTER_AUTH_URL or BETTER_AUTH_SECRET)".into()));
    }
    let settings = PoolSettings { max_connections: 1, workers: 0, ..config.pool_settings() };
    match Store::connect(&config.database, settings).await {
        Ok(store) => {
            let answered = store.ping().await.map(|()| config.database_display()).map_err(|e| e.to_string());
            let reachable = answered.is_ok();
            report("database", answered);
            if reachable && let Some(found) = store.timeouts_in_force().await {
                report("timeouts", timeouts_as_asked(found, settings.statement_timeout));
            }
            store.close().await;
        }
        Err(error) => report("database", Err(error.to_string())),
    }
    if let Some(jwks) = &config.auth.jwks {
        let cache = todo_api::auth::JwksCache::new(jwks.source.clone(), jwks.min_refetch);
        let keys = cache.refresh().await.map(|n| format!("{n} signing keys from {}", jwks.source));
        report("jwks", keys.map_err(|e| e.to_string()));
    }
    if let Some(sessions) = &config.auth.sessions {
        let lookup = todo_api::auth::SessionLookup::new(sessions.clone());
        report("sessions", lookup.probe().await.map_err(|e| e.to_string()));
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// Do the timeouts PostgreSQL applies match `DATABASE_STATEMENT_TIMEOUT_SECONDS`?
/// Behind a transaction-mode pooler they are the role's or database's defaults.
fn timeouts_as_asked(found: Result<(i64, i64), StoreError>, asked: Duration) -> Result<String, String> {
    let (statement, lock) = found.map_err(|e| e.to_string())?;
    let wanted = asked.as_millis() as i64;
    let found = format!("statement_timeout {statement} ms, lock_timeout {lock} ms");
    if statement == wanted && lock == wanted {
        return Ok(format!("{found}, as DATABASE_STATEMENT_TIMEOUT_SECONDS says"));
    }
    Err(format!(
        "{found}, but DATABASE_STATEMENT_TIMEOUT_SECONDS asks for {wanted} ms; behind a pooler set both for \
         the role: ALTER ROLE <user> SET statement_timeout = '{wanted}ms'; ALTER ROLE <user> SET lock_timeout = '{wanted}ms'"
    ))
}

/// The store for a command run beside the server: one connection, the
/// schema brought up to date (a new database exports as empty).
async fn operator_store(config: &Config) -> Result<Store, todo_api::store::StoreError> {
    let settings = PoolSettings { max_connections: 1, workers: 0, ..config.pool_settings() };
    Store::connect_migrated(&config.database, settings).await
}

/// `todo-api user export|delete USER_ID`.
async fn user_data(config: Config, command: UserCommand) -> ExitCode {
    let store = match operator_store(&config).await {
        Ok(store) => store,
        Err(error) => return fail(&error),
    };
    let done = match &command {
        UserCommand::Export { user_id } => store.export_user(user_id).await.map(|data| {
            let export = Export { user_id, exported_at: Timestamp::now(), tasks: &data.tasks, changes: &data.changes };
            println!("{}", serde_json::to_string_pretty(&export).expect("an export serializes"));
        }),
        UserCommand::Delete { user_id } => store.erase_user(user_id).await.map(|erased| {
            println!(
                "erased user {user_id:?}: {} tasks, {} changes, {} idempotency keys, {} stream tickets, {} owner row",
                erased.tasks, erased.changes, erased.idempotency_keys, erased.stream_tickets, erased.users
            );
        }),
    };
    store.close().await;
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// What `user export` prints: the tasks as the API shows them, the change
/// log as `/changes` shows it.
#[derive(serde::Serialize)]
struct Export<'a> {
    user_id: &'a str,
    exported_at: Timestamp,
    tasks: &'a [Task],
    changes: &'a [Change],
}

async fn backup(config: Config, path: &std::path::Path) -> ExitCode {
    if let DatabaseConfig::Postgres(_) = config.database {
        return fail(&BackupError::NotEmbedded);
    }
    let store = match operator_store(&config).await {
        Ok(store) => store,
        Err(error) => return fail(&error),
    };
    let done = store.backup_to(path).await;
    store.close().await;
    match done {
        Ok(()) => {
            println!("backed up {} to {}", config.database_display(), path.display());
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}

fn token(config: &Config, args: &TokenArgs) -> ExitCode {
    let Some(secret) = &config.auth.hs256_secret else {
        return fail(&"set BETTER_AUTH_SECRET to sign tokens");
    };
    let ttl = Duration::from_secs(args.ttl);
    println!("{}", mint_hs256(secret.expose_secret().as_bytes(), &args.sub, args.email.as_deref(), ttl));
    ExitCode::SUCCESS
}

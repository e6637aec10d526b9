//! A SQLite `DATABASE_URL`: `sqlite:PATH` (also `sqlite://PATH`), optionally
//! `?mode=rwc` (the default: create when missing) or `?mode=rw` (must exist);
//! `sqlite::memory:` for a database that lives as long as the process.

use std::str::FromStr;

use rusqlite::OpenFlags;

use super::super::url_error::DatabaseUrlError;

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// A file path, or a shared-cache memory URI.
    pub(super) target: String,
    pub(super) memory: bool,
    create: bool,
}

impl FromStr for SqliteOptions {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut create = true;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair {
                "mode=rwc" => create = true,
                "mode=rw" => create = false,
                _ => return Err(invalid(&format!("unsupported parameter {pair:?} (mode=rwc or mode=rw)"))),
            }
        }
        if path == ":memory:" {
            // Every connection must see the same database: a named, shared one.
            let name = format!("todo-api-{}-{:x}", std::process::id(), rand::random::<u64>());
            return Ok(Self {
                target: format!("file:{name}?mode=memory&cache=shared"),
                memory: true,
                create,
            });
        }
        if path.is_empty() {
            return Err(invalid("no file path after sqlite:"));
        }
        Ok(Self { target: path.to_owned(), memory: false, create })
    }
}

impl SqliteOptions {
    pub fn display(&self) -> String {
        if self.memory { "sqlite::memory:".into() } else { format!("sqlite:{}", self.target) }
    }

    /// The one writer: may create the file.
    pub(super) fn writer_flags(&self) -> OpenFlags {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if self.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        flags | OpenFlags::SQLITE_OPEN_URI
    }

    /// Readers cannot write, whatever a bug would ask of them. A shared-cache
    /// memory database has one cache for all, so its readers open it as the writer does.
    pub(super) fn reader_flags(&self) -> OpenFlags {
        if self.memory {
            return self.writer_flags();
        }
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    }
}

fn invalid(reason: &str) -> DatabaseUrlError {
    DatabaseUrlError::Invalid { engine: "SQLite", reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_modes() {
        let file: SqliteOptions = "sqlite:todo.db".parse().unwrap();
        assert_eq!((file.target.as_str(), file.create), ("todo.db", true));
        let abs: SqliteOptions = "sqlite:///var/lib/todo.db?mode=rw".parse().unwrap();
        assert_eq!((abs.target.as_str(), abs.create), ("/var/lib/todo.db", false));
        assert!("sqlite:todo.db?cache=private".parse::<SqliteOptions>().is_err());
        assert!("sqlite:".parse::<SqliteOptions>().is_err());
        let memory: SqliteOptions = "sqlite::memory:".parse().unwrap();
        assert!(memory.memory && memory.target.contains("mode=memory"));
    }
}

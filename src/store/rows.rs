//! Rows to tasks, and the timestamp's form in each engine. Every task query
//! returns the columns of `sql::task_columns!` in that order, so rows are read
//! by position (no name lookup per column).

use rusqlite::types::{FromSqlError, FromSqlResult, ToSqlOutput, Type as SqliteType, ValueRef};
use time::OffsetDateTime;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, accepts, to_sql_checked};

use crate::domain::{Stamp, Task, TaskView, Timestamp, TimestampError};

/// Position of the window count in a listing row, after the task's columns.
pub const TOTAL_COLUMN: usize = 8;
/// Position of the owner's change number in a listing row (NULL before their first write).
pub const HEAD_COLUMN: usize = 9;

pub fn task_from_pg(row: &tokio_postgres::Row) -> Result<Task, tokio_postgres::Error> {
    task_at_pg(row, 0)
}

/// The task's columns starting at position `at` (a change log row has its own first).
pub fn task_at_pg(row: &tokio_postgres::Row, at: usize) -> Result<Task, tokio_postgres::Error> {
    Ok(Task {
        id: row.try_get(at)?,
        user_id: row.try_get(at + 1)?,
        title: row.try_get(at + 2)?,
        description: row.try_get(at + 3)?,
        completed: row.try_get(at + 4)?,
        created_at: row.try_get(at + 5)?,
        updated_at: row.try_get(at + 6)?,
        revision: row.try_get(at + 7)?,
    })
}

pub fn task_from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Task> {
    task_at_sqlite(row, 0)
}

pub fn task_at_sqlite(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Task> {
    Ok(Task {
        id: row.get(at)?,
        user_id: row.get(at + 1)?,
        title: row.get(at + 2)?,
        description: row.get(at + 3)?,
        completed: row.get(at + 4)?,
        created_at: row.get(at + 5)?,
        updated_at: row.get(at + 6)?,
        revision: row.get(at + 7)?,
    })
}

/// A listing row's task, borrowed from the row (see `TaskView`).
pub fn task_view_pg(row: &tokio_postgres::Row) -> Result<TaskView<'_>, tokio_postgres::Error> {
    Ok(TaskView {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        title: row.try_get(2)?,
        description: row.try_get(3)?,
        completed: row.try_get(4)?,
        created_at: Stamp::At(row.try_get(5)?),
        updated_at: Stamp::At(row.try_get(6)?),
        revision: row.try_get(7)?,
    })
}

/// A listing row's task, borrowed from the row; the timestamps' stored text
/// goes out as it is (it is ours: checked for its layout, not parsed).
pub fn task_view_sqlite<'r>(row: &'r rusqlite::Row<'_>) -> rusqlite::Result<TaskView<'r>> {
    let text = |at: usize| -> rusqlite::Result<Option<&'r str>> {
        let value = row.get_ref(at)?;
        value
            .as_str_or_null()
            .map_err(|error| rusqlite::Error::FromSqlConversionFailure(at, value.data_type(), error.into()))
    };
    let required =
        |at: usize| text(at)?.ok_or(rusqlite::Error::InvalidColumnType(at, String::new(), SqliteType::Null));
    let stamp = |at: usize| -> rusqlite::Result<Stamp<'r>> {
        let stored = required(at)?;
        if !Timestamp::is_text(stored) {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                at,
                SqliteType::Text,
                Box::new(TimestampError),
            ));
        }
        Ok(Stamp::Text(stored))
    };
    Ok(TaskView {
        id: row.get(0)?,
        user_id: required(1)?,
        title: required(2)?,
        description: text(3)?,
        completed: row.get(4)?,
        created_at: stamp(5)?,
        updated_at: stamp(6)?,
        revision: row.get(7)?,
    })
}

/// PostgreSQL keeps a native `timestamptz`.
impl ToSql for Timestamp {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.as_datetime().to_sql(ty, out)
    }

    accepts!(TIMESTAMPTZ);
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Timestamp {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        OffsetDateTime::from_sql(ty, raw).map(Timestamp::from_datetime)
    }

    accepts!(TIMESTAMPTZ);
}

/// SQLite keeps the fixed-width UTC text, which sorts chronologically.
impl rusqlite::ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_text()))
    }
}

impl rusqlite::types::FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Timestamp::parse_text(value.as_str()?).map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

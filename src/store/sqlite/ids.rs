//! The typed ids as SQLite text columns, so rows map to them directly.

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::ids::{BusinessId, CallSid, ConversationId, LeadId};

macro_rules! text_column {
    ($($name:ty),+) => {$(
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                String::column_result(value).map(<$name>::from)
            }
        }
    )+};
}

text_column!(BusinessId, LeadId, CallSid, ConversationId);

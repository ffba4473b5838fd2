//! What differs between the backends beyond the schema: how a write transaction starts and how
//! the row to update is locked. Everything else is written once (see `with_backend!`).

pub mod pg {
    use diesel::prelude::*;
    use diesel::PgConnection;
    use uuid::Uuid;

    use crate::row::{ClientRow, DbUuid};
    use crate::schema::pg::clients;

    pub fn write_transaction<T, E>(
        conn: &mut PgConnection,
        f: impl FnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        conn.transaction(f)
    }

    /// Reads the client and holds its row lock until the transaction ends, so that concurrent
    /// updates of one client run one after the other, each on the other's result.
    pub fn lock_client(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<ClientRow>> {
        clients::table
            .filter(clients::id.eq(DbUuid(id)))
            .for_update()
            .first(conn)
            .optional()
    }
}

pub mod sqlite {
    use diesel::prelude::*;
    use diesel::SqliteConnection;
    use uuid::Uuid;

    use crate::row::{ClientRow, DbUuid};
    use crate::schema::sqlite::clients;

    /// `BEGIN IMMEDIATE`: takes the database's write lock before the first read, so a
    /// read-check-write cannot interleave with another writer.
    pub fn write_transaction<T, E>(
        conn: &mut SqliteConnection,
        f: impl FnOnce(&mut SqliteConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        conn.immediate_transaction(f)
    }

    /// Within an immediate transaction the whole database is already locked for writing.
    pub fn lock_client(conn: &mut SqliteConnection, id: Uuid) -> QueryResult<Option<ClientRow>> {
        clients::table
            .filter(clients::id.eq(DbUuid(id)))
            .first(conn)
            .optional()
    }
}

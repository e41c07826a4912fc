//! The shared journal: the same tables in a PostgreSQL database that several workstations use.
pub struct SharedJournal;
impl SharedJournal {
    pub fn connect(&self) -> super::sql::SqlResult<super::sql::PgConn> { unimplemented!() }
}

//! Postgres for the tests that can use it: a schema of its own per run.

/// A Postgres schema of its own for one test run (other tests and engineers
/// share the database), dropped at the end.
pub struct FreshSchema {
    base: String,
    pub schema: String,
    pub url: String,
}

impl FreshSchema {
    /// None (with a notice) when FRONTDESK_TEST_DATABASE_URL is unset.
    pub async fn new(what: &str) -> Option<FreshSchema> {
        let Ok(base) = std::env::var("FRONTDESK_TEST_DATABASE_URL") else {
            eprintln!("skipped: FRONTDESK_TEST_DATABASE_URL is not set (no Postgres for the {what} test)");
            return None;
        };
        let schema = format!("fd_{what}_{}", &frontdesk::domain::new_id()[..12]);
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}schema={schema}");
        Some(FreshSchema { base, schema, url })
    }

    pub async fn drop(self) {
        let (client, conn) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema)).await.unwrap();
    }
}

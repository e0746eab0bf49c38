//! The Postgres form of `database.url` (`DATABASE_URL`), parsed: the URL as
//! the original design writes it (Prisma's form,
//! `postgresql://u:p@host:5433/db?schema=public`) or as libpq does. Apart
//! from the backend so that `config check` can read a URL without the store
//! (the pool and TLS are built from it in `store::postgres::connect`).
//! Imports nothing of the crate.

use std::time::Duration;

use tokio_postgres::config::SslMode;

/// Why a Postgres URL was refused; the text starts with `DATABASE_URL:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PgUrlError(pub String);

/// Connections per process unless the URL's `connection_limit` says otherwise.
const DEFAULT_POOL: usize = 16;

/// What frontdesk takes from a Postgres URL.
#[derive(Debug, Clone)]
pub struct PgUrl {
    pub config: tokio_postgres::Config,
    /// The Postgres schema frontdesk's tables live in (created if missing).
    pub schema: String,
    pub pool_size: usize,
    /// A PEM file of extra certificate authorities (`sslrootcert`).
    pub root_cert: Option<String>,
    /// Parameters neither libpq-like nor Prisma's that were left out.
    pub ignored: Vec<String>,
}

/// Query parameters tokio-postgres understands as they are.
const PASSED: &[&str] = &[
    "application_name",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "options",
    "user",
    "password",
    "dbname",
    "host",
    "hostaddr",
    "port",
];

/// A schema name frontdesk can quote safely everywhere it goes.
fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl PgUrl {
    pub fn parse(raw: &str) -> Result<PgUrl, PgUrlError> {
        let bad = |why: String| PgUrlError(format!("DATABASE_URL: {why}"));
        let url = url::Url::parse(raw.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(bad("expected postgres:// or postgresql://".into()));
        }
        let mut kept = url.clone();
        kept.set_query(None);
        let (mut schema, mut pool_size, mut root_cert, mut ssl) = (None, DEFAULT_POOL, None, None);
        let mut ignored = Vec::new();
        {
            let mut query = kept.query_pairs_mut();
            for (key, value) in url.query_pairs() {
                match key.as_ref() {
                    "schema" => schema = Some(value.to_string()),
                    "connection_limit" => {
                        pool_size = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            bad(format!("connection_limit: expected a positive number, got {value}"))
                        })?
                    }
                    "sslmode" => ssl = Some(value.to_string()),
                    "sslrootcert" => root_cert = Some(value.to_string()),
                    k if PASSED.contains(&k) => {
                        query.append_pair(k, &value);
                    }
                    // Prisma's own (pgbouncer, pool_timeout, sslaccept, ...) or a typo:
                    // named in the log, never fatal.
                    k => ignored.push(k.to_string()),
                }
            }
        }
        // The form encoding above writes a space as '+', which tokio-postgres
        // reads as a '+' (so `options=-c%20x%3Dy` failed); a '+' in a value
        // was written as %2B, so every '+' here is a space.
        if let Some(query) = kept.query().map(|q| q.replace('+', "%20")) {
            kept.set_query(Some(&query));
        }
        let mut text = kept.to_string();
        if text.ends_with('?') {
            text.pop();
        }
        let mut config: tokio_postgres::Config = text.parse().map_err(|e| bad(format!("{e}")))?;
        config.ssl_mode(match ssl.as_deref() {
            None | Some("disable") | Some("allow") => SslMode::Disable,
            Some("prefer") => SslMode::Prefer,
            Some("require" | "verify-ca" | "verify-full") => SslMode::Require,
            Some(other) => return Err(bad(format!("sslmode: unknown value {other}"))),
        });
        let schema = schema.unwrap_or_else(|| "public".into());
        if !valid_schema(&schema) {
            return Err(bad(format!("schema: '{schema}' must be letters, digits and underscores")));
        }
        // Every connection works in the schema: unqualified names resolve there.
        let search_path = format!("-c search_path=\"{schema}\"");
        let options = match config.get_options() {
            Some(o) => format!("{o} {search_path}"),
            None => search_path,
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("frontdesk");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        Ok(PgUrl { config, schema, pool_size, root_cert, ignored })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn prisma_url_with_schema_and_unknown_parameters() {
        let u = PgUrl::parse(
            "postgresql://db_user:db_password@localhost:5433/app_db?schema=public&pgbouncer=true&connection_limit=5",
        )
        .unwrap();
        assert_eq!(u.schema, "public");
        assert_eq!(u.pool_size, 5);
        assert_eq!(u.ignored, ["pgbouncer"]);
        assert_eq!(u.config.get_user(), Some("db_user"));
        assert_eq!(u.config.get_password(), Some(&b"db_password"[..]));
        assert_eq!(u.config.get_dbname(), Some("app_db"));
        assert_eq!(u.config.get_ports(), [5433]);
        assert_eq!(u.config.get_options(), Some("-c search_path=\"public\""));
        assert_eq!(u.config.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn plain_postgres_url_and_sslmode() {
        let u = PgUrl::parse("postgres://postgres@127.0.0.1/test?sslmode=verify-full").unwrap();
        assert_eq!(u.schema, "public");
        assert_eq!(u.pool_size, DEFAULT_POOL);
        assert_eq!(u.config.get_ssl_mode(), SslMode::Require);
        assert!(PgUrl::parse("postgres://h/db?schema=a;drop").is_err());
        assert!(PgUrl::parse("postgres://h/db?sslmode=sometimes").is_err());
        assert!(PgUrl::parse("mysql://h/db").is_err());
    }

    #[test]
    fn options_with_spaces_and_plus_signs_pass_through() {
        let u = PgUrl::parse("postgres://h/db?options=-c%20synchronous_commit%3Doff&application_name=a%2Bb")
            .unwrap();
        assert_eq!(u.config.get_options(), Some("-c synchronous_commit=off -c search_path=\"public\""));
        assert_eq!(u.config.get_application_name(), Some("a+b"));
    }
}

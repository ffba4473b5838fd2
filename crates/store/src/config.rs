//! Where the database is and how long the store waits for it.
//!
//! A PostgreSQL URL is read the way libpq reads it, so that operators keep the URLs they have:
//! `sslmode` `disable`, `prefer` (the default), `require`, `verify-ca` and `verify-full`, with
//! `sslrootcert` (a PEM file, or `system` for the machine's trust store); several hosts
//! (`postgres://u@a:5432,b:5432/db?target_session_attrs=read-write`); Unix sockets
//! (`postgres://u@/db?host=/var/run/postgresql`); libpq's `keepalives_count` as well as
//! tokio-postgres's `keepalives_retries`. Any other parameter tokio-postgres does not know stops
//! the start with its name, rather than being ignored.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::SslMode;

use crate::StoreError;

/// How long the server waits, beyond PostgreSQL's own `statement_timeout`, for the answer to a
/// statement before it gives up on the connection. PostgreSQL cancels a statement at the timeout
/// and says so; silence for longer means the database or the network has stopped answering.
pub const NO_ANSWER_GRACE: Duration = Duration::from_millis(500);

/// The settings the store needs.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `postgres://...` or `postgresql://...` for PostgreSQL; anything else is a SQLite file path
    /// (an optional `sqlite://` prefix is removed).
    pub database_url: String,
    /// The most connections open at once (for PostgreSQL, shared out between the handles made
    /// with [`crate::Store::for_worker`]).
    pub pool_size: u32,
    /// How long a request waits for a connection (connecting included) before the store reports
    /// itself unavailable.
    pub acquire_timeout: Duration,
    /// PostgreSQL: the longest a statement may run (lock waits included) before PostgreSQL
    /// cancels it; the server waits [`NO_ANSWER_GRACE`] more for the answer, then gives up on the
    /// connection. (On SQLite, waiting for another process's write lock is bounded by the
    /// acquire timeout.)
    pub statement_timeout: Duration,
}

impl StoreConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            pool_size: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
    }

    pub(crate) fn sqlite_path(&self) -> &Path {
        let url = &self.database_url;
        Path::new(
            url.strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url),
        )
    }

    /// The longest the server waits for the answer to one PostgreSQL statement.
    pub(crate) fn answer_deadline(&self) -> Duration {
        self.statement_timeout + NO_ANSWER_GRACE
    }
}

/// How the server checks the certificate of a PostgreSQL server it talks TLS to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verify {
    /// libpq's `prefer` and `require` (without `sslrootcert`): encrypted, the certificate is not
    /// checked.
    Nothing,
    /// `verify-ca`, or `require` with `sslrootcert`: the chain must lead to a trusted root.
    Chain(Roots),
    /// `verify-full`: the chain, and the certificate must name the host.
    ChainAndHost(Roots),
}

/// Where trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    File(PathBuf),
    System,
}

/// A PostgreSQL server to connect to.
#[derive(Debug, Clone)]
pub(crate) struct PgTarget {
    pub config: tokio_postgres::Config,
    /// `None`: never TLS (`sslmode=disable`).
    pub tls: Option<Verify>,
}

/// The libpq spellings tokio-postgres does not read, removed from the query string and applied
/// here.
#[derive(Debug, Default)]
struct LibpqOnly {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Percent-decoding for the few query values that may be paths.
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl PgTarget {
    /// Reads a PostgreSQL URL, and fills in what it leaves out so that no wait is unbounded:
    /// `connect_timeout` (the acquire timeout shared between the hosts), TCP keepalives (an idle
    /// connection to a vanished host is found dead within about 25 s), `tcp_user_timeout` (10 s
    /// of unacknowledged data closes the connection), and `statement_timeout` in the startup
    /// options (no extra round trip).
    pub fn parse(config: &StoreConfig) -> Result<Self, StoreError> {
        let url = &config.database_url;
        let invalid = |why: String| StoreError::Internal(format!("invalid DATABASE_URL: {why}"));
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let mut libpq = LibpqOnly::default();
        let mut given = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            given.push(name.to_owned());
            match name {
                "sslmode" => libpq.sslmode = Some(decode(value)),
                "sslrootcert" => libpq.sslrootcert = Some(decode(value)),
                "keepalives_count" => kept.push(format!("keepalives_retries={value}")),
                _ => kept.push(pair.to_owned()),
            }
        }
        let rewritten = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut pg =
            tokio_postgres::Config::from_str(&rewritten).map_err(|e| invalid(e.to_string()))?;
        let has = |name: &str| given.iter().any(|g| g == name);

        let tls = match (libpq.sslmode.as_deref(), libpq.sslrootcert.as_deref()) {
            (Some("disable"), _) => None,
            (None | Some("prefer"), _) => Some(Verify::Nothing),
            (Some("require"), None) => Some(Verify::Nothing),
            (Some("require" | "verify-ca"), Some(root)) => Some(Verify::Chain(roots(root))),
            (Some("verify-full"), Some(root)) => Some(Verify::ChainAndHost(roots(root))),
            (Some(mode @ ("verify-ca" | "verify-full")), None) => {
                return Err(invalid(format!(
                    "sslmode={mode} needs sslrootcert (a PEM file, or `system`)"
                )))
            }
            (Some(other), _) => {
                return Err(invalid(format!(
                    "sslmode={other} is not supported; use disable, prefer, require, verify-ca or verify-full"
                )))
            }
        };
        pg.ssl_mode(match tls {
            None => SslMode::Disable,
            Some(Verify::Nothing) if libpq.sslmode.as_deref() != Some("require") => SslMode::Prefer,
            Some(_) => SslMode::Require,
        });

        let hosts = pg.get_hosts().len().max(1);
        if !has("connect_timeout") {
            let share = config.acquire_timeout / u32::try_from(hosts).unwrap_or(u32::MAX);
            pg.connect_timeout(share.max(Duration::from_millis(100)));
        }
        if !has("keepalives_idle") {
            pg.keepalives_idle(Duration::from_secs(10));
        }
        if !has("keepalives_interval") {
            pg.keepalives_interval(Duration::from_secs(5));
        }
        if !has("keepalives_retries") && !has("keepalives_count") {
            pg.keepalives_retries(3);
        }
        if !has("tcp_user_timeout") {
            pg.tcp_user_timeout(Duration::from_secs(10));
        }
        if !has("application_name") {
            pg.application_name("clients-api");
        }
        let statement_timeout = format!(
            "-c statement_timeout={}",
            config.statement_timeout.as_millis()
        );
        let options = match pg.get_options() {
            Some(own) if !own.is_empty() => format!("{own} {statement_timeout}"),
            _ => statement_timeout,
        };
        pg.options(options);
        Ok(PgTarget { config: pg, tls })
    }
}

fn roots(value: &str) -> Roots {
    if value == "system" {
        Roots::System
    } else {
        Roots::File(PathBuf::from(value))
    }
}

#[cfg(test)]
mod tests {
    use tokio_postgres::config::{Host, TargetSessionAttrs};

    use super::*;

    fn target(url: &str) -> PgTarget {
        let mut config = StoreConfig::new(url);
        config.acquire_timeout = Duration::from_secs(4);
        config.statement_timeout = Duration::from_millis(1500);
        PgTarget::parse(&config).unwrap()
    }

    #[test]
    fn bounds_are_filled_in_unless_the_url_sets_its_own() {
        let t = target("postgres://u@h/db");
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(4))
        );
        assert_eq!(t.config.get_keepalives_idle(), Duration::from_secs(10));
        assert_eq!(t.config.get_keepalives_retries(), Some(3));
        assert_eq!(
            t.config.get_tcp_user_timeout(),
            Some(&Duration::from_secs(10))
        );
        assert_eq!(t.config.get_options(), Some("-c statement_timeout=1500"));
        assert_eq!(t.tls, Some(Verify::Nothing));
        assert_eq!(t.config.get_ssl_mode(), SslMode::Prefer);

        let t = target("postgres://u@h/db?connect_timeout=1&keepalives_idle=60&keepalives_count=7&options=-c%20work_mem%3D8MB");
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(1))
        );
        assert_eq!(t.config.get_keepalives_idle(), Duration::from_secs(60));
        assert_eq!(t.config.get_keepalives_retries(), Some(7));
        assert_eq!(
            t.config.get_options(),
            Some("-c work_mem=8MB -c statement_timeout=1500")
        );
    }

    #[test]
    fn several_hosts_share_the_connect_timeout_and_may_ask_for_the_primary() {
        let t =
            target("postgres://u@127.0.0.1:6001,127.0.0.1:6002/db?target_session_attrs=read-write");
        assert_eq!(t.config.get_hosts().len(), 2);
        assert_eq!(t.config.get_ports(), &[6001, 6002]);
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
        assert_eq!(
            t.config.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
    }

    #[test]
    fn unix_sockets_are_hosts_that_are_paths() {
        let t = target("postgres://postgres@/db?host=%2Fvar%2Frun%2Fpostgresql");
        assert_eq!(
            t.config.get_hosts(),
            &[Host::Unix(PathBuf::from("/var/run/postgresql"))]
        );
    }

    #[test]
    fn sslmodes_read_as_libpq_reads_them() {
        assert_eq!(target("postgres://u@h/db?sslmode=disable").tls, None);
        let require = target("postgres://u@h/db?sslmode=require");
        assert_eq!(require.tls, Some(Verify::Nothing));
        assert_eq!(require.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(
            target("postgres://u@h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem").tls,
            Some(Verify::Chain(Roots::File("/etc/ca.pem".into())))
        );
        assert_eq!(
            target("postgres://u@h/db?sslmode=verify-full&sslrootcert=system").tls,
            Some(Verify::ChainAndHost(Roots::System))
        );
        for bad in [
            "postgres://u@h/db?sslmode=verify-full",
            "postgres://u@h/db?sslmode=allow",
            "postgres://u@h/db?no_such_parameter=1",
        ] {
            let error = PgTarget::parse(&StoreConfig::new(bad)).unwrap_err();
            assert!(
                error.to_string().contains("invalid DATABASE_URL"),
                "{bad}: {error}"
            );
        }
    }
}

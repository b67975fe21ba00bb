//! Settings from the environment, with defaults that are safe on a fresh machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::Backend;

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: String,
    pub database_url: String,
    /// A PostgreSQL streaming replica for reads that need not see a write just made:
    /// analytics, exports, FHIR searches and charts (`ONSET_READ_DATABASE_URL`).
    pub read_database_url: Option<String>,
    pub jwt_secret: Vec<u8>,
    /// Key of the research export's subject ids; exports refuse to run without it.
    pub export_key: Option<Vec<u8>>,
    pub cors_origins: Vec<String>,
    /// Researchers never see a count between 1 and `min_cell - 1`.
    pub min_cell: u32,
    /// When set, PATCH and DELETE without `If-Match` are refused with 428.
    pub require_if_match: bool,
    /// Login attempts allowed per minute, per account and per client address.
    pub login_per_account_per_minute: u32,
    pub login_per_address_per_minute: u32,
    pub pool_size: u32,
    /// Exports running at once; one more is refused with 429 and `Retry-After`.
    pub export_concurrency: u32,
    /// An export whose client has not taken a chunk for this long is dropped.
    pub export_send_timeout: Duration,
    /// The most a request may take from its first byte to its answer's head; a body that
    /// trickles in slower is cut off with 408.
    pub request_timeout: Duration,
    /// Peers whose `X-Forwarded-For` is believed; no header is read from anyone else.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Apply pending migrations at start (the default). Off when the service runs as a
    /// role that may not change the schema: it then refuses to start on an old schema.
    pub migrate_on_start: bool,
    /// How often the scheduler opens and closes due ratings' windows.
    pub scheduler_tick: Duration,
    /// Where patients open their links: `{public_url}/r/#<token>`.
    pub public_url: String,
    /// Patient-link requests allowed per minute per client address.
    pub self_report_per_address_per_minute: u32,
    /// Lets webhooks use http and reach loopback and private addresses (tests, on-premise).
    pub webhook_allow_private: bool,
    /// How often due webhook deliveries are sent.
    pub webhook_tick: Duration,
    /// How long a receiver has to answer a delivery.
    pub webhook_timeout: Duration,
    /// Days a settled webhook message and its deliveries are kept (the delivery log).
    pub webhook_retention_days: u32,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://onset.db";
const MIN_SECRET_BYTES: usize = 32;

/// `DATABASE_URL`, or `./onset.db` when it is unset.
pub fn database_url() -> String {
    env("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())
}

/// `ONSET_EXPORT_KEY`, if set; at least 32 bytes.
pub fn export_key() -> Result<Option<Vec<u8>>, String> {
    let key = env("ONSET_EXPORT_KEY").map(String::into_bytes);
    if key.as_ref().is_some_and(|k| k.len() < MIN_SECRET_BYTES) {
        return Err(format!("ONSET_EXPORT_KEY must be at least {MIN_SECRET_BYTES} bytes"));
    }
    Ok(key)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parsed<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match env(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| format!("{name}={v:?} is not a valid value")),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let database_url = database_url();
        let backend = Backend::from_url(&database_url);
        let jwt_secret = match env("ONSET_JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_SECRET_BYTES => secret.into_bytes(),
            Some(_) => {
                return Err(format!("ONSET_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"));
            }
            None => match &backend {
                Backend::Sqlite(path) => secret_beside(path)?,
                Backend::Postgres(_) => {
                    return Err("ONSET_JWT_SECRET is required with PostgreSQL: every instance \
                                must share it (at least 32 bytes)"
                        .into());
                }
            },
        };
        let export_key = export_key()?;
        let read_database_url = env("ONSET_READ_DATABASE_URL").filter(|u| !u.trim().is_empty());
        if read_database_url.is_some() && !(matches!(backend, Backend::Postgres(_)) && read_database_url.as_deref().is_some_and(|u| matches!(Backend::from_url(u), Backend::Postgres(_)))) {
            return Err("ONSET_READ_DATABASE_URL is a PostgreSQL replica of a PostgreSQL DATABASE_URL: SQLite has no replicas".into());
        }
        let cors_origins: Vec<String> = env("ONSET_CORS_ORIGINS")
            .map(|v| v.split(',').map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect())
            .unwrap_or_default();
        if let Some(bad) = cors_origins.iter().find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://"))) {
            return Err(format!("ONSET_CORS_ORIGINS: {bad:?} is not an origin such as https://app.example.org"));
        }
        let cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(2);
        Ok(Config {
            bind: env("ONSET_BIND").unwrap_or_else(|| DEFAULT_BIND.to_string()),
            database_url,
            read_database_url,
            jwt_secret,
            export_key,
            cors_origins,
            min_cell: env_parsed("ONSET_MIN_CELL", 11)?,
            require_if_match: env_parsed("ONSET_REQUIRE_IF_MATCH", false)?,
            login_per_account_per_minute: env_parsed("ONSET_LOGIN_PER_ACCOUNT_PER_MINUTE", 10)?,
            login_per_address_per_minute: env_parsed("ONSET_LOGIN_PER_ADDRESS_PER_MINUTE", 300)?,
            pool_size: env_parsed("ONSET_DB_POOL_SIZE", (cores * 4).max(8))?,
            export_concurrency: env_parsed("ONSET_EXPORT_CONCURRENCY", 2)?,
            export_send_timeout: Duration::from_secs(env_parsed("ONSET_EXPORT_SEND_TIMEOUT_SECS", 60)?),
            request_timeout: Duration::from_secs(env_parsed("ONSET_REQUEST_TIMEOUT_SECS", 30)?),
            trusted_proxies: trusted_proxies(env("ONSET_TRUSTED_PROXIES").as_deref())?,
            migrate_on_start: env_parsed("ONSET_MIGRATE_ON_START", true)?,
            public_url: env("ONSET_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string()).unwrap_or_else(|| format!("http://{}", env("ONSET_BIND").unwrap_or_else(|| DEFAULT_BIND.to_string()))),
            self_report_per_address_per_minute: env_parsed("ONSET_SELF_REPORT_PER_ADDRESS_PER_MINUTE", 60)?,
            webhook_allow_private: env_parsed("ONSET_WEBHOOK_ALLOW_PRIVATE", false)?,
            webhook_tick: Duration::from_millis(env_parsed::<u64>("ONSET_WEBHOOK_TICK_MS", 1000)?.max(50)),
            webhook_timeout: Duration::from_secs(env_parsed::<u64>("ONSET_WEBHOOK_TIMEOUT_SECS", 10)?.clamp(1, 60)),
            webhook_retention_days: env_parsed::<u32>("ONSET_WEBHOOK_RETENTION_DAYS", 7)?.clamp(1, 3650),
            scheduler_tick: Duration::from_secs(env_parsed::<u64>("ONSET_SCHEDULER_TICK_SECS", 30)?.max(1)),
        })
    }
}

/// `ONSET_TRUSTED_PROXIES`: addresses or networks (`10.0.0.0/8, 2001:db8::1`), comma-separated.
pub fn trusted_proxies(value: Option<&str>) -> Result<Vec<ipnet::IpNet>, String> {
    let entries = value.unwrap_or("").split(',').map(str::trim).filter(|e| !e.is_empty());
    entries
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("ONSET_TRUSTED_PROXIES: {entry:?} is not an address or a network such as 10.0.0.0/8"))
        })
        .collect()
}

/// Without ONSET_JWT_SECRET on SQLite, a random secret is made once and kept beside the
/// database file (mode 0600), so tokens survive a restart with nothing to configure.
fn secret_beside(db_path: &str) -> Result<Vec<u8>, String> {
    let path: PathBuf = if db_path == ":memory:" {
        return Ok(random_secret().into_bytes());
    } else {
        let db = Path::new(db_path);
        let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        db.with_file_name(format!("{name}.jwt-secret"))
    };
    refuse_if_shared(&path)?;
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if existing.len() >= MIN_SECRET_BYTES {
            return Ok(existing.into_bytes());
        }
    }
    let secret = random_secret();
    write_private(&path, &secret).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(secret.into_bytes())
}

/// A secret that group or others can read is no secret: refuse to start rather than sign
/// tokens with it.
fn refuse_if_shared(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "{} can be read by other users (mode {:o}): run `chmod 600 {}` or set ONSET_JWT_SECRET",
                    path.display(),
                    meta.permissions().mode() & 0o777,
                    path.display()
                ));
            }
        }
    }
    Ok(())
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

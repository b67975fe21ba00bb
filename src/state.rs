//! What every handler shares: the pool, the settings, the keys and the limits.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::auth::seal::Sealer;
use crate::auth::throttle::{AddressThrottle, LoginThrottle};
use crate::auth::token::TokenKeys;
use crate::clock::Clock;
use crate::delivery::Sender;
use crate::config::Config;
use crate::db::{Db, Pool};
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

pub struct AppState {
    pub pool: Pool,
    /// Where reads that need not see a write just made go: a replica's pool when
    /// `ONSET_READ_DATABASE_URL` names one, the primary's otherwise.
    pub read_pool: Pool,
    pub config: Config,
    pub tokens: TokenKeys,
    /// At most one argon2 hash per core at a time: login floods queue here instead of
    /// starving the blocking pool that database work also needs.
    pub hashing: Arc<Semaphore>,
    pub throttle: LoginThrottle,
    /// Patient-link requests per client address.
    pub self_report_throttle: AddressThrottle,
    /// Password reset links presented, per client address.
    pub reset_throttle: AddressThrottle,
    /// One permit per export allowed to run at once (`ONSET_EXPORT_CONCURRENCY`).
    pub exports: Arc<Semaphore>,
    pub metrics: Metrics,
    /// The time the scheduler and patient links go by (tests move it).
    pub clock: Clock,
    /// Sends webhook deliveries.
    pub webhooks: Sender,
    /// Seals the webhook secrets stored in the database.
    pub sealer: Arc<Sealer>,
    /// Groups the audit events that requests append at once on the primary (PostgreSQL).
    pub audit: Arc<crate::store::audit::Appender>,
    /// Trajectories as last rendered, answered again while the course is unchanged.
    pub renderings: Arc<crate::api::renderings::Renderings>,
}

impl AppState {
    pub fn new(pool: Pool, read_pool: Option<Pool>, config: Config) -> AppState {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        AppState {
            tokens: TokenKeys::new(&config.jwt_secret),
            throttle: LoginThrottle::new(config.login_per_account_per_minute, config.login_per_address_per_minute),
            self_report_throttle: AddressThrottle::new(config.self_report_per_address_per_minute),
            reset_throttle: AddressThrottle::new(config.login_per_account_per_minute),
            hashing: Arc::new(Semaphore::new(cores)),
            exports: Arc::new(Semaphore::new(config.export_concurrency as usize)),
            metrics: Metrics::default(),
            clock: Clock::default(),
            webhooks: Sender::new(config.webhook_allow_private, config.webhook_timeout),
            sealer: Arc::new(Sealer::new(&config.jwt_secret)),
            audit: Arc::default(),
            renderings: Arc::default(),
            read_pool: read_pool.unwrap_or_else(|| pool.clone()),
            pool,
            config,
        }
    }

    /// Runs one unit of database work on a blocking thread with a pooled connection.
    pub async fn db<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> ApiResult<T> + Send + 'static,
    {
        let (pool, audit) = (self.pool.clone(), self.audit.clone());
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            let (done, waiting) = crate::store::audit::grouping(&audit, || work(&mut conn));
            audit.append_waiting(conn, &pool, waiting)?;
            done
        })
        .await?
    }

    /// Runs `work` for an authenticated caller: the account is checked first, in the same
    /// blocking hop and on the same connection (see `Caller::check_account`).
    pub async fn db_as<T, F>(&self, caller: &crate::auth::Caller, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> ApiResult<T> + Send + 'static,
    {
        self.db_checked(caller, false, work).await
    }

    /// Reads for an authenticated caller that may lag the primary (analytics, exports,
    /// FHIR searches, charts): the account is checked on the primary, then `work` runs on
    /// the read pool. Whatever `work` returns is audited by the caller on the primary
    /// before it is answered.
    pub async fn read_as<T, F>(&self, caller: &crate::auth::Caller, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> ApiResult<T> + Send + 'static,
    {
        self.read_pool_as(caller, move |pool| work(&mut *pool.get()?)).await
    }

    /// As `read_as`, for work that reads on more than one connection of the read pool at once.
    pub async fn read_pool_as<T, F>(&self, caller: &crate::auth::Caller, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Pool) -> ApiResult<T> + Send + 'static,
    {
        self.db_as(caller, |_| Ok(())).await?;
        let pool = self.read_pool.clone();
        actix_web::web::block(move || work(&pool)).await?
    }

    /// As `db_as`, for what an account may do before enrolling in MFA its clinic requires:
    /// read itself, enrol, change its password.
    pub async fn db_as_enrolling<T, F>(&self, caller: &crate::auth::Caller, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> ApiResult<T> + Send + 'static,
    {
        self.db_checked(caller, true, work).await
    }

    async fn db_checked<T, F>(&self, caller: &crate::auth::Caller, enrolling: bool, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> ApiResult<T> + Send + 'static,
    {
        let caller = caller.clone();
        self.db(move |conn| {
            caller.check_account(conn, enrolling)?;
            work(conn)
        })
        .await
    }

    /// One tick of the scheduler at the clock's time: windows opened and closed, and
    /// REMS forms past their deadline alerted.
    pub async fn tick(&self) -> ApiResult<crate::store::due::Tick> {
        let now = self.clock.now();
        self.db(move |conn| {
            let moved = crate::store::due::tick(conn, now)?;
            let overdue = crate::db::write_tx(conn, |conn| crate::store::rems::raise_overdue(conn, now))?;
            Ok(crate::store::due::Tick { rems_overdue: overdue, ..moved })
        })
        .await
    }

    /// Runs a password hash or verification on a blocking thread, one per core at most.
    pub async fn hashing<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _permit = self.hashing.acquire().await.map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(actix_web::web::block(work).await?)
    }
}

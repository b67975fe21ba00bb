//! onset: clinical outcome tracking for ketamine and esketamine treatment of OCD.
//!
//! Data flows one way: `api` → `auth` → `store` → `db`, and `api`/`store` → `domain`.
//! The domain never touches HTTP or SQL; handlers never build SQL, open a transaction or
//! name a connection. Every write of a clinical record goes through `store::records`.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod error;
pub mod export;
pub mod metrics;
pub mod state;
pub mod store;

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};

use crate::config::Config;
use crate::state::AppState;

fn cors(config: &Config) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(api::allowed_methods())
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_MATCH, header::HeaderName::from_static("idempotency-key")])
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER, api::middleware::REQUEST_ID])
        .max_age(3600);
    for origin in &config.cors_origins {
        cors = if origin == "*" { cors.allow_any_origin() } else { cors.allowed_origin(origin) };
    }
    cors
}

/// The whole application; `main` and the tests build it the same way.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error, InitError = ()>,
> {
    let cors = cors(&state.config);
    App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(api::MAX_BODY_BYTES))
        .configure(api::routes)
        .wrap(ErrorHandlers::new().default_handler(api::middleware::to_problem))
        // Clinical data must not sit in shared or browser caches, be sniffed as another
        // type, or leak its URL in Referer.
        .wrap(
            DefaultHeaders::new()
                .add((header::CACHE_CONTROL, "no-store"))
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .add((header::REFERRER_POLICY, "no-referrer")),
        )
        .wrap(cors)
        .wrap(from_fn(api::middleware::observe))
        .wrap(from_fn(api::middleware::deadline))
}

/// Connects, migrates and builds the shared state.
pub fn prepare(config: Config) -> Result<web::Data<AppState>, String> {
    crate::domain::definitions::check_all().map_err(|faults| format!("the built-in instrument definitions are not valid: {faults}"))?;
    let pool = db::connect(&config.database_url, config.pool_size)?;
    let mut conn = pool.get().map_err(|e| format!("cannot get a database connection: {e}"))?;
    if config.migrate_on_start {
        let applied = db::migrate(&mut conn)?;
        if applied > 0 {
            tracing::info!(applied, "database migrated");
        }
    } else if db::pending_migrations(&mut conn)? > 0 {
        return Err("the database schema is older than this onset: run `onset migrate` as the database's owner".into());
    }
    if let Some(rows) = crate::store::summaries::rebuild_if_empty(&mut conn).map_err(|e| format!("cannot derive the onset summaries: {e}"))? {
        tracing::info!(rows, "onset summaries derived from the records");
    }
    chain_legacy_audit(&mut conn)?;
    // The replica is read, never migrated: it follows the primary's schema by streaming.
    let read_pool = match &config.read_database_url {
        Some(url) => Some(db::connect(url, config.pool_size)?),
        None => None,
    };
    let state = AppState::new(pool, read_pool, config);
    let sealed = crate::store::webhooks::seal_stored_secrets(&mut conn, &state.sealer).map_err(|e| format!("cannot seal the webhook secrets: {e}"))?;
    if sealed > 0 {
        tracing::info!(sealed, "webhook secrets stored in the clear are now sealed");
    }
    drop(conn);
    Ok(web::Data::new(state))
}

/// After the migrations: the audit events written before the hash chain existed are
/// chained, once (see `store::audit::chain_legacy`). Every command that migrates runs it.
pub fn chain_legacy_audit(conn: &mut db::Db) -> Result<(), String> {
    let chained = crate::store::audit::chain_legacy(conn).map_err(|e| format!("cannot chain the audit log: {e}"))?;
    if chained > 0 {
        tracing::info!(chained, "audit events written before the hash chain are chained");
    }
    Ok(())
}

/// How often expired refresh tokens and idempotency keys are purged.
const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Purges what has expired, at start and then hourly, for as long as the server runs.
async fn housekeeping(state: web::Data<AppState>) {
    let mut every = actix_web::rt::time::interval(HOUSEKEEPING_EVERY);
    loop {
        every.tick().await;
        let retention = chrono::Duration::days(i64::from(state.config.webhook_retention_days));
        match state.db(move |conn| store::housekeeping::purge(conn, store::now(), retention)).await {
            Ok(purged) => tracing::info!(
                refresh_tokens = purged.refresh_tokens,
                idempotency_keys = purged.idempotency_keys,
                webhook_deliveries = purged.webhook_deliveries,
                webhook_messages = purged.webhook_messages,
                "expired entries purged"
            ),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; it runs again within the hour"),
        }
    }
}

/// Moves due ratings through their windows every `ONSET_SCHEDULER_TICK_SECS`, for as long
/// as the server runs. Several instances may tick at once (see `store::due::tick`).
async fn scheduler(state: web::Data<AppState>) {
    let mut every = actix_web::rt::time::interval(state.config.scheduler_tick);
    loop {
        every.tick().await;
        match state.tick().await {
            Ok(moved) if moved.opened + moved.missed + moved.reminded > 0 => {
                tracing::info!(opened = moved.opened, missed = moved.missed, reminded = moved.reminded, "due ratings moved")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler tick failed; the next one tries again"),
        }
    }
}

/// Starts a round of webhook deliveries every `ONSET_WEBHOOK_TICK_MS`, for as long as the
/// server runs. A round is not waited for: one still waiting on a slow receiver must not
/// hold back the next round's deliveries to every other endpoint (the sender bounds how
/// many of one endpoint's deliveries are in flight).
async fn dispatcher(state: web::Data<AppState>) {
    let mut every = actix_web::rt::time::interval(state.config.webhook_tick);
    loop {
        every.tick().await;
        let state = state.clone();
        actix_web::rt::spawn(async move {
            if let Err(e) = state.webhooks.run_once(&state).await {
                tracing::warn!(error = %e, "webhook delivery round failed; the next one tries again");
            }
        });
    }
}

/// Starts serving on an already bound listener (tests bind port 0).
pub fn start(listener: TcpListener, state: web::Data<AppState>, workers: usize) -> std::io::Result<Server> {
    // Blocking threads beyond the pool's connections would only wait for one; each idle
    // thread's malloc arena still costs resident memory.
    let blocking_threads = (state.config.pool_size as usize).div_ceil(workers) + 2;
    let state_for_housekeeping = state.clone();
    let server = HttpServer::new(move || build_app(state.clone()))
        .listen(listener)?
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads)
        .client_request_timeout(std::time::Duration::from_secs(10))
        .shutdown_timeout(10)
        .run();
    actix_web::rt::spawn(scheduler(state_for_housekeeping.clone()));
    actix_web::rt::spawn(dispatcher(state_for_housekeeping.clone()));
    actix_web::rt::spawn(housekeeping(state_for_housekeeping));
    Ok(server)
}

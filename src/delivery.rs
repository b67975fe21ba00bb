//! Sends webhook deliveries: claims what is due, endpoint by endpoint, signs each message
//! (Standard Webhooks), posts it over TLS, and records the outcome. Runs beside the
//! scheduler in the server.
//!
//! Three rules keep a webhook from being turned against onset's own network or against
//! other clinics:
//! - the address connected to is the address checked: a name is resolved once, its
//!   addresses are checked, and the connection is made to those (no second lookup that
//!   a rebinding DNS server could answer differently); an IP literal is checked too;
//! - redirects are never followed: a 3xx is a failed attempt, so an endpoint cannot send
//!   the signed body on to an internal address;
//! - endpoints are served side by side: at most `PER_ENDPOINT` deliveries of one endpoint
//!   in flight, claimed per endpoint, so one clinic's stalled receiver never holds up
//!   another clinic's `alert.raised`; an endpoint that keeps failing is left alone for a
//!   while (the circuit breaker, `domain::webhooks::pause_after`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ConnectorService};
use actix_web::dev::Service;
use actix_web::http::Uri;
use actix_web::rt::net::TcpStream;
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::domain::webhooks::{check_url, is_public, secret_key, signature};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::webhooks::{self, Job, Outcome};

/// Deliveries of one endpoint in flight at once; one while its breaker has tripped.
const PER_ENDPOINT: usize = 4;

/// The one answer for an address onset will not send to, whether the name is private,
/// resolves to a private address or does not resolve at all: the difference would tell
/// an admin what the service's network holds.
pub const UNREACHABLE: &str = "must be an https URL whose host resolves only to public addresses";

pub struct Sender {
    tls: Arc<rustls::ClientConfig>,
    allow_private: bool,
    timeout: Duration,
    /// Deliveries in flight per endpoint, across the overlapping rounds of this process.
    in_flight: Mutex<HashMap<Uuid, usize>>,
}

impl Sender {
    /// TLS with the Mozilla roots (webpki-roots) and ring's cryptography: nothing from the
    /// system is needed.
    pub fn new(allow_private: bool, timeout: Duration) -> Sender {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Sender { tls: Arc::new(tls), allow_private, timeout, in_flight: Mutex::default() }
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Claims what is due at the clock's time, endpoint by endpoint, sends it all side by
    /// side and records each outcome; returns how many were delivered. Rounds may overlap
    /// (the dispatcher starts one every tick): the in-flight count bounds each endpoint.
    pub async fn run_once(&self, state: &AppState) -> ApiResult<usize> {
        let now = state.clock.now();
        let endpoints = state.db(move |conn| webhooks::due_endpoints(conn, now)).await?;
        let mut jobs = Vec::new();
        for endpoint in endpoints {
            let slots = self.reserve(endpoint.id, if endpoint.failing { 1 } else { PER_ENDPOINT });
            if slots == 0 {
                continue;
            }
            let sealer = state.sealer.clone();
            let claimed = state.db(move |conn| webhooks::claim(conn, endpoint.id, now, slots as i64, &sealer)).await;
            let claimed_count = claimed.as_ref().map_or(0, Vec::len);
            self.release(endpoint.id, slots - claimed_count);
            jobs.extend(claimed?);
        }
        if jobs.is_empty() {
            return Ok(0);
        }
        let client = awc::Client::builder()
            .connector(awc::Connector::new().connector(CheckedConnector::new(self.allow_private)).rustls_0_23(self.tls.clone()))
            .disable_redirects()
            .timeout(self.timeout)
            .finish();
        let sends = jobs.into_iter().map(|job| {
            let client = &client;
            async move {
                let outcome = self.send(client, &job, state.clock.now().timestamp()).await;
                self.release(job.endpoint, 1);
                let delivered = matches!(outcome, Outcome::Delivered { .. });
                let now = state.clock.now();
                state.db(move |conn| webhooks::finish(conn, &job, &outcome, now)).await.map(|_| usize::from(delivered))
            }
        });
        let recorded = futures_util::future::join_all(sends).await;
        recorded.into_iter().sum()
    }

    /// Takes up to `want` in-flight places for the endpoint; returns how many it got.
    fn reserve(&self, endpoint: Uuid, want: usize) -> usize {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let used = in_flight.entry(endpoint).or_insert(0);
        let slots = want.saturating_sub(*used);
        *used += slots;
        slots
    }

    fn release(&self, endpoint: Uuid, places: usize) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(used) = in_flight.get_mut(&endpoint) {
            *used = used.saturating_sub(places);
            if *used == 0 {
                in_flight.remove(&endpoint);
            }
        }
    }

    async fn send(&self, client: &awc::Client, job: &Job, timestamp: i64) -> Outcome {
        let failed = |error: String| Outcome::Failed { status: None, error };
        let Some(key) = job.secret.as_deref().and_then(secret_key) else { return failed("unreadable secret: give the endpoint a new one".into()) };
        if check_url(&job.url, self.allow_private).is_err() {
            return failed(UNREACHABLE.into());
        }
        let id = job.message.to_string();
        let sent = client
            .post(&job.url)
            .insert_header(("content-type", "application/json"))
            .insert_header(("user-agent", concat!("onset/", env!("CARGO_PKG_VERSION"))))
            .insert_header(("webhook-id", id.as_str()))
            .insert_header(("webhook-timestamp", timestamp.to_string()))
            .insert_header(("webhook-signature", signature(&key, &id, timestamp, &job.body)))
            .send_body(job.body.clone())
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Outcome::Delivered { status: response.status().as_u16() },
            Ok(response) if response.status().is_redirection() => {
                Outcome::Failed { status: Some(response.status().as_u16()), error: "the receiver answered with a redirect, which is never followed".into() }
            }
            Ok(response) => Outcome::Failed { status: Some(response.status().as_u16()), error: format!("the receiver answered {}", response.status()) },
            Err(awc::error::SendRequestError::Connect(ConnectErrorOf::Resolver(_))) => failed(UNREACHABLE.into()),
            Err(e) => failed(format!("not delivered: {e}")),
        }
    }

    /// Whether a URL may be registered: https (http too with the override) and, without
    /// the override, a host whose every address is public. One answer for every refusal.
    pub async fn reachable(&self, url: &str) -> Result<(), String> {
        let (host, port) = check_url(url, self.allow_private)?;
        if self.allow_private {
            return Ok(());
        }
        checked_addresses(host, port, false).await.map(|_| ()).map_err(|_| UNREACHABLE.to_string())
    }
}

type ConnectErrorOf = awc::error::ConnectError;

/// The host's addresses, resolved once, if every one may be reached: an IP literal as it
/// is, a name through the system resolver (on a blocking thread).
async fn checked_addresses(host: String, port: u16, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => actix_web::web::block(move || (host.as_str(), port).to_socket_addrs().map(Iterator::collect))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?,
    };
    if addresses.is_empty() || !(allow_private || addresses.iter().all(|a| is_public(a.ip()))) {
        return Err(UNREACHABLE.into());
    }
    Ok(addresses)
}

/// awc's TCP connector behind a check: the addresses connected to are the ones
/// `checked_addresses` resolved and approved, handed to the connector already resolved,
/// so it looks nothing up again.
#[derive(Clone)]
struct CheckedConnector {
    inner: ConnectorService,
    allow_private: bool,
}

impl CheckedConnector {
    fn new(allow_private: bool) -> CheckedConnector {
        CheckedConnector { inner: actix_tls::connect::Connector::default().service(), allow_private }
    }
}

impl Service<ConnectInfo<Uri>> for CheckedConnector {
    type Response = Connection<Uri, TcpStream>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&self, request: ConnectInfo<Uri>) -> Self::Future {
        let (inner, allow_private) = (self.inner.clone(), self.allow_private);
        Box::pin(async move {
            let host = request.hostname().trim_start_matches('[').trim_end_matches(']').to_string();
            let addresses = checked_addresses(host, request.port(), allow_private).await.map_err(|why| ConnectError::Resolver(why.into()))?;
            inner.call(request.set_addrs(addresses)).await
        })
    }
}

//! Sends webhook deliveries: claims what is due, signs each message (Standard Webhooks),
//! posts it over TLS, and records the outcome. Runs beside the scheduler in the server.

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::webhooks::{check_url, is_public, secret_key, signature};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::webhooks::{self, Job, Outcome};

/// Deliveries sent per round.
const BATCH: i64 = 50;
/// A receiver has this long to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Sender {
    tls: Arc<rustls::ClientConfig>,
    allow_private: bool,
}

impl Sender {
    /// TLS with the Mozilla roots (webpki-roots) and ring's cryptography: nothing from the
    /// system is needed.
    pub fn new(allow_private: bool) -> Sender {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Sender { tls: Arc::new(tls), allow_private }
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Claims what is due at the clock's time and sends it; returns how many were delivered.
    pub async fn run_once(&self, state: &AppState) -> ApiResult<usize> {
        let now = state.clock.now();
        let jobs = state.db(move |conn| webhooks::claim(conn, now, BATCH)).await?;
        if jobs.is_empty() {
            return Ok(0);
        }
        let client = awc::Client::builder().connector(awc::Connector::new().rustls_0_23(self.tls.clone())).timeout(TIMEOUT).finish();
        let mut delivered = 0;
        for job in jobs {
            let outcome = self.send(&client, &job, state.clock.now().timestamp()).await;
            delivered += usize::from(matches!(outcome, Outcome::Delivered { .. }));
            let now = state.clock.now();
            state.db(move |conn| webhooks::finish(conn, &job, &outcome, now)).await?;
        }
        Ok(delivered)
    }

    async fn send(&self, client: &awc::Client, job: &Job, timestamp: i64) -> Outcome {
        let failed = |error: String| Outcome::Failed { status: None, error };
        let Some(key) = secret_key(&job.secret) else { return failed("unreadable secret".into()) };
        if let Err(why) = self.reachable(&job.url).await {
            return failed(why);
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
            Ok(response) => Outcome::Failed { status: Some(response.status().as_u16()), error: format!("the receiver answered {}", response.status()) },
            Err(e) => failed(format!("not delivered: {e}")),
        }
    }

    /// The URL's host resolves to public addresses only (checked at every attempt, so
    /// a name that later points inside the network is refused then too).
    pub async fn reachable(&self, url: &str) -> Result<(), String> {
        let (host, port) = check_url(url, self.allow_private)?;
        if self.allow_private {
            return Ok(());
        }
        let addresses: Vec<IpAddr> = actix_web::web::block(move || (host.as_str(), port).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot be resolved: {e}"))?;
        match addresses.iter().find(|ip| !is_public(**ip)) {
            Some(ip) => Err(format!("resolves to {ip}, a loopback, private or link-local address")),
            None if addresses.is_empty() => Err("cannot be resolved".into()),
            None => Ok(()),
        }
    }
}

//! Prometheus metrics: request counts and latency by route and status, pool state,
//! trajectories answered as kept.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route pattern (`/api/v1/patients/{id}`), never the concrete path: ids would
    /// make the label set unbounded.
    pub route: String,
    pub status: String,
}

/// The method as a label: the methods HTTP defines, and `other` for anything else. A
/// client may send any token as a method; labelled as sent, 20,000 junk methods made
/// 20,000 label sets and grew `/metrics` to 40 MB.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN.iter().find(|(known, _)| known == method).map_or("other", |(_, label)| label)
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    pool_connections: Gauge<i64, AtomicI64>,
    pool_idle: Gauge<i64, AtomicI64>,
    /// Trajectory reads answered as kept (`api::renderings`), beside the route's count.
    pub trajectories_kept: Counter,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let pool_connections = Gauge::<i64, AtomicI64>::default();
        let pool_idle = Gauge::<i64, AtomicI64>::default();
        registry.register("onset_http_requests", "HTTP requests served", requests.clone());
        registry.register("onset_http_request_duration_seconds", "HTTP request latency", latency.clone());
        registry.register("onset_db_pool_connections", "Open database connections", pool_connections.clone());
        registry.register("onset_db_pool_idle_connections", "Idle database connections", pool_idle.clone());
        let trajectories_kept = Counter::default();
        registry.register("onset_trajectories_answered_as_kept", "Trajectory reads answered as last rendered, the course unchanged", trajectories_kept.clone());
        Metrics { registry, requests, latency, pool_connections, pool_idle, trajectories_kept }
    }
}

impl Metrics {
    pub fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.latency.get_or_create(&labels).observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }

    pub fn render(&self, pool: &crate::db::Pool) -> String {
        let state = pool.state();
        self.pool_connections.set(i64::from(state.connections));
        self.pool_idle.set(i64::from(state.idle_connections));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

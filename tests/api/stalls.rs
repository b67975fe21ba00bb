//! Clients that stop reading or trickle their bodies, and work that panics mid-write:
//! none may hold what other requests need.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use actix_web::web;

use crate::helpers::*;

fn socket_address(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().unwrap()
}

/// A GET sent by a client with a tiny receive window that then never reads a byte.
fn stalled_get(address: SocketAddr, path: &str, token: &str) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: onset\r\nAuthorization: Bearer {token}\r\n\r\n").unwrap();
    stream
}

async fn count_audited(app: &TestApp, admin: &TestUser, action: &str) -> usize {
    app.get(&format!("/api/v1/audit?action={action}&limit=500"), &admin.token).await.body["items"].as_array().unwrap().len()
}

#[actix_rt::test]
async fn stalled_exports_are_bounded_cut_off_and_never_block_a_login() {
    // Connections accepted here keep a 16 KiB send buffer (Linux would otherwise grow it
    // to 4 MiB): 200 demo patients, about 700 KB of CSV, then stand for an export larger
    // than the kernel buffers, as a real clinic's is.
    let listener = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener.set_send_buffer_size(16 * 1024).unwrap();
    listener.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into()).unwrap();
    listener.listen(64).unwrap();
    let app = spawn_on(listener.into(), |c| {
        c.export_concurrency = 2;
        c.export_send_timeout = Duration::from_secs(2);
    })
    .await;
    let pool = app.state.pool.clone();
    web::block(move || onset::demo::run(&pool, JWT_SECRET, 200, 7, |_, _| {}).unwrap()).await.unwrap();
    let (email, password) = onset::demo::admin_credentials(7, JWT_SECRET);
    let login = app.login(&email, &password).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let admin = TestUser::from_login(&app, &email, &login).await;

    let address = socket_address(&app);
    let stalled: Vec<TcpStream> = (0..2).map(|_| stalled_get(address, "/api/v1/exports/assessments", &admin.token)).collect();
    // Each export is audited once it holds its permit, before its first byte.
    let started = Instant::now();
    while count_audited(&app, &admin, "export.download").await < 2 {
        assert!(started.elapsed() < Duration::from_secs(30), "both exports should have started");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }

    let third = app.get("/api/v1/exports/assessments", &admin.token).await;
    third.assert_problem(429);
    let retry_after: u64 = third.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert_eq!(count_audited(&app, &admin, "export.download").await, 2, "a refused export is not audited as downloaded");

    // Logins and reads are served while both exports are stalled.
    let timed = Instant::now();
    let again = app.login(&email, &password).await;
    let login_time = timed.elapsed();
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(login_time < Duration::from_secs(1), "a login took {login_time:?} beside two stalled exports");
    assert_eq!(app.get("/api/v1/patients?limit=5", &admin.token).await.status, 200);

    // Past the send timeout the stalled exports are dropped and their permits return.
    let waited = Instant::now();
    let complete = loop {
        let attempt = app.get("/api/v1/exports/assessments", &admin.token).await;
        if attempt.status == 200 {
            break attempt;
        }
        attempt.assert_problem(429);
        assert!(waited.elapsed() < Duration::from_secs(60), "the stalled exports were never dropped");
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    };
    let rows = complete.text.lines().count();
    assert!(rows > 1_000, "{rows} lines");

    // A stalled client that finally reads gets a cut connection, never a body that ends
    // like a complete export (HTTP/1.1 chunked: a zero-length last chunk).
    for mut stream in stalled {
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received);
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 200"), "{}", &text[..text.len().min(200)]);
        assert!(!text.ends_with("\r\n0\r\n\r\n"), "a dropped export must not look complete");
        assert!(received.len() < complete.text.len(), "{} of {} bytes", received.len(), complete.text.len());
    }
}

#[actix_rt::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off_at_the_deadline() {
    let app = spawn_with(|c| c.request_timeout = Duration::from_secs(1)).await;
    let address = socket_address(&app);
    let answer = web::block(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        write!(stream, "POST /api/v1/auth/login HTTP/1.1\r\nHost: onset\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{{").unwrap();
        let mut trickle = stream.try_clone().unwrap();
        // One byte every 100 ms: never idle long enough for an idle timeout to fire.
        std::thread::spawn(move || {
            for _ in 0..600 {
                if trickle.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let started = Instant::now();
        let mut buffer = [0u8; 4096];
        let n = stream.read(&mut buffer).unwrap_or(0);
        (String::from_utf8_lossy(&buffer[..n]).into_owned(), started.elapsed())
    })
    .await
    .unwrap();
    let (text, took) = answer;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert!(took < Duration::from_secs(20), "answered after {took:?}");
    // The server still serves everyone else.
    assert_eq!(app.request(awc::http::Method::GET, "/healthz", None, None, &[]).await.status, 200);
}

#[actix_rt::test]
async fn a_panic_inside_a_write_transaction_never_lends_its_connection_again() {
    let app = spawn_app().await;
    let pool = app.state.pool.clone();
    let size = pool.max_size() as usize;
    let outcomes = web::block(move || {
        let mut conn = pool.get().unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            onset::db::write_tx(&mut conn, |conn| -> diesel::QueryResult<()> {
                onset::db::ping(conn)?;
                panic!("a bug in the middle of a write");
            })
        }));
        assert!(panicked.is_err());
        drop(conn);
        // Every connection the pool can lend (all at once, so the broken one would be
        // among them) starts a transaction of its own.
        let mut all: Vec<_> = (0..size).map(|_| pool.get().unwrap()).collect();
        all.iter_mut().map(|conn| onset::db::write_tx(&mut **conn, |conn| onset::db::ping(conn)).map_err(|e| e.to_string())).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    // …and the service still writes.
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let rated = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    assert_eq!(rated.status, 201, "{}", rated.text);
}

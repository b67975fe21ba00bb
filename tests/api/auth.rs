use awc::http::Method;
use base64::Engine;
use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn login_returns_a_bearer_pair_that_opens_me() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let login = app.login(&admin.email.to_uppercase(), PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    assert_eq!(login.body["refresh_token"].as_str().unwrap().len(), 43, "256 bits, base64url");
    let me = app.get("/api/v1/me", login.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], admin.email);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["active"], true);
    assert_eq!(me.body["clinic_id"], admin.clinic_id.to_string());
    assert!(me.body.get("password_hash").is_none());
}

#[actix_rt::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let wrong = app.login(&admin.email, "not the password at all").await;
    let unknown = app.login("nobody@example.org", PASSWORD).await;
    wrong.assert_problem(401);
    unknown.assert_problem(401);
    assert_eq!(wrong.body, unknown.body);
    let audit = app.get("/api/v1/audit?action=auth.login_failed", &admin.token).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{}", audit.text);
    assert_eq!(audit.body["items"][0]["actor_email"], admin.email);
    assert!(!audit.text.contains("not the password"), "no password in the audit log");
}

#[actix_rt::test]
async fn missing_and_forged_tokens_are_401() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = admin.token.split('.').collect();
    let alg_none = format!("{}.{}.", engine.encode(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let mut bad_signature = admin.token.clone();
    bad_signature.replace_range(bad_signature.len() - 4.., "AAAA");
    let claims = json!({"sub": admin.id, "role": "admin", "clinic": admin.clinic_id, "iat": 1_600_000_000, "exp": 1_600_000_900, "iss": "onset", "aud": "onset-api"});
    let expired = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET)).unwrap();
    let other_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": admin.id, "role": "admin", "clinic": admin.clinic_id, "iat": 1_900_000_000, "exp": 4_000_000_000u64, "iss": "onset", "aud": "onset-api"}),
        &jsonwebtoken::EncodingKey::from_secret(b"some other secret of thirty-two bytes"),
    )
    .unwrap();
    for token in [alg_none.as_str(), bad_signature.as_str(), expired.as_str(), other_secret.as_str(), "garbage"] {
        let response = app.get("/api/v1/me", token).await;
        response.assert_problem(401);
        assert_eq!(response.header("www-authenticate").as_deref(), Some("Bearer"));
    }
    app.request(Method::GET, "/api/v1/me", None, None, &[]).await.assert_problem(401);
    app.request(Method::GET, "/api/v1/me", None, None, &[("authorization", &format!("Basic {}", admin.token))]).await.assert_problem(401);
}

#[actix_rt::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let refresh = |token: String| {
        let app = &app;
        async move { app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": token})), &[]).await }
    };
    let first = refresh(admin.refresh_token.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second_token = first.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_token, admin.refresh_token);
    assert_eq!(app.get("/api/v1/me", first.body["access_token"].as_str().unwrap()).await.status, 200);
    // The rotated token comes back: the whole family dies, the newest token included.
    refresh(admin.refresh_token.clone()).await.assert_problem(401);
    refresh(second_token).await.assert_problem(401);
    // A separate login is a separate family and still works.
    let other = app.login(&admin.email, PASSWORD).await;
    assert_eq!(refresh(other.body["refresh_token"].as_str().unwrap().to_string()).await.status, 200);
    refresh("never issued".into()).await.assert_problem(401);
}

#[actix_rt::test]
async fn logout_revokes_the_refresh_token() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let body = json!({"refresh_token": admin.refresh_token});
    let out = app.request(Method::POST, "/api/v1/auth/logout", None, Some(&body), &[]).await;
    assert_eq!(out.status, 204, "{}", out.text);
    app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&body), &[]).await.assert_problem(401);
    let again = app.request(Method::POST, "/api/v1/auth/logout", None, Some(&body), &[]).await;
    assert_eq!(again.status, 204);
}

#[actix_rt::test]
async fn a_disabled_user_is_locked_out_at_once() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    assert_eq!(app.get("/api/v1/me", &clinician.token).await.status, 200);
    let disabled = app.patch(&format!("/api/v1/users/{}", clinician.id), &admin.token, json!({"active": false})).await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(disabled.body["active"], false);
    app.get("/api/v1/me", &clinician.token).await.assert_problem(401);
    let body = json!({"refresh_token": clinician.refresh_token});
    app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&body), &[]).await.assert_problem(401);
    app.login(&clinician.email, PASSWORD).await.assert_problem(401);
    // Enabled again, the account's old sessions stay dead: they were revoked, not paused.
    let enabled = app.patch(&format!("/api/v1/users/{}", clinician.id), &admin.token, json!({"active": true})).await;
    assert_eq!(enabled.status, 200, "{}", enabled.text);
    app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&body), &[]).await.assert_problem(401);
    let audit = app.get("/api/v1/audit?action=user.update", &admin.token).await;
    assert_eq!(audit.body["items"][1]["detail"]["sessions_revoked"], 1, "{}", audit.text);
}

#[actix_rt::test]
async fn an_access_token_from_before_a_role_change_or_a_disabling_is_refused_on_every_route() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let researcher = app.user(&admin, "researcher").await;
    let patient = app.patient(&admin).await;
    assert_eq!(app.get("/api/v1/exports/codebook", &researcher.token).await.status, 200);
    // Made a clinician, the old token (role: researcher) does not let them in as either.
    let changed = app.patch(&format!("/api/v1/users/{}", researcher.id), &admin.token, json!({"role": "clinician"})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    app.get("/api/v1/exports/codebook", &researcher.token).await.assert_problem(401);
    app.get("/api/v1/analytics/onset?instrument=ybocs", &researcher.token).await.assert_problem(401);
    let relogged = app.login(&researcher.email, PASSWORD).await;
    let fresh = relogged.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/api/v1/patients/{patient}/trajectory"), &fresh).await.status, 200, "the new token carries the new role");
    // Disabled, even a route that reads nothing of the clinic refuses the token at once.
    app.patch(&format!("/api/v1/users/{}", researcher.id), &admin.token, json!({"active": false})).await;
    let refused = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &fresh).await;
    refused.assert_problem(401);
    assert!(refused.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")), "{:?}", refused.header("www-authenticate"));
}

#[actix_rt::test]
async fn a_role_change_ends_the_sessions_issued_under_the_old_role() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let renamed = app.patch(&format!("/api/v1/users/{}", clinician.id), &admin.token, json!({"name": "Dr Renamed"})).await;
    assert_eq!(renamed.status, 200);
    let body = json!({"refresh_token": clinician.refresh_token});
    let refreshed = app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&body), &[]).await;
    assert_eq!(refreshed.status, 200, "a rename keeps the session: {}", refreshed.text);
    let demoted = app.patch(&format!("/api/v1/users/{}", clinician.id), &admin.token, json!({"role": "researcher"})).await;
    assert_eq!(demoted.status, 200, "{}", demoted.text);
    let body = json!({"refresh_token": refreshed.body["refresh_token"]});
    app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&body), &[]).await.assert_problem(401);
    assert_eq!(app.login(&clinician.email, PASSWORD).await.status, 200, "a new login carries the new role");
}

#[actix_rt::test]
async fn a_refresh_family_ends_when_its_login_does_however_often_it_rotates() {
    use diesel::prelude::*;
    use onset::db::schema::refresh_tokens as t;
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let mut token = admin.refresh_token.clone();
    for _ in 0..3 {
        let next = app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": token})), &[]).await;
        assert_eq!(next.status, 200, "{}", next.text);
        token = next.body["refresh_token"].as_str().unwrap().to_string();
    }
    let pool = app.state.pool.clone();
    let expiries: Vec<onset::db::DbTime> =
        actix_web::web::block(move || t::table.select(t::expires_at).load(&mut **pool.get().unwrap()).unwrap()).await.unwrap();
    assert_eq!(expiries.len(), 4);
    assert!(expiries.iter().all(|e| e.0 == expiries[0].0), "every rotation inherits the login's expiry: {:?}", expiries.iter().map(|e| e.0).collect::<Vec<_>>());
}

#[actix_rt::test]
async fn login_is_throttled_per_account_with_retry_after() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    // The admin's own login above used one attempt of the ten a minute.
    for _ in 0..9 {
        assert_eq!(app.login(&admin.email, "a wrong password!").await.status, 401);
    }
    let throttled = app.login(&admin.email, PASSWORD).await;
    throttled.assert_problem(429);
    let retry: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(app.login("someone.else@example.org", "whatever it is").await.status, 401, "other accounts are not throttled");
}

#[actix_rt::test]
async fn login_is_throttled_per_address() {
    let app = spawn_with(|c| c.login_per_address_per_minute = 3).await;
    for i in 0..3 {
        assert_eq!(app.login(&format!("user{i}@example.org"), "whatever it is").await.status, 401);
    }
    app.login("user9@example.org", "whatever it is").await.assert_problem(429);
}

#[actix_rt::test]
async fn bad_bodies_are_problems() {
    let app = spawn_app().await;
    let login = "/api/v1/auth/login";
    let malformed = app.raw(Method::POST, login, None, "application/json", b"{\"email\": ".to_vec()).await;
    malformed.assert_problem(400);
    let not_json = app.raw(Method::POST, login, None, "text/plain", b"hello".to_vec()).await;
    not_json.assert_problem(415);
    let extra = app.request(Method::POST, login, None, Some(&json!({"email": "a@b.org", "password": "x", "admin": true})), &[]).await;
    extra.assert_problem(422);
    assert_eq!(extra.error_fields(), vec!["admin"]);
    let missing = app.request(Method::POST, login, None, Some(&json!({"email": "a@b.org"})), &[]).await;
    missing.assert_problem(422);
    let wrong_type = app.request(Method::POST, login, None, Some(&json!({"email": 5, "password": "x"})), &[]).await;
    assert_eq!(wrong_type.error_fields(), vec!["email"]);
}

#[actix_rt::test]
async fn bodies_over_one_mebibyte_are_413() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let mut big = br#"{"display_name": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', (1 << 20) + 10));
    big.extend(br#""}"#);
    app.raw(Method::POST, "/api/v1/patients", Some(&admin.token), "application/json", big).await.assert_problem(413);
}

#[actix_rt::test]
async fn every_response_carries_a_request_id_and_errors_are_problems() {
    let app = spawn_app().await;
    let health = app.request(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(health.body["status"], "ok");
    let a = health.header("x-request-id").unwrap();
    let b = app.request(Method::GET, "/healthz", None, None, &[]).await.header("x-request-id").unwrap();
    assert_ne!(a, b);
    app.request(Method::GET, "/no/such/route", None, None, &[]).await.assert_problem(404);
    app.request(Method::DELETE, "/healthz", None, None, &[]).await.assert_problem(405);
    let ready = app.request(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!((ready.status, ready.body["database"].as_str()), (200, Some("ok")));
    let metrics = app.request(Method::GET, "/metrics", None, None, &[]).await;
    assert!(metrics.text.contains(r#"onset_http_requests_total{method="GET",route="/healthz",status="200"} 2"#), "{}", metrics.text);
    assert!(metrics.text.contains("onset_http_request_duration_seconds_bucket"));
    assert!(metrics.text.contains("onset_db_pool_connections"));
}

#[actix_rt::test]
async fn cors_allows_only_configured_origins() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.request(Method::OPTIONS, "/api/v1/patients", None, None, &[("origin", origin), ("access-control-request-method", "POST"), ("access-control-request-headers", "authorization,content-type,idempotency-key")]).await
        }
    };
    let allowed = preflight("https://app.example.org").await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
    assert_eq!(allowed.header("access-control-allow-origin").as_deref(), Some("https://app.example.org"));
    let refused = preflight("https://evil.example.com").await;
    assert!(refused.header("access-control-allow-origin").is_none());
}

#[actix_rt::test]
async fn expired_refresh_tokens_and_idempotency_keys_are_purged_and_nothing_else() {
    use onset::store::housekeeping::{Purged, purge};
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let keyed = |name: &'static str| {
        let app = &app;
        let token = admin.token.clone();
        async move {
            let mut body = patient_body();
            body["display_name"] = json!(name);
            app.request(Method::POST, "/api/v1/patients", Some(&token), Some(&body), &[("idempotency-key", "k-1")]).await
        }
    };
    assert_eq!(keyed("A").await.status, 201);
    keyed("B").await.assert_problem(422);
    let purge_at = |days: i64| {
        let pool = app.state.pool.clone();
        actix_web::web::block(move || purge(&mut pool.get().unwrap(), onset::store::now() + chrono::Duration::days(days), chrono::Duration::days(7)).unwrap())
    };
    assert_eq!(purge_at(0).await.unwrap(), Purged::default(), "nothing has expired yet");
    assert_eq!(purge_at(2).await.unwrap(), Purged { refresh_tokens: 0, idempotency_keys: 1, ..Purged::default() });
    assert_eq!(purge_at(31).await.unwrap(), Purged { refresh_tokens: 1, idempotency_keys: 0, ..Purged::default() });
    // The key is free again, and the patients and the audit are untouched.
    assert_eq!(keyed("B").await.status, 201);
    assert_eq!(app.get("/api/v1/patients", &admin.token).await.body["items"].as_array().unwrap().len(), 2);
    assert!(!app.get("/api/v1/audit?action=patient.create", &admin.token).await.body["items"].as_array().unwrap().is_empty());
}

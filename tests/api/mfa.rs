//! Staff MFA (DESIGN.md §12): enrolment shows a secret and its otpauth URI once, a first
//! code confirms it and gives ten recovery codes; a login then answers its password with
//! an `mfa_token`, and the second step takes a code once (a replayed one is refused) or a
//! recovery code once; attempts are throttled; a clinic can require MFA, and then staff
//! without it can only enrol. Codes are computed here from the secret with the `totp-rs`
//! crate at the test's clock, as an authenticator app would.

use awc::http::Method;
use chrono::{Duration, SubsecRound};
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::*;

/// The authenticator app: RFC 6238 with SHA-1, 6 digits, 30-second steps.
fn app_code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes, None, String::new()).generate(at.timestamp() as u64)
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> Response {
    app.request(Method::POST, "/api/v1/auth/login/mfa", None, Some(&json!({"mfa_token": mfa_token, "code": code})), &[]).await
}

/// Enrols the user at the app's clock: the secret and the recovery codes.
async fn enrol(app: &TestApp, user: &TestUser) -> (String, Vec<String>) {
    let started = app.post("/api/v1/me/mfa/totp", &user.token, json!({})).await;
    assert_eq!(started.status, 201, "{}", started.text);
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let uri = started.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/onset:") && uri.contains(&format!("secret={secret}")), "{uri}");
    let confirmed = app.post("/api/v1/me/mfa/totp/confirm", &user.token, json!({"code": app_code(&secret, app.state.clock.now())})).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let codes: Vec<String> = confirmed.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    (secret, codes)
}

async fn mfa_token(app: &TestApp, user: &TestUser) -> String {
    let login = app.login(&user.email, PASSWORD).await;
    login.assert_problem(401);
    assert_eq!(login.body["type"], "urn:onset:problem:mfa-required", "{}", login.text);
    assert!(login.body.get("access_token").is_none());
    login.body["mfa_token"].as_str().unwrap().to_string()
}

#[actix_rt::test]
async fn a_login_with_mfa_takes_each_code_once_and_each_recovery_code_once() {
    let app = spawn_with(|c| c.login_per_account_per_minute = 1_000).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    let admin = app.admin("North").await;
    let started = app.post("/api/v1/me/mfa/totp", &admin.token, json!({})).await;
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let wrong = app.post("/api/v1/me/mfa/totp/confirm", &admin.token, json!({"code": "000000"})).await;
    wrong.assert_problem(422);
    assert_eq!(wrong.error_fields(), ["code"]);
    let confirmed = app.post("/api/v1/me/mfa/totp/confirm", &admin.token, json!({"code": app_code(&secret, now)})).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let recovery: Vec<String> = confirmed.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(app.get("/api/v1/me", &admin.token).await.body["mfa_enabled"], json!(true));
    app.post("/api/v1/me/mfa/totp", &admin.token, json!({})).await.assert_problem(409);

    let token = mfa_token(&app, &admin).await;
    // The code that confirmed enrolment was used: within its step it is refused.
    second_step(&app, &token, &app_code(&secret, now)).await.assert_problem(401);
    app.state.clock.advance(Duration::seconds(30));
    let code = app_code(&secret, app.state.clock.now());
    let tokens = second_step(&app, &token, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = tokens.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/patients", &access).await.status, 200);
    second_step(&app, &token, &code).await.assert_problem(401);
    // One step of drift: the code of the next step is taken now, the one after it not.
    let ahead = app_code(&secret, app.state.clock.now() + Duration::seconds(60));
    second_step(&app, &token, &ahead).await.assert_problem(401);
    let next = app_code(&secret, app.state.clock.now() + Duration::seconds(30));
    assert_eq!(second_step(&app, &token, &next).await.status, 200);
    // A recovery code works once, typed with or without its dash.
    let typed = recovery[0].replace('-', "").to_uppercase();
    assert_eq!(second_step(&app, &token, &typed).await.status, 200);
    second_step(&app, &token, &recovery[0]).await.assert_problem(401);
    // Neither token stands for the other.
    second_step(&app, &access, &recovery[1]).await.assert_problem(401);
    app.get("/api/v1/patients", &token).await.assert_problem(401);

    // Removal needs a current code; afterwards the password alone logs in again.
    let removed = app.request(Method::DELETE, "/api/v1/me/mfa", Some(&access), Some(&json!({"code": "123456"})), &[]).await;
    assert_eq!(removed.error_fields(), ["code"]);
    app.state.clock.advance(Duration::seconds(90));
    let removed = app.request(Method::DELETE, "/api/v1/me/mfa", Some(&access), Some(&json!({"code": app_code(&secret, app.state.clock.now())})), &[]).await;
    assert_eq!((removed.status, removed.body["mfa_enabled"].clone()), (200, json!(false)), "{}", removed.text);
    assert_eq!(app.login(&admin.email, PASSWORD).await.status, 200);
    second_step(&app, &token, &recovery[2]).await.assert_problem(401);

    let audit = app.get("/api/v1/audit?limit=200", &access).await;
    let actions: Vec<&str> = audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["mfa.enrol", "mfa.enable", "auth.mfa_failed", "mfa.disable"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(!audit.text.contains(&secret) && !audit.text.contains(&recovery[0]), "no secret in the audit");
}

#[actix_rt::test]
async fn second_factor_attempts_are_throttled_per_account() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    enrol(&app, &admin).await;
    let token = mfa_token(&app, &admin).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(second_step(&app, &token, "000000").await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count() + statuses.iter().filter(|s| **s == 429).count(), 12);
}

#[actix_rt::test]
async fn a_clinic_that_requires_mfa_lets_staff_without_it_only_enrol() {
    let app = spawn_with(|c| c.login_per_account_per_minute = 1_000).await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let first = app.patch("/api/v1/clinic", &admin.token, json!({"require_mfa": true})).await;
    first.assert_problem(409);
    assert_eq!(app.get("/api/v1/clinic", &admin.token).await.body["require_mfa"], json!(false), "an admin without MFA cannot lock the clinic's staff out");
    enrol(&app, &admin).await;
    let set = app.patch("/api/v1/clinic", &admin.token, json!({"require_mfa": true})).await;
    assert_eq!((set.status, set.body["require_mfa"].clone()), (200, json!(true)), "{}", set.text);
    app.patch("/api/v1/clinic", &admin.token, json!({"require_mfa": "yes"})).await.assert_problem(422);
    app.patch("/api/v1/clinic", &clinician.token, json!({"require_mfa": false})).await.assert_problem(403);
    let refused = app.get("/api/v1/patients", &clinician.token).await;
    refused.assert_problem(403);
    assert_eq!(refused.body["type"], "urn:onset:problem:mfa-enrolment-required");
    assert_eq!(app.get("/api/v1/me", &clinician.token).await.status, 200, "an account can see itself");
    let (_, _) = enrol(&app, &clinician).await;
    assert_eq!(app.get("/api/v1/patients", &clinician.token).await.status, 200, "enrolled, the same session goes on");
    // Another account without MFA is held to the policy too, whatever its role.
    let researcher = app.user(&admin, "researcher").await;
    app.get("/api/v1/analytics/onset?instrument=ocd_vas&endpoint=response", &researcher.token).await.assert_problem(403);
    let other = app.admin("South").await;
    assert_eq!(app.get("/api/v1/patients", &other.token).await.status, 200, "another clinic's policy");
    let body: Value = app.get("/api/v1/clinic", &other.token).await.body;
    assert_eq!(body["require_mfa"], json!(false));
}

//! The `onset` command: serve (the default), migrate, create-admin.

use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onset::auth::{Role, password};
use onset::config::{self, Config};
use onset::store::users::{self, NewUser};

/// jemalloc, not glibc's malloc: a request's or an export batch's memory is allocated on
/// one thread and freed on another (actix's, the SQLite writer's, the export reader's),
/// and glibc then takes the owning arena's lock for every block: an export spent 8–15 %
/// of its time waiting on it (perf: futex), and its resident memory grew with each
/// export. Measured side by side on a 20,000-patient clinic: exports 175–205k → 232–252k
/// rows/s at flat memory, rating writes 1,944–2,211 → 2,265–2,363/s, analytics unchanged.
/// (mimalloc, tried before, gave its pages back at once and analytics paid to fault them
/// in again; jemalloc keeps them for seconds.)
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// SQLite (C) still allocates with glibc's malloc. Every read's audit entry is a write, so
/// each read connection finds the database changed and frees its whole page cache at its
/// next read; glibc then gave the freed top of the heap back to the kernel (madvise) and
/// faulted it in again at the next read, a quarter of a trajectory read's CPU (perf:
/// sysmalloc, madvise, page faults). Above 8 MiB free it still trims.
fn keep_sqlites_freed_pages() {
    // SAFETY: mallopt only sets a tunable of glibc's allocator; called before any thread.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

#[derive(Parser)]
#[command(name = "onset", version, about = "Clinical outcome tracking for ketamine and esketamine treatment of OCD")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a clinic (if new) and its admin. The password comes from
    /// ONSET_ADMIN_PASSWORD, or is asked twice on the terminal.
    CreateAdmin {
        #[arg(long)]
        clinic: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
    /// Create a realistic synthetic cohort in a demo clinic of its own (migrates first).
    DemoData {
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        patients: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only print the demo admin's `email password` (derived from the seed) and exit.
        #[arg(long)]
        print_admin: bool,
    },
    /// Derive every patient's onset summary from their records and compare it with the
    /// stored one; exits non-zero on any difference (`--repair` rebuilds them all).
    CheckSummaries {
        #[arg(long)]
        repair: bool,
    },
    /// Copy the live SQLite database consistently (while it serves) to a new file, synced
    /// and readable by its owner only. On PostgreSQL, say which of its tools to use.
    Backup {
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Check a backup read-only: integrity, foreign keys, schema version and rows per
    /// table; exits non-zero on any fault.
    RestoreCheck { path: std::path::PathBuf },
    /// Walk each clinic's audit hash chain and name the first event that does not fit;
    /// exits non-zero on any.
    AuditVerify,
    /// Write the pseudonymised research export to standard output (needs ONSET_EXPORT_KEY).
    Export {
        #[arg(long, value_parser = ["assessments", "infusions", "redcap"])]
        kind: String,
        #[arg(long, default_value = "csv", value_parser = ["csv", "ndjson"])]
        format: String,
        /// Only this clinic (by name); every clinic when absent.
        #[arg(long)]
        clinic: Option<String>,
        /// Only this instrument (assessments).
        #[arg(long)]
        instrument: Option<String>,
        /// Only records changed at or after this RFC 3339 time.
        #[arg(long)]
        changed_since: Option<String>,
    },
}

fn main() -> ExitCode {
    keep_sqlites_freed_pages();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Migrate => migrate(),
        Command::CreateAdmin { clinic, email, name } => create_admin(&clinic, &email, &name),
        Command::DemoData { patients, seed, print_admin } => demo_data(patients, seed, print_admin),
        Command::CheckSummaries { repair } => check_summaries(repair),
        Command::Backup { to } => backup(&to),
        Command::AuditVerify => audit_verify(),
        Command::RestoreCheck { path } => restore_check(&path),
        Command::Export { kind, format, clinic, instrument, changed_since } => {
            export(&kind, &format, clinic.as_deref(), instrument.as_deref(), changed_since.as_deref())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("onset: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> Result<(), String> {
    let config = Config::from_env()?;
    let bind = config.bind.clone();
    let state = onset::prepare(config)?;
    let listener = TcpListener::bind(&bind).map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    tracing::info!(address = %bind, "onset serving");
    actix_web::rt::System::new()
        .block_on(async move { onset::start(listener, state, workers)?.await })
        .map_err(|e| format!("server stopped: {e}"))
}

fn open_database() -> Result<onset::db::Pool, String> {
    let pool = onset::db::connect(&config::database_url(), 1)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    onset::db::migrate(&mut conn)?;
    onset::chain_legacy_audit(&mut conn)?;
    drop(conn);
    Ok(pool)
}

fn backup(to: &std::path::Path) -> Result<(), String> {
    let copied = onset::db::backup::backup(&config::database_url(), to)?;
    println!("backed up to {}: {} bytes in {:.2} s (mode 600, synced)", to.display(), copied.bytes, copied.seconds);
    Ok(())
}

fn audit_verify() -> Result<(), String> {
    let pool = open_database()?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let verified = onset::store::audit::verify(&mut conn).map_err(|e| e.to_string())?;
    println!("{} chains, {} events walked in {:.2} s", verified.chains, verified.events, started.elapsed().as_secs_f64());
    if verified.faults.is_empty() {
        println!("ok: every audit event fits its chain");
        return Ok(());
    }
    for fault in &verified.faults {
        println!("fault: {fault}");
    }
    Err(format!("{} chain(s) broken: the audit log was changed outside onset", verified.faults.len()))
}

fn restore_check(path: &std::path::Path) -> Result<(), String> {
    let checked = onset::db::backup::restore_check(path)?;
    println!("schema version: {}", checked.schema_version.as_deref().unwrap_or("unknown"));
    for (table, rows) in &checked.rows {
        println!("{table}: {rows} rows");
    }
    if checked.faults.is_empty() {
        println!("ok: integrity, foreign keys and schema version check out");
        return Ok(());
    }
    for fault in &checked.faults {
        println!("fault: {fault}");
    }
    Err(format!("{} fault(s): do not restore this copy", checked.faults.len()))
}

fn check_summaries(repair: bool) -> Result<(), String> {
    use onset::store::summaries;
    let pool = open_database()?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let check = summaries::verify(&mut conn).map_err(|e| e.to_string())?;
    println!(
        "{} patients, {} summaries and {} series folds derived from the records in {:.1} s; {} patient(s) differ from the stored ones",
        check.patients,
        check.summaries,
        check.folds,
        started.elapsed().as_secs_f64(),
        check.mismatched.len()
    );
    for patient in check.mismatched.iter().take(20) {
        println!("differs: patient {patient}");
    }
    if check.mismatched.is_empty() {
        return Ok(());
    }
    if repair {
        let rows = summaries::rebuild(&mut conn).map_err(|e| e.to_string())?;
        println!("rebuilt: {rows} summaries");
        return Ok(());
    }
    Err("the stored onset summaries disagree with the records (run with --repair to rebuild them)".into())
}

fn migrate() -> Result<(), String> {
    let pool = onset::db::connect(&config::database_url(), 1)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let applied = onset::db::migrate(&mut conn)?;
    onset::chain_legacy_audit(&mut conn)?;
    println!("{applied} migration(s) applied");
    Ok(())
}

fn admin_password() -> Result<String, String> {
    if let Ok(password) = std::env::var("ONSET_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let first = rpassword::prompt_password("Password for the admin: ").map_err(|e| format!("cannot read the password: {e}"))?;
    let second = rpassword::prompt_password("Again: ").map_err(|e| format!("cannot read the password: {e}"))?;
    if first != second {
        return Err("the two passwords differ".into());
    }
    Ok(first)
}

fn create_admin(clinic: &str, email: &str, name: &str) -> Result<(), String> {
    let clinic = clinic.trim();
    if clinic.is_empty() || clinic.chars().count() > 200 {
        return Err("--clinic must be 1 to 200 characters".into());
    }
    let email = email.trim().to_lowercase();
    if let Some(problem) = onset::domain::user::check_email(&email) {
        return Err(format!("--email {problem}"));
    }
    let password = admin_password()?;
    if let Some(weakness) = password::weakness(&password) {
        return Err(format!("the password {weakness}"));
    }
    let pool = open_database()?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let admin = NewUser { email: email.clone(), name: name.to_string(), role: Role::Admin, password_hash: password::hash(&password) };
    let user = users::create_clinic_with_admin(&mut conn, clinic, admin).map_err(|e| match e {
        onset::error::ApiError::Conflict(_) => format!("an account with the email {email} already exists"),
        other => other.to_string(),
    })?;
    println!("created admin {} ({}) of clinic {}", user.email, user.id, user.clinic_id);
    Ok(())
}

fn export(kind: &str, format: &str, clinic: Option<&str>, instrument: Option<&str>, changed_since: Option<&str>) -> Result<(), String> {
    use onset::export::{ExportRequest, Format, Kind};
    use std::io::Write;
    let key = config::export_key()?.ok_or("ONSET_EXPORT_KEY is not set: the export's subject ids need it")?;
    let changed_since = changed_since
        .map(|t| onset::domain::fields::parse_instant("changed_since", t).map_err(|e| format!("--changed-since {}", e.message)))
        .transpose()?;
    let pool = open_database()?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let clinic = match clinic {
        None => None,
        Some(name) => {
            let id = onset::store::research::clinic_by_name(&mut conn, name).map_err(|e| e.to_string())?;
            Some(id.ok_or(format!("no clinic named {name:?}"))?)
        }
    };
    // A built-in anywhere; a clinic's own instrument only with its clinic named.
    let instrument = match (instrument, clinic) {
        (None, _) => None,
        (Some(code), Some(clinic)) => {
            let found = onset::store::clinic_instruments::find(&mut conn, clinic, code).map_err(|e| e.to_string())?;
            Some(found.ok_or(format!("unknown instrument {code:?} in that clinic"))?)
        }
        (Some(code), None) => Some(onset::domain::instruments::Instrument::parse(code).ok_or(format!("unknown instrument {code:?}: a clinic's own needs --clinic"))?),
    };
    let request = ExportRequest {
        kind: Kind::parse(kind).ok_or("unknown kind")?,
        format: Format::parse(format).ok_or("unknown format")?,
        clinic,
        instrument,
        changed_since,
    };
    if let Some(e) = request.check().first() {
        return Err(format!("--{} {}", e.field.replace('_', "-"), e.message));
    }
    // No entry, no export: each clinic's audit log shows that its data left through the
    // command line, and who ran it, before the first byte is written.
    let clinics = match clinic {
        Some(id) => vec![id],
        None => onset::store::research::clinic_ids(&mut conn).map_err(|e| e.to_string())?,
    };
    let operator = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let detail = serde_json::json!({
        "kind": kind, "format": format, "instrument": instrument.map(|i| i.code()),
        "changed_since": changed_since, "every_clinic": clinic.is_none(), "operator": operator,
    });
    let entries: Vec<_> = clinics
        .into_iter()
        .map(|clinic| onset::store::audit::AuditEntry {
            clinic_id: Some(clinic),
            actor_id: None,
            actor_email: Some(format!("onset export (command line, {operator})")),
            action: "export.command_line".into(),
            entity: "export",
            entity_id: None,
            detail: detail.clone(),
        })
        .collect();
    onset::store::audit::append_all(&mut conn, entries).map_err(|e| format!("cannot audit the export, so it does not run: {e}"))?;
    drop(conn);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error = None;
    let rows = onset::export::run(&pool, &key, &request, |chunk| match out.write_all(&chunk) {
        Ok(()) => true,
        Err(e) => {
            write_error = Some(e);
            false
        }
    })
    .map_err(|e| e.to_string())?;
    if let Some(e) = write_error {
        return Err(format!("cannot write the export: {e}"));
    }
    out.flush().map_err(|e| format!("cannot write the export: {e}"))?;
    eprintln!("onset: exported {rows} row(s)");
    Ok(())
}

fn demo_data(patients: u32, seed: u64, print_admin: bool) -> Result<(), String> {
    let secret = Config::from_env()?.jwt_secret;
    let (email, password) = onset::demo::admin_credentials(seed, &secret);
    if print_admin {
        println!("{email} {password}");
        return Ok(());
    }
    let pool = open_database()?;
    let started = std::time::Instant::now();
    let summary = onset::demo::run(&pool, &secret, patients, seed, |done, total| {
        if total > 1_000 {
            eprintln!("onset: {done}/{total} patients written");
        }
    })?;
    println!(
        "{}: {} patients, {} sessions, {} ratings, {} due ratings (planned in {:.1} s) in {:.1} s\nlog in as: {email} {password}",
        onset::demo::clinic_name(seed),
        summary.patients,
        summary.infusions,
        summary.assessments,
        summary.due,
        summary.planning.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

//! Export throughput and memory: exports two demo clinics of about 20,000 and 200,000
//! rating rows, each in a fresh child process, and prints rows/s and that process's peak
//! resident memory. Memory that does not grow with the row count is the point.
//! Figures, never assertions.
//!
//!     cargo bench --bench export                     # SQLite in a temporary file
//!     ONSET_BENCH_DATABASE_URL=postgres://… cargo bench --bench export

use std::process::Command;
use std::time::Instant;

use onset::export::{ExportRequest, Format, Kind};

const KEY: &[u8] = b"bench export key of thirty-two bytes!!";

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// In the child: export one clinic, print `rows bytes seconds peak_kib`.
fn export_child(url: &str, clinic: &str) {
    let pool = onset::db::connect(url, 2).expect("database");
    let request = ExportRequest { kind: Kind::Assessments, format: Format::Csv, clinic: Some(clinic.parse().unwrap()), instrument: None, changed_since: None };
    let mut bytes = 0usize;
    let started = Instant::now();
    let rows = onset::export::run(&pool, KEY, &request, |chunk| {
        bytes += chunk.len();
        true
    })
    .expect("export");
    println!("{rows} {bytes} {} {}", started.elapsed().as_secs_f64(), peak_rss_kib());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--export-child") {
        return export_child(&args[i + 1], &args[i + 2]);
    }
    let url = std::env::var("ONSET_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("onset-bench-{}.db", uuid::Uuid::now_v7())).to_string_lossy().into_owned());
    let pool = onset::db::connect(&url, 4).expect("database");
    onset::db::migrate(&mut pool.get().unwrap()).expect("migrations");
    println!("backend: {}", if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" });
    println!("{:>10} {:>10} {:>10} {:>10} {:>12} {:>16}", "patients", "rows", "MiB", "seconds", "rows/s", "peak RSS");
    for (seed, patients) in [(9_001u64, 1_070u32), (9_002, 10_700)] {
        let seeded = Instant::now();
        let summary = onset::demo::run(&pool, b"benchmark installation secret", patients, seed, |_, _| {}).expect("demo data");
        eprintln!("seeded {} ratings in {:.1} s", summary.assessments, seeded.elapsed().as_secs_f64());
        let out = Command::new(&args[0]).args(["--export-child", &url, &summary.clinic_id.to_string()]).output().expect("child runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<f64> = text.split_whitespace().filter_map(|v| v.parse().ok()).collect();
        let [rows, bytes, seconds, peak] = f[..] else { panic!("child said {text:?} {}", String::from_utf8_lossy(&out.stderr)) };
        println!("{patients:>10} {rows:>10} {:>10.1} {seconds:>10.2} {:>12.0} {:>12.1} MiB", bytes / 1048576.0, rows / seconds, peak / 1024.0);
    }
}

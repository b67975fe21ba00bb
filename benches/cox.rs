//! Cox fit time (DESIGN.md §11): a cohort of 20,000 and of 100,000 patients with seven
//! terms (three numeric, four indicators), tied integer hours, about a third censored.
//! Figures, never assertions.
//!
//!     cargo bench --bench cox

use std::time::Instant;

use onset::domain::cox::fit;

/// A small deterministic generator (SplitMix64), so the cohorts are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn cohort(n: usize, seed: u64) -> (Vec<f64>, Vec<bool>, Vec<Vec<f64>>) {
    let mut rng = Rng(seed);
    let (mut times, mut events, mut x) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let dose = 0.2 + 0.8 * rng.next();
        let cadss = (rng.next() * 40.0).round();
        let baseline = 16.0 + (rng.next() * 24.0).round();
        let route = (rng.next() * 3.0) as usize;
        let guided = f64::from(u8::from(rng.next() < 0.5));
        let male = f64::from(u8::from(rng.next() < 0.45));
        let hazard = (1.1 * dose + 0.01 * cadss - 0.04 * baseline + [0.0, 0.4, -0.3][route] + 0.2 * guided).exp();
        let event_time = (-(1.0 - rng.next()).ln() * 40.0 / hazard).ceil().max(1.0);
        let censor_time = (-(1.0 - rng.next()).ln() * 90.0).ceil().max(1.0);
        times.push(event_time.min(censor_time).min(2000.0));
        events.push(event_time <= censor_time);
        x.push(vec![dose, cadss, baseline, f64::from(u8::from(route == 1)), f64::from(u8::from(route == 2)), guided, male]);
    }
    (times, events, x)
}

fn main() {
    println!("{:>10} {:>8} {:>7} {:>11} {:>12}", "patients", "events", "terms", "iterations", "fit (ms)");
    for n in [20_000, 100_000] {
        let (times, events, x) = cohort(n, n as u64);
        let started = Instant::now();
        let fitted = fit(&times, &events, &x).expect("the cohort fits");
        let ms = started.elapsed().as_secs_f64() * 1e3;
        println!("{n:>10} {:>8} {:>7} {:>11} {ms:>12.1}", fitted.events, fitted.terms.len(), fitted.iterations);
    }
}

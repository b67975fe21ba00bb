//! Charts as SVG text: a patient's trajectory and the cohort's onset curve.
//!
//! Written directly rather than through a plotting crate: the charts need a log time
//! axis, shaded bands, step curves and text, all of which are a few SVG elements, and
//! every drawn point carries its data (`data-*` attributes and a `<title>`) so that a
//! screen reader, a copy, or a test can read back what is shown. Presentation is in
//! attributes, never `style`, so the charts show under a CSP without `unsafe-inline`.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::hours_between;
use super::instruments::Instrument;
use super::onset::OnsetReport;
use super::trajectory::{Series, Trajectory};

const WIDTH: f64 = 760.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 120.0;
const PANEL_HEIGHT: f64 = 240.0;
const PANEL_GAP: f64 = 84.0;
const TOP: f64 = 56.0;
/// Room left of the log axis for ratings taken before the first infusion.
const BEFORE_WIDTH: f64 = 72.0;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', sans-serif";
const BAND_FILLS: [&str; 5] = ["#eef6ee", "#f6f6e8", "#fbf0e2", "#fae6e2", "#f4dede"];

/// Ticks of the time axis, in hours, from minutes to months: the moments ketamine
/// studies measure (+40 min, +2 h, +4 h, day 1, day 7) among them.
const TICKS: [(f64, &str); 12] = [
    (1.0 / 6.0, "10 min"),
    (2.0 / 3.0, "40 min"),
    (2.0, "2 h"),
    (4.0, "4 h"),
    (24.0, "1 d"),
    (72.0, "3 d"),
    (168.0, "7 d"),
    (336.0, "14 d"),
    (672.0, "28 d"),
    (1344.0, "8 wk"),
    (2688.0, "16 wk"),
    (5376.0, "32 wk"),
];

/// Text as SVG/XML character data or attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as an SVG coordinate: two decimals at most, no exponent.
fn n(v: f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    if rounded == rounded.trunc() { format!("{}", rounded as i64) } else { format!("{rounded}") }
}

/// "4 h", "40 min", "3.5 d": an hours figure as a person reads it.
pub fn readable_hours(hours: f64) -> String {
    if hours < 0.0 {
        return format!("{} before", readable_hours(-hours));
    }
    if hours < 1.0 {
        format!("{} min", (hours * 60.0).round())
    } else if hours < 48.0 {
        format!("{} h", (hours * 10.0).round() / 10.0)
    } else {
        format!("{} d", (hours / 24.0 * 10.0).round() / 10.0)
    }
}

/// The log time axis: hours ≥ its first tick map onto `[x0, x1]` by log10; earlier
/// positive hours are drawn at the first tick, hours ≤ 0 in the "before" column.
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis {
    x0: f64,
    x1: f64,
    min: f64,
    max: f64,
}

impl TimeAxis {
    /// An axis reaching at least a week and past the latest time shown.
    pub fn new(latest_hours: f64, x0: f64, x1: f64) -> TimeAxis {
        let wanted = latest_hours.max(168.0);
        let max = TICKS.iter().map(|t| t.0).find(|t| *t >= wanted).unwrap_or(wanted);
        TimeAxis { x0, x1, min: TICKS[0].0, max }
    }

    /// The first session itself (0 h) sits at the axis' start with the first tick.
    pub fn x(&self, hours: f64) -> f64 {
        if hours < 0.0 {
            return self.x0 - BEFORE_WIDTH / 2.0;
        }
        let h = hours.clamp(self.min, self.max);
        self.x0 + (h / self.min).log10() / (self.max / self.min).log10() * (self.x1 - self.x0)
    }

    fn ticks(&self) -> impl Iterator<Item = (f64, &'static str)> + '_ {
        TICKS.iter().copied().filter(|(h, _)| *h <= self.max * 1.0001)
    }

    /// Tick marks, labels and grid lines from `top` to `bottom`.
    fn draw(&self, out: &mut String, top: f64, bottom: f64, with_before: bool) {
        let _ = write!(out, r##"<g class="time-axis" font-size="11" fill="#333" text-anchor="middle">"##);
        for (hours, label) in self.ticks() {
            let x = self.x(hours);
            let _ = write!(
                out,
                r##"<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="#e2e2e2"/><text x="{x}" y="{ty}" data-hours="{h}">{label}</text>"##,
                x = n(x),
                top = n(top),
                bottom = n(bottom),
                ty = n(bottom + 16.0),
                h = hours
            );
        }
        if with_before {
            let _ = write!(
                out,
                r##"<text x="{x}" y="{y}">before</text><line x1="{sep}" y1="{top}" x2="{sep}" y2="{bottom}" stroke="#bbbbbb"/>"##,
                x = n(self.x(-1.0) - 6.0),
                y = n(bottom + 16.0),
                sep = n(self.x0 - 8.0),
                top = n(top),
                bottom = n(bottom)
            );
        }
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" font-size="12">time since the first session (log scale)</text></g>"##,
            n((self.x0 + self.x1) / 2.0),
            n(bottom + 34.0)
        );
    }
}

fn open_svg(out: &mut String, height: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title chart-desc" font-family="{FONT}"><title id="chart-title">{t}</title><desc id="chart-desc">{d}</desc><rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##,
        w = n(WIDTH),
        h = n(height),
        t = escape(title),
        d = escape(desc)
    );
}

/// The value axis of a panel: `value` in `[0, max]` to y between `bottom` and `top`.
fn y_of(value: f64, max: f64, top: f64, bottom: f64) -> f64 {
    bottom - value / max * (bottom - top)
}

fn instrument_name(instrument: Instrument) -> &'static str {
    &instrument.definition().name
}

/// A patient's trajectory: one panel per instrument, score against hours since the
/// first session on a log axis, the sessions marked, severity bands shaded, the
/// baseline drawn, early improvement marked.
pub fn trajectory_svg(trajectory: &Trajectory, infusion_starts: &[DateTime<Utc>]) -> String {
    let first = trajectory.first_infusion_at;
    let session_hours: Vec<f64> = first.map(|f| infusion_starts.iter().map(|s| hours_between(f, *s)).collect()).unwrap_or_default();
    let latest = trajectory
        .series
        .iter()
        .flat_map(|s| s.ratings.iter().filter_map(|r| r.hours_since_first_infusion))
        .chain(session_hours.iter().copied())
        .fold(0.0, f64::max);
    let axis = TimeAxis::new(latest, LEFT + BEFORE_WIDTH, WIDTH - RIGHT);
    let panels = trajectory.series.len().max(1) as f64;
    let height = TOP + panels * (PANEL_HEIGHT + PANEL_GAP);
    let names: Vec<&str> = trajectory.series.iter().map(|s| instrument_name(s.instrument)).collect();
    let desc = if trajectory.series.is_empty() {
        "No ratings recorded yet.".to_string()
    } else {
        format!(
            "Scores of {} against time since the first session on a log scale; {} sessions marked; {} ratings{}.",
            names.join(", "),
            session_hours.len(),
            trajectory.series.iter().map(|s| s.ratings.len()).sum::<usize>(),
            match trajectory.series.iter().map(|s| s.earlier_ratings_omitted).sum::<usize>() {
                0 => String::new(),
                omitted => format!(" (the latest of each instrument; {omitted} earlier ones are not drawn)"),
            }
        )
    };
    let mut out = String::with_capacity(16 * 1024);
    open_svg(&mut out, height, "Symptom trajectory", &desc);
    let _ = write!(out, r##"<text x="{}" y="28" font-size="16" font-weight="bold" fill="#111">Symptom trajectory</text>"##, n(LEFT));
    if trajectory.series.is_empty() {
        let _ = write!(out, r##"<text x="{}" y="{}" font-size="14" fill="#555">No ratings recorded yet.</text></svg>"##, n(LEFT), n(TOP + 40.0));
        return out;
    }
    for (index, series) in trajectory.series.iter().enumerate() {
        let top = TOP + index as f64 * (PANEL_HEIGHT + PANEL_GAP) + 20.0;
        series_panel(&mut out, series, &axis, &session_hours, top, top + PANEL_HEIGHT - 20.0);
    }
    out.push_str("</svg>");
    out
}

fn series_panel(out: &mut String, series: &Series, axis: &TimeAxis, session_hours: &[f64], top: f64, bottom: f64) {
    let instrument = series.instrument;
    let max = f64::from(instrument.max_total());
    let (left, right) = (LEFT, WIDTH - RIGHT);
    let _ = write!(
        out,
        r##"<g class="series" data-instrument="{code}"><text x="{x}" y="{y}" font-size="14" font-weight="bold" fill="#111">{name}</text>"##,
        code = instrument.code(),
        x = n(left),
        y = n(top - 8.0),
        name = instrument_name(instrument)
    );
    // Severity bands, shaded behind everything, labelled at the right.
    for (i, band) in instrument.bands().iter().enumerate() {
        let (y_top, y_bottom) = (y_of(f64::from(band.max) + 0.5, max, top, bottom).max(top), y_of(f64::from(band.min) - 0.5, max, top, bottom).min(bottom));
        let _ = write!(
            out,
            r##"<g class="band" data-min="{min}" data-max="{maxv}"><rect x="{l}" y="{yt}" width="{w}" height="{h}" fill="{fill}"/><text x="{tx}" y="{ty}" font-size="10" fill="#666">{label} ({min}–{maxv})</text></g>"##,
            min = band.min,
            maxv = band.max,
            l = n(left),
            yt = n(y_top),
            w = n(right - left),
            h = n((y_bottom - y_top).max(0.0)),
            fill = BAND_FILLS[i % BAND_FILLS.len()],
            tx = n(right + 6.0),
            ty = n((y_top + y_bottom) / 2.0 + 3.0),
            label = band.label
        );
    }
    axis.draw(out, top, bottom, true);
    // Value axis: 0, the middle and the maximum.
    let _ = write!(out, r##"<g class="value-axis" font-size="11" fill="#333" text-anchor="end">"##);
    for value in [0.0, (max / 2.0).round(), max] {
        let _ = write!(out, r##"<text x="{}" y="{}">{}</text>"##, n(left - 6.0), n(y_of(value, max, top, bottom) + 4.0), value);
    }
    let _ = write!(
        out,
        r##"</g><line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><line x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="#999"/>"##,
        l = n(left),
        r = n(right),
        t = n(top),
        b = n(bottom)
    );
    // Sessions: a dashed line at each start.
    for (i, hours) in session_hours.iter().enumerate() {
        let x = axis.x(*hours);
        let _ = write!(
            out,
            r##"<g class="session" data-hours="{h}"><title>Session {k} at {when}</title><line x1="{x}" y1="{t}" x2="{x}" y2="{b}" stroke="#7a4fb5" stroke-dasharray="4 3"/><text x="{x}" y="{ty}" font-size="10" fill="#7a4fb5" text-anchor="middle">S{k}</text></g>"##,
            h = hours,
            k = i + 1,
            when = readable_hours(*hours),
            x = n(x),
            t = n(top),
            b = n(bottom),
            ty = n(top - 2.0)
        );
    }
    if let Some(baseline) = &series.baseline {
        let y = n(y_of(f64::from(baseline.total), max, top, bottom));
        let _ = write!(
            out,
            r##"<g class="baseline" data-total="{total}"><line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="#444" stroke-dasharray="2 2"/><text x="{r}" y="{ty}" font-size="10" fill="#444" text-anchor="end">baseline {total}</text></g>"##,
            total = baseline.total,
            l = n(left),
            r = n(right),
            y = y,
            ty = n(y_of(f64::from(baseline.total), max, top, bottom) - 3.0)
        );
    }
    let points: Vec<(f64, f64)> = series
        .ratings
        .iter()
        .map(|r| (axis.x(r.hours_since_first_infusion.unwrap_or(-1.0)), y_of(f64::from(r.total), max, top, bottom)))
        .collect();
    if points.len() > 1 {
        let path: Vec<String> = points.iter().map(|(x, y)| format!("{},{}", n(*x), n(*y))).collect();
        let _ = write!(out, r##"<polyline points="{}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>"##, path.join(" "));
    }
    for (rating, (x, y)) in series.ratings.iter().zip(&points) {
        let early = rating.early_improvement == Some(true);
        let when = rating.hours_since_first_infusion.map_or("with no session recorded".to_string(), readable_hours);
        let change = rating.percent_change.map(|p| format!(", {}{:.0} % from baseline", if p >= 0.0 { "−" } else { "+" }, p.abs())).unwrap_or_default();
        let _ = write!(
            out,
            r##"<g class="rating" data-assessment-id="{id}" data-hours="{h}" data-total="{total}" data-early-improvement="{early}"><title>{name} {total} at {when}{change}{mark}</title><circle cx="{x}" cy="{y}" r="{r}" fill="{fill}" stroke="#1f5fa8" stroke-width="2"/></g>"##,
            id = rating.assessment_id,
            h = rating.hours_since_first_infusion.map_or("".to_string(), |h| h.to_string()),
            total = rating.total,
            early = early,
            name = instrument_name(instrument),
            when = when,
            change = escape(&change),
            mark = if early { " (early improvement)" } else { "" },
            x = n(*x),
            y = n(*y),
            r = if early { 6 } else { 4 },
            fill = if early { "#f2b705" } else { "#ffffff" }
        );
    }
    let _ = write!(
        out,
        r##"<g class="legend" font-size="10" fill="#333"><circle cx="{x}" cy="{y}" r="5" fill="#f2b705" stroke="#1f5fa8" stroke-width="2"/><text x="{tx}" y="{ty}">early improvement</text></g></g>"##,
        x = n(right + 10.0),
        y = n(bottom + 26.0),
        tx = n(right + 20.0),
        ty = n(bottom + 30.0)
    );
}

/// The cohort's onset curve: the share reaching the endpoint, 1 − S(t), as a step curve
/// on the log time axis, its 95 % band shaded, censoring ticked, and the number at risk
/// under the axis. A suppressed report draws no curve and says why.
pub fn onset_svg(report: &OnsetReport, instrument: Instrument, endpoint: &str, min_cell: Option<u32>) -> String {
    let title = format!("Time to {} on {}", endpoint.replace('_', " "), instrument_name(instrument));
    let plot_top = TOP + 10.0;
    let plot_bottom = plot_top + 300.0;
    let height = plot_bottom + 110.0;
    let mut out = String::with_capacity(16 * 1024);
    if report.suppressed || report.km.is_empty() {
        let why = match (report.suppressed, min_cell) {
            (true, Some(k)) => format!("Not shown: groups of fewer than {k} patients are suppressed."),
            _ => "No patients in this cohort have rated after a session yet.".to_string(),
        };
        open_svg(&mut out, 140.0, &title, &why);
        let _ = write!(
            out,
            r##"<text x="{l}" y="28" font-size="16" font-weight="bold" fill="#111">{t}</text><text x="{l}" y="72" font-size="14" fill="#555" class="suppressed">{w}</text></svg>"##,
            l = n(LEFT),
            t = escape(&title),
            w = escape(&why)
        );
        return out;
    }
    let last = report.km.last().map_or(0.0, |r| r.hours);
    let axis = TimeAxis::new(last, LEFT, WIDTH - RIGHT);
    let reached = |survival: f64| 1.0 - survival;
    let y = |share: f64| y_of(share, 1.0, plot_top, plot_bottom);
    let median = report.median_hours.map_or("not reached".to_string(), readable_hours);
    let desc = format!(
        "Share of {} patients reaching {} over time since the first session, log scale, with a 95 % confidence band{}; median time {}.",
        report.n_patients.map_or("the".to_string(), |n| n.to_string()),
        endpoint.replace('_', " "),
        if min_cell.is_some() { " (small groups merged or hidden)" } else { "" },
        median
    );
    open_svg(&mut out, height, &title, &desc);
    let _ = write!(out, r##"<text x="{}" y="28" font-size="16" font-weight="bold" fill="#111">{}</text>"##, n(LEFT), escape(&title));
    let _ = write!(out, r##"<text x="{}" y="46" font-size="12" fill="#444">median {}</text>"##, n(LEFT), escape(&median));
    axis.draw(&mut out, plot_top, plot_bottom, false);
    let _ = write!(out, r##"<g class="value-axis" font-size="11" fill="#333" text-anchor="end">"##);
    for share in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(out, r##"<text x="{}" y="{}">{} %</text><line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#eeeeee"/>"##, n(LEFT - 6.0), n(y(share) + 4.0), share * 100.0, n(LEFT), n(WIDTH - RIGHT), y = n(y(share)));
    }
    out.push_str("</g>");
    // The band and the curve are steps: each row's value holds until the next row.
    let mut band_upper = Vec::new();
    let mut band_lower = Vec::new();
    let mut curve = vec![format!("{},{}", n(axis.x(axis.min)), n(y(0.0)))];
    let mut previous = (0.0, Some(0.0), Some(0.0));
    for (i, row) in report.km.iter().enumerate() {
        let x = axis.x(row.hours);
        let next_x = report.km.get(i + 1).map_or(axis.x(axis.max), |r| axis.x(r.hours));
        curve.push(format!("{},{}", n(x), n(y(previous.0))));
        curve.push(format!("{},{}", n(x), n(y(reached(row.survival)))));
        if let (Some(lower), Some(upper)) = (row.ci_lower, row.ci_upper) {
            band_upper.push(format!("{},{} {},{}", n(x), n(y(reached(lower))), n(next_x), n(y(reached(lower)))));
            band_lower.push(format!("{},{} {},{}", n(next_x), n(y(reached(upper))), n(x), n(y(reached(upper)))));
        }
        previous = (reached(row.survival), row.ci_lower, row.ci_upper);
    }
    curve.push(format!("{},{}", n(axis.x(axis.max).min(axis.x(last) + 40.0)), n(y(previous.0))));
    if !band_upper.is_empty() {
        band_lower.reverse();
        let _ = write!(out, r##"<polygon class="confidence-band" points="{} {}" fill="#1f5fa8" fill-opacity="0.15"/>"##, band_upper.join(" "), band_lower.join(" "));
    }
    let _ = write!(out, r##"<polyline class="curve" points="{}" fill="none" stroke="#1f5fa8" stroke-width="2"/>"##, curve.join(" "));
    for row in &report.km {
        let share = reached(row.survival);
        let (x, yv) = (n(axis.x(row.hours)), n(y(share)));
        let opt = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
        let _ = write!(
            out,
            r##"<g class="step" data-hours="{h}" data-reached="{share}" data-survival="{s}" data-at-risk="{ar}" data-events="{ev}" data-censored="{ce}"><title>{when}: {pct:.1} % reached</title><circle cx="{x}" cy="{yv}" r="2.5" fill="#1f5fa8"/>"##,
            h = row.hours,
            share = share,
            s = row.survival,
            ar = opt(row.at_risk),
            ev = opt(row.events),
            ce = opt(row.censored),
            when = readable_hours(row.hours),
            pct = share * 100.0,
        );
        if row.censored.is_some_and(|c| c > 0) {
            let _ = write!(out, r##"<line class="censored" x1="{x}" y1="{a}" x2="{x}" y2="{b}" stroke="#333"/>"##, a = n(y(share) - 5.0), b = n(y(share) + 5.0));
        }
        out.push_str("</g>");
    }
    // Number at risk at each tick: the at-risk count of the first row at or after it.
    let table_y = plot_bottom + 60.0;
    let _ = write!(out, r##"<g class="at-risk" font-size="11" fill="#333" text-anchor="middle"><text x="{}" y="{}" text-anchor="end">at risk</text>"##, n(LEFT - 20.0), n(table_y));
    for (hours, _) in axis.ticks() {
        let count = report.km.iter().find(|r| r.hours >= hours).and_then(|r| r.at_risk);
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" data-hours="{}">{}</text>"##,
            n(axis.x(hours)),
            n(table_y),
            hours,
            count.map_or("–".to_string(), |c| c.to_string())
        );
    }
    out.push_str("</g></svg>");
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_forest_plot_draws_each_term_around_one() {
        let rows = [
            ForestRow { term: "dose_mg_per_kg".into(), hazard_ratio: 0.25, ci_lower: 0.1, ci_upper: 0.6, p: 0.002 },
            ForestRow { term: "route=im".into(), hazard_ratio: 2.0, ci_lower: 0.9, ci_upper: 4.4, p: 0.08 },
        ];
        let svg = forest_svg("What predicts response", "two terms", &rows);
        assert_eq!(svg.matches(r#"<g class="term""#).count(), 2);
        assert!(svg.contains(r#"data-term="route=im" data-hazard-ratio="2" data-ci-lower="0.9" data-ci-upper="4.4""#), "{svg}");
        assert!(svg.contains("0.25 (0.10–0.60), p 0.002"));
        // The square of a hazard ratio below 1 lies left of the line at 1, above 1 right of it.
        let x_of = |needle: &str| -> f64 {
            let at = svg.find(needle).unwrap();
            let rect = &svg[at..][svg[at..].find("<rect x=\"").unwrap() + 9..];
            rect[..rect.find('"').unwrap()].parse().unwrap()
        };
        let one = {
            let line = &svg[svg.find("stroke-dasharray").unwrap() - 80..];
            let x1 = &line[line.find("x1=\"").unwrap() + 4..];
            x1[..x1.find('"').unwrap()].parse::<f64>().unwrap()
        };
        assert!(x_of(r#"data-term="dose_mg_per_kg""#) < one && x_of(r#"data-term="route=im""#) > one);
    }

    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
    }

    #[test]
    fn the_time_axis_is_logarithmic_from_ten_minutes() {
        let axis = TimeAxis::new(100.0, 100.0, 700.0);
        // The axis reaches a week at least: from 10 min to 168 h.
        assert_eq!(axis.max, 168.0);
        assert_eq!(axis.x(1.0 / 6.0), 100.0);
        assert_eq!(axis.x(168.0), 700.0);
        // Equal ratios are equal distances: 2 h → 4 h as far as 12 h → 24 h.
        let (a, b, c, d) = (axis.x(2.0), axis.x(4.0), axis.x(12.0), axis.x(24.0));
        assert!(((b - a) - (d - c)).abs() < 1e-9);
        // Earlier than the first tick sits on it (the first session, at 0 h, too);
        // before the first session, left of it.
        assert_eq!(axis.x(0.01), 100.0);
        assert_eq!(axis.x(0.0), 100.0);
        assert!(axis.x(-3.0) < 100.0);
        assert_eq!(TimeAxis::new(900.0, 0.0, 1.0).max, 1344.0);
    }

    #[test]
    fn hours_read_as_people_say_them() {
        assert_eq!(readable_hours(2.0 / 3.0), "40 min");
        assert_eq!(readable_hours(4.0), "4 h");
        assert_eq!(readable_hours(72.0), "3 d");
        assert_eq!(readable_hours(-24.0), "24 h before");
        assert_eq!(n(1.0), "1");
        assert_eq!(n(1.234), "1.23");
    }
}

/// One row of a forest plot: a model term's hazard ratio and its 95 % interval.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    pub term: String,
    pub hazard_ratio: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    pub p: f64,
}

/// The hazard ratios of a Cox model as a forest plot: a log axis around 1 (no effect),
/// each term's interval as a line and its estimate as a square, the figures beside it.
/// Each term is a `g.term` carrying `data-term`, `data-hazard-ratio`, `data-ci-lower`
/// and `data-ci-upper`.
pub fn forest_svg(title: &str, desc: &str, rows: &[ForestRow]) -> String {
    const ROW: f64 = 34.0;
    const LABEL: f64 = 190.0;
    const FIGURES: f64 = 210.0;
    let (plot_left, plot_right) = (LABEL, WIDTH - FIGURES);
    let top = TOP + 16.0;
    let bottom = top + ROW * rows.len().max(1) as f64;
    let height = bottom + 64.0;
    // A symmetric log range around 1 wide enough for every interval, within 1/100–100.
    let reach = rows
        .iter()
        .flat_map(|r| [r.ci_lower, r.ci_upper, r.hazard_ratio])
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| v.ln().abs())
        .fold(2f64.ln(), f64::max)
        .min(100f64.ln())
        * 1.1;
    let x = |hr: f64| {
        let v = hr.max(1e-300).ln().clamp(-reach, reach);
        plot_left + (v + reach) / (2.0 * reach) * (plot_right - plot_left)
    };
    let mut out = String::with_capacity(4 * 1024);
    open_svg(&mut out, height, title, desc);
    let _ = write!(out, r##"<text x="{l}" y="28" font-size="16" font-weight="bold" fill="#111">{t}</text>"##, l = n(LEFT / 2.0), t = escape(title));
    let _ = write!(
        out,
        r##"<line x1="{x}" y1="{t}" x2="{x}" y2="{b}" stroke="#888" stroke-dasharray="4 3"/><line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#333"/>"##,
        x = n(x(1.0)),
        t = n(top - 8.0),
        b = n(bottom),
        l = n(plot_left),
        r = n(plot_right)
    );
    for tick in [0.01f64, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0].into_iter().filter(|t| t.ln().abs() <= reach) {
        let _ = write!(
            out,
            r##"<line x1="{x}" y1="{b}" x2="{x}" y2="{b2}" stroke="#333"/><text x="{x}" y="{ty}" font-size="11" text-anchor="middle" fill="#333">{label}</text>"##,
            x = n(x(tick)),
            b = n(bottom),
            b2 = n(bottom + 5.0),
            ty = n(bottom + 18.0),
            label = tick
        );
    }
    let _ = write!(
        out,
        r##"<text x="{xl}" y="{y}" font-size="12" text-anchor="end" fill="#555">← slower</text><text x="{xr}" y="{y}" font-size="12" fill="#555">faster →</text><text x="{c}" y="{y2}" font-size="12" text-anchor="middle" fill="#333">hazard ratio (log scale)</text>"##,
        xl = n(x(1.0) - 6.0),
        xr = n(x(1.0) + 6.0),
        y = n(top - 12.0),
        c = n((plot_left + plot_right) / 2.0),
        y2 = n(bottom + 40.0)
    );
    for (i, row) in rows.iter().enumerate() {
        let y = top + ROW * (i as f64 + 0.5);
        let figures = format!("{:.2} ({:.2}–{:.2}), p {}", row.hazard_ratio, row.ci_lower, row.ci_upper, if row.p < 0.001 { "< 0.001".to_string() } else { format!("{:.3}", row.p) });
        let _ = write!(
            out,
            r##"<g class="term" data-term="{term}" data-hazard-ratio="{hr}" data-ci-lower="{lo}" data-ci-upper="{hi}"><title>{term}: hazard ratio {figures}</title><text x="{lx}" y="{ty}" font-size="13" text-anchor="end" fill="#111">{term}</text><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#1f4e79" stroke-width="2"/><rect x="{sx}" y="{sy}" width="10" height="10" fill="#1f4e79"/><text x="{fx}" y="{ty}" font-size="12" fill="#333">{figures}</text></g>"##,
            term = escape(&row.term),
            hr = row.hazard_ratio,
            lo = row.ci_lower,
            hi = row.ci_upper,
            lx = n(plot_left - 10.0),
            ty = n(y + 4.0),
            x1 = n(x(row.ci_lower)),
            x2 = n(x(row.ci_upper)),
            y = n(y),
            sx = n(x(row.hazard_ratio) - 5.0),
            sy = n(y - 5.0),
            fx = n(plot_right + 10.0),
            figures = escape(&figures)
        );
    }
    out.push_str("</svg>");
    out
}

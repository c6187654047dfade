//! The latency plot: a percentile distribution drawn as a small SVG by hand.
//!
//! Like HdrHistogram's plotter, the x axis is 1/(1−p) on a log scale, so
//! the tail gets as much room as the median (labels 0%, 90%, 99%, ...).
//! The y axis is latency in µs, on a log scale too: a point query (tens of
//! µs) and an overloaded corrected series (milliseconds) fit on one plot.
//! Corrected series are solid lines, uncorrected ones dashed.
//!
//! Why not the `plotters` crate: with only its SVG backend it costs about
//! 7 s of clean build and 160 KB of binary (measured), which is cheap, but
//! this plot needs one chart type, fixed ticks and a legend; 150 lines of
//! SVG text do that with no dependency to keep up to date.

use std::fmt::Write as _;

use super::histogram::Series;

const WIDTH: f64 = 1040.0;
const HEIGHT: f64 = 560.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 340.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// Line colours, one per series name (corrected and uncorrected share one).
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// One series' points: (1/(1−p), latency µs).
fn points(s: &Series) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for v in s.hist.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            pts.push((1.0 / (1.0 - q), v.value_iterated_to() as f64 / 1000.0));
        }
    }
    pts
}

/// Escapes text for an SVG text node or attribute.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A percentile label for a power of ten of 1/(1−p): 1 → 0%, 10 → 90%,
/// 1000 → 99.9%.
fn percent_label(decade: i32) -> String {
    if decade == 0 {
        return "0%".into();
    }
    let p = 100.0 - 100.0 / 10f64.powi(decade);
    let digits = (decade - 2).max(0) as usize;
    format!("{p:.digits$}%")
}

/// A latency label: 1 µs, 100 µs, 10 ms, 1 s.
fn latency_label(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{} s", us / 1_000_000.0)
    } else if us >= 1000.0 {
        format!("{} ms", us / 1000.0)
    } else {
        format!("{us} µs")
    }
}

/// Draws every non-empty series on one percentile-distribution plot.
pub fn svg(title: &str, subtitle: &str, series: &[Series]) -> String {
    let drawn: Vec<(&Series, Vec<(f64, f64)>)> = series
        .iter()
        .filter(|s| !s.hist.is_empty())
        .map(|s| (s, points(s)))
        .collect();
    // Axis ranges: whole decades around the data.
    let x_max = drawn
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(10.0f64, f64::max);
    let x_decades = x_max.log10().ceil().clamp(1.0, 7.0) as i32;
    let (mut y_lo, mut y_hi) = (f64::INFINITY, 0.0f64);
    for (s, p) in &drawn {
        for (_, y) in p {
            y_lo = y_lo.min(*y);
        }
        y_hi = y_hi.max(s.max_micros());
    }
    if !y_lo.is_finite() || y_lo <= 0.0 {
        y_lo = 1.0;
    }
    let y_lo_dec = y_lo.max(0.01).log10().floor() as i32;
    let y_hi_dec = (y_hi.max(y_lo * 10.0).log10().ceil() as i32).max(y_lo_dec + 1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let xs = |x: f64| LEFT + x.max(1.0).log10() / f64::from(x_decades) * plot_w;
    let ys = |y: f64| {
        let t = (y.max(10f64.powi(y_lo_dec)).log10() - f64::from(y_lo_dec))
            / f64::from(y_hi_dec - y_lo_dec);
        TOP + plot_h - t * plot_h
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" font-size="16" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        esc(title)
    );
    let _ = writeln!(
        out,
        r##"<text x="{}" y="40" text-anchor="middle" fill="#555">{}</text>"##,
        LEFT + plot_w / 2.0,
        esc(subtitle)
    );
    // Grid and ticks.
    for d in 0..=x_decades {
        let x = xs(10f64.powi(d));
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0,
            percent_label(d)
        );
    }
    for d in y_lo_dec..=y_hi_dec {
        let v = 10f64.powi(d);
        let y = ys(v);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            latency_label(v)
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile (log scale of 1/(1−p))</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 18.0
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">latency (log scale)</text>"#,
        TOP + plot_h / 2.0
    );
    // Series and legend.
    let mut names: Vec<&str> = Vec::new();
    for (i, (s, pts)) in drawn.iter().enumerate() {
        let colour_index = match names.iter().position(|n| *n == s.name) {
            Some(k) => k,
            None => {
                names.push(&s.name);
                names.len() - 1
            }
        };
        let colour = PALETTE[colour_index % PALETTE.len()];
        let dash = if s.measure == "uncorrected" {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let path: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", xs(*x), ys(*y)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#,
            path.join(" ")
        );
        let ly = TOP + 10.0 + i as f64 * 20.0;
        let lx = LEFT + plot_w + 14.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/><text x="{}" y="{}">{} ({}) p99 {}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            esc(&s.name),
            esc(&s.measure),
            latency_label_round(s.micros_at(0.99))
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A p99 for the legend, with three significant digits.
fn latency_label_round(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.3} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn labels() {
        assert_eq!(percent_label(0), "0%");
        assert_eq!(percent_label(1), "90%");
        assert_eq!(percent_label(2), "99%");
        assert_eq!(percent_label(3), "99.9%");
        assert_eq!(percent_label(5), "99.999%");
        assert_eq!(latency_label(10.0), "10 µs");
        assert_eq!(latency_label(10_000.0), "10 ms");
    }

    #[test]
    fn draws_a_line_per_series_and_escapes_names() {
        let mut a = Series::new("a<b", "corrected");
        let mut b = Series::new("a<b", "uncorrected");
        for us in 1..=10_000u64 {
            a.record(Duration::from_micros(us * 3));
            b.record(Duration::from_micros(us));
        }
        let empty = Series::new("empty", "corrected");
        let svg = svg("t & u", "sub", &[a, b, empty]);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2, "empty series skipped");
        assert!(svg.contains("a&lt;b (corrected)"));
        assert!(svg.contains("t &amp; u"));
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains(">99.99%<"));
    }
}

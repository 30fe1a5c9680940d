//! `cashier bench`'s chart, readable and attributable on its own: throughput and latency over
//! the run's seconds, each panel with ticked axes in their units and gridlines, a legend, and
//! the workload printed on it (clients, store, flow, batch size, loop, duration, the date and
//! the commit). Written as SVG, and as PNG rendered from the same SVG.

use serde_json::Value;
use std::fmt::Write;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const PANEL: f64 = 200.0;
const THROUGHPUT: &str = "#2ca02c";
const P50: &str = "#1f77b4";
const P99: &str = "#d62728";

/// Ticks from 0 to at least `max`: a step of 1, 2 or 5 times a power of ten, at most six of them.
fn ticks(max: f64) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power);
    let count = (max / step).ceil() as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

/// A tick's label: thousands grouped, decimals only where the step needs them.
fn label(value: f64, step: f64) -> String {
    if step >= 1.0 {
        let whole = value.round() as i64;
        let digits = whole.abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if whole < 0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    } else {
        let places = (-step.log10().floor()) as usize;
        format!("{value:.places$}")
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One panel at `top`: gridlines and ticks on both axes, the y axis titled `unit`, and a line
/// a series.
fn panel(out: &mut String, top: f64, unit: &str, seconds: usize, series: &[(&[f64], &str)]) {
    let max = series.iter().flat_map(|(values, _)| values.iter().copied()).fold(0.0f64, f64::max);
    let y_ticks = ticks(max);
    let top_value = *y_ticks.last().unwrap_or(&1.0);
    let step = y_ticks.get(1).copied().unwrap_or(1.0);
    let plot = WIDTH - LEFT - RIGHT;
    let x_of = |second: f64| LEFT + second / (seconds.max(1) as f64) * plot;
    let y_of = |value: f64| top + PANEL - value / top_value * PANEL;
    for &value in &y_ticks {
        let y = y_of(value);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            label(value, step)
        );
    }
    for second in ticks(seconds as f64).into_iter().filter(|s| *s <= seconds as f64) {
        let x = x_of(second);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#e3e3e3"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            top + PANEL,
            top + PANEL + 15.0,
            label(second, 1.0)
        );
    }
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{top}" width="{plot:.1}" height="{PANEL}" fill="none" stroke="#888"/>
<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 {:.1} {:.1})">{}</text>
<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">seconds since the start</text>"##,
        LEFT - 52.0,
        top + PANEL / 2.0,
        LEFT - 52.0,
        top + PANEL / 2.0,
        esc(unit),
        LEFT + plot / 2.0,
        top + PANEL + 32.0
    );
    for (values, color) in series {
        // Each second's value at the middle of its second.
        let points: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x_of(i as f64 + 0.5), y_of(*v))).collect();
        let _ = write!(out, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#, points.join(" "));
    }
}

/// The chart of a `cashier bench` report.
pub fn svg(report: &Value) -> String {
    let timeline = report["timeline"].as_array().cloned().unwrap_or_default();
    let series = |name: &str| timeline.iter().map(|p| p[name].as_f64().unwrap_or(0.0)).collect::<Vec<f64>>();
    let (journals, p50, p99) = (series("journals"), series("p50_ms"), series("p99_ms"));
    let seconds = timeline.len().max(1);
    let w = &report["workload"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let loop_kind = match w["rate"].as_f64() {
        Some(rate) => format!("open loop at {} requests/s", label(rate, 1.0)),
        None => "closed loop".into(),
    };
    let workload = format!(
        "{} clients · {} store · JNLC flow {} · batch {} · {} · {} s · JNLS share {} · read share {}",
        text(&w["clients"]),
        text(&w["store"]),
        text(&w["flow"]),
        text(&w["batch"]),
        loop_kind,
        text(&w["seconds"]),
        text(&w["jnls_share"]),
        w["reads"].as_f64().unwrap_or(0.0),
    );
    // The date to the second, in UTC; the JSON keeps the exact time.
    let date = text(&report["date"]);
    let date = match (date.get(..10), date.get(11..19)) {
        (Some(day), Some(clock)) => format!("{day} {clock} UTC"),
        _ => date,
    };
    let made = format!("{date} · commit {}", text(&report["commit"]));
    let rate = report["journals_per_second"].as_f64().unwrap_or(0.0);
    let l = &report["latency_ms"];
    let mut headline = format!("cashier bench: {} journals/s, p50 {} ms, p99 {} ms", label(rate, 1.0), text(&l["p50"]), text(&l["p99"]));
    let reads = &report["reads"];
    if reads["answered"].as_u64().unwrap_or(0) > 0 {
        let per_second = reads["per_second"].as_f64().unwrap_or(0.0);
        let _ = write!(headline, "; reads {}/s, p99 {} ms", label(per_second, 1.0), text(&reads["latency_ms"]["p99"]));
    }
    let (top1, top2) = (110.0, 110.0 + PANEL + 80.0);
    let height = top2 + PANEL + 50.0;
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="28" font-size="17" font-weight="bold">{}</text>
<text x="{LEFT}" y="50" font-size="12" id="workload">{}</text>
<text x="{LEFT}" y="68" font-size="12" fill="#555" id="made">{}</text>"##,
        esc(&headline),
        esc(&workload),
        esc(&made)
    );
    // The legend, top right of the first panel.
    let legend = [(THROUGHPUT, "journals per second"), (P50, "p50 latency"), (P99, "p99 latency")];
    let mut x = LEFT;
    for (color, name) in legend {
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="80" width="18" height="4" fill="{color}"/><text x="{:.1}" y="86" font-size="12">{name}</text>"#,
            x + 24.0
        );
        x += 40.0 + name.len() as f64 * 7.0;
    }
    panel(&mut out, top1, "journals per second", seconds, &[(&journals, THROUGHPUT)]);
    panel(&mut out, top2, "latency, ms", seconds, &[(&p50, P50), (&p99, P99)]);
    out.push_str("</svg>\n");
    out
}

/// The same chart as a PNG, rendered from the SVG with the system's fonts.
pub fn png(svg: &str) -> Result<Vec<u8>, String> {
    let mut options = resvg::usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    if options.fontdb.is_empty() {
        eprintln!("cashier bench: no system font found; the PNG chart has no text (the SVG has it; Debian: fonts-dejavu-core)");
    }
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(|e| format!("the chart's SVG does not parse: {e}"))?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("the chart has no size")?;
    resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| format!("cannot encode the chart as PNG: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(27_400.0), vec![0.0, 10_000.0, 20_000.0, 30_000.0]);
        assert_eq!(ticks(14_000.0), vec![0.0, 5_000.0, 10_000.0, 15_000.0]);
        assert_eq!(ticks(10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(label(25_000.0, 5_000.0), "25,000");
        assert_eq!(label(0.4, 0.2), "0.4");
    }

    #[test]
    fn the_chart_carries_its_workload_axes_and_legend_and_renders_as_png() {
        let report = json!({
            "workload": {"store": "sqlite", "clients": 256, "seconds": 10.0, "rate": null, "batch": 1, "jnls_share": 0.0, "flow": "v1"},
            "journals_per_second": 27_400.0,
            "latency_ms": {"p50": 8.1, "p99": 26.0},
            "date": "2026-12-03T11:40:00Z",
            "commit": "abc1234",
            "timeline": (0..10).map(|s| json!({"second": s, "journals": 27_000 + s * 100, "p50_ms": 8.0, "p99_ms": 25.0 + s as f64})).collect::<Vec<_>>(),
        });
        let svg = svg(&report);
        for expected in [
            "256 clients · sqlite store · JNLC flow v1 · batch 1 · closed loop · 10.0 s · JNLS share 0.0 · read share 0",
            "2026-12-03 11:40:00 UTC · commit abc1234",
            "journals per second",
            "p99 latency",
            "latency, ms",
            "seconds since the start",
            ">30,000<",
            "27,400 journals/s",
        ] {
            assert!(svg.contains(expected), "{expected} missing from the chart");
        }
        let png = png(&svg).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 10_000, "a real picture, not an empty one: {} bytes", png.len());
    }
}

//! Charts the binary draws itself: SVG bar and line charts with axes, labels
//! and an accessible title and description. No script, no third party.

use std::fmt::Write;

/// A value as SVG text: characters XML forbids dropped, the rest escaped.
fn escape(text: &str) -> String {
    quick_xml::escape::escape(crate::xml::clean(text).as_ref()).into_owned()
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 34.0;
/// Series colours (CSS classes carry them; these are the fallbacks).
const COLOURS: &[&str] = &["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c"];

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// The top of the value axis for data up to `max`: four whole-number steps
/// of 1, 2, 2.5 or 5 times a power of ten (counts never get fractional ticks).
pub fn axis_top(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 4.0;
    }
    let quarter = max / 4.0;
    let magnitude = 10f64.powf(quarter.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .filter(|v| v.fract() == 0.0 || *v < 1.0)
        .find(|v| *v >= quarter)
        .unwrap_or(10.0 * magnitude);
    4.0 * step.max(1.0)
}

fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// The frame: svg element, title, description, grid lines and y labels.
fn frame(out: &mut String, id: &str, title: &str, description: &str, max: f64) {
    let _ = write!(
        out,
        r##"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"##,
        escape(title),
        escape(description)
    );
    let plot_h = HEIGHT - TOP - BOTTOM;
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            out,
            r##"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#4b5563">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            number(v)
        );
    }
    let _ = write!(
        out,
        r##"<line class="axis-line" x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#9ca3af"/>"##,
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h
    );
}

/// X labels, thinned so they never overlap.
fn x_labels(out: &mut String, labels: &[String], x_of: impl Fn(usize) -> f64) {
    let every = labels.len().div_ceil(12).max(1);
    for (i, label) in labels.iter().enumerate() {
        if i % every == 0 || i + 1 == labels.len() && labels.len() <= 12 {
            let _ = write!(
                out,
                r##"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#4b5563">{}</text>"##,
                x_of(i),
                HEIGHT - BOTTOM + 16.0,
                escape(label.as_str())
            );
        }
    }
}

/// A bar chart of labelled values; each bar has its value as a tooltip.
pub fn bar_chart(id: &str, title: &str, bars: &[(String, f64)]) -> String {
    let max = axis_top(bars.iter().map(|(_, v)| *v).fold(0.0, f64::max));
    let total: f64 = bars.iter().map(|(_, v)| v).sum();
    let description = format!(
        "{} bars, highest {}, total {}",
        bars.len(),
        number(bars.iter().map(|(_, v)| *v).fold(0.0, f64::max)),
        number(total)
    );
    let mut out = String::new();
    frame(&mut out, id, title, &description, max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / bars.len().max(1) as f64;
    let bar_w = (slot * 0.7).max(1.0);
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = plot_h * value / max;
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let _ = write!(
            out,
            r##"<rect class="bar" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{}"><title>{}: {}</title></rect>"##,
            TOP + plot_h - h,
            COLOURS[0],
            escape(label.as_str()),
            number(*value)
        );
    }
    let labels: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
    x_labels(&mut out, &labels, |i| LEFT + slot * i as f64 + slot / 2.0);
    out.push_str("</svg>");
    out
}

/// A line chart of several series over the same labels, with a legend.
pub fn line_chart(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    let totals: Vec<String> =
        series.iter().map(|s| format!("{} {}", s.name, number(s.values.iter().sum()))).collect();
    let description = format!("{} points per series; totals: {}", labels.len(), totals.join(", "));
    line_chart_described(id, title, &description, labels, series)
}

/// A line chart with its own description; a value that is not finite (NaN:
/// nothing measured that day) leaves a gap in its line.
pub fn line_chart_described(
    id: &str,
    title: &str,
    description: &str,
    labels: &[String],
    series: &[Series],
) -> String {
    let highest =
        series.iter().flat_map(|s| s.values.iter().copied()).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let max = axis_top(highest);
    let mut out = String::new();
    frame(&mut out, id, title, description, max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let step = if labels.len() > 1 { plot_w / (labels.len() - 1) as f64 } else { 0.0 };
    let x_of = |i: usize| if labels.len() > 1 { LEFT + step * i as f64 } else { LEFT + plot_w / 2.0 };
    for (n, s) in series.iter().enumerate() {
        let colour = COLOURS[n % COLOURS.len()];
        // One polyline per run of measured values.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, v) in s.values.iter().enumerate() {
            if v.is_finite() {
                if let Some(run) = runs.last_mut() {
                    run.push((x_of(i), TOP + plot_h - plot_h * v / max));
                }
            } else if runs.last().is_some_and(|run| !run.is_empty()) {
                runs.push(Vec::new());
            }
        }
        for points in runs.iter().filter(|run| !run.is_empty()) {
            let text: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                out,
                r##"<polyline class="series s{n}" fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}</title></polyline>"##,
                text.join(" "),
                escape(s.name.as_str())
            );
            // A point between two gaps would draw nothing: a dot shows it.
            if let [(x, y)] = points.as_slice() {
                let _ = write!(
                    out,
                    r##"<circle class="series s{n}" cx="{x:.1}" cy="{y:.1}" r="3" fill="{colour}"><title>{}</title></circle>"##,
                    escape(s.name.as_str())
                );
            }
        }
        let lx = LEFT + 8.0 + 130.0 * n as f64;
        let _ = write!(
            out,
            r##"<rect x="{lx:.1}" y="2" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="11" font-size="11" fill="#111827">{}</text>"##,
            lx + 14.0,
            escape(s.name.as_str())
        );
    }
    x_labels(&mut out, labels, x_of);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_has_four_whole_steps() {
        assert_eq!(axis_top(0.0), 4.0);
        assert_eq!(axis_top(1.0), 4.0);
        assert_eq!(axis_top(7.0), 8.0);
        assert_eq!(axis_top(13.0), 20.0);
        assert_eq!(axis_top(41.0), 80.0);
        assert_eq!(axis_top(100.0), 100.0);
    }

    #[test]
    fn a_bar_chart_has_one_bar_per_value_scaled_to_the_axis() {
        let svg =
            bar_chart("c", "Calls <by hour>", &[("9".into(), 5.0), ("10".into(), 10.0), ("11".into(), 0.0)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("<title id=\"c-t\">Calls &lt;by hour&gt;</title>"), "{svg}");
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3);
        // max 10 -> steps of 5 up to 20: the 10-bar fills half the plot (95 of 190 px).
        assert!(svg.contains(r#"height="95.0""#), "{svg}");
        assert!(svg.contains(r#"height="47.5""#), "{svg}");
        assert!(svg.contains(">20</text>") && svg.contains(">15</text>") && !svg.contains(".5</text>"));
        assert!(svg.contains("<title>10: 10</title>"));
        assert!(svg.contains("total 15"));
    }

    #[test]
    fn a_line_chart_plots_each_series_with_a_legend() {
        let labels: Vec<String> = (1..=30).map(|d| format!("d{d}")).collect();
        let series = vec![
            Series { name: "Chats".into(), values: (0..30).map(f64::from).collect() },
            Series { name: "Leads".into(), values: vec![1.0; 30] },
        ];
        let svg = line_chart("l", "Activity", &labels, &series);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.matches(',').count() >= 60);
        assert!(svg.contains(">Chats</text>") && svg.contains(">Leads</text>"));
        // 30 labels are thinned to at most 12 or so.
        assert!(svg.matches(">d").count() <= 16, "{svg}");
        assert!(svg.contains("Chats 435"));
        // The first point of the rising series sits on the x axis.
        assert!(svg.contains("points=\"44.0,206.0"), "{svg}");
    }

    #[test]
    fn a_day_without_a_value_leaves_a_gap() {
        let labels: Vec<String> = (1..=5).map(|d| format!("d{d}")).collect();
        let series = vec![Series { name: "Median".into(), values: vec![1.0, 2.0, f64::NAN, 2.0, f64::NAN] }];
        let svg = line_chart_described("g", "Latency", "seconds", &labels, &series);
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "the lone point is a dot: {svg}");
        assert!(!svg.contains("NaN"), "{svg}");
    }
}

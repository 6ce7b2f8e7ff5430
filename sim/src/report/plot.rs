//! The report's SVG plot, written next to its JSON: availability, shards
//! below target and lost, and repair traffic over the run, for a person
//! without a plotting tool.

use super::{size, span, Report};
use std::fmt::Write as _;

impl Report {
    /// Three stacked panels over time: availability, shards below target and
    /// lost, cumulative repair traffic.
    pub fn svg(&self) -> String {
        let (w, ph, left, top) = (760.0, 150.0, 70.0, 40.0);
        let h = top + 3.0 * (ph + 40.0);
        let tmax = self.series.last().map_or(1.0, |s| s.t).max(1e-9);
        let mut o = String::new();
        let _ = write!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#
        );
        let _ = write!(
            o,
            r#"<rect width="100%" height="100%" fill="white"/><text x="{left}" y="20" font-size="14">{} ({} mode, {} placement, seed {})</text>"#,
            xml(&self.scenario),
            self.mode,
            self.placement,
            self.seed
        );
        type Line<'a> = (&'a str, &'a str, Vec<f64>);
        let panels: [(&str, Vec<Line>); 3] = [
            (
                "availability (share of backups restorable now)",
                vec![(
                    "availability",
                    "#1b7837",
                    self.series.iter().map(|s| s.availability).collect(),
                )],
            ),
            (
                "shards below target / lost",
                vec![
                    (
                        "below target",
                        "#e08214",
                        self.series
                            .iter()
                            .map(|s| s.shards_below_target as f64)
                            .collect(),
                    ),
                    (
                        "lost",
                        "#b2182b",
                        self.series.iter().map(|s| s.shards_lost as f64).collect(),
                    ),
                ],
            ),
            (
                "repair traffic so far (bytes)",
                vec![(
                    "repair bytes",
                    "#2166ac",
                    self.series.iter().map(|s| s.repair_bytes as f64).collect(),
                )],
            ),
        ];
        for (i, (title, lines)) in panels.iter().enumerate() {
            let y0 = top + i as f64 * (ph + 40.0);
            let pw = w - left - 20.0;
            let ymax = lines
                .iter()
                .flat_map(|l| l.2.iter().copied())
                .fold(0.0f64, f64::max)
                .max(1.0);
            let _ = write!(
                o,
                r##"<text x="{left}" y="{}">{}</text><rect x="{left}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##,
                y0 + 12.0,
                xml(title),
                y0 + 18.0
            );
            let _ = write!(
                o,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text><text x="{}" y="{}" text-anchor="end">0</text>"#,
                left - 4.0,
                y0 + 28.0,
                axis(ymax, i == 2),
                left - 4.0,
                y0 + 18.0 + ph
            );
            for (j, (name, colour, ys)) in lines.iter().enumerate() {
                let pts: Vec<String> = self
                    .series
                    .iter()
                    .zip(ys)
                    .map(|(s, y)| {
                        format!(
                            "{:.1},{:.1}",
                            left + s.t / tmax * pw,
                            y0 + 18.0 + ph - y / ymax * ph
                        )
                    })
                    .collect();
                let _ = write!(
                    o,
                    r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/><text x="{}" y="{}" fill="{colour}">{name}</text>"#,
                    pts.join(" "),
                    left + pw - 120.0 * (j as f64 + 1.0),
                    y0 + 12.0
                );
            }
            let _ = write!(
                o,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                left + pw,
                y0 + 32.0 + ph,
                span(tmax)
            );
        }
        o.push_str("</svg>\n");
        o
    }
}

fn axis(v: f64, bytes: bool) -> String {
    if bytes {
        size(v as u64)
    } else if v <= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

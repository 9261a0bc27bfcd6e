//! The dashboard's charts as inline SVG (no script, no external host): vertical bars over
//! time and horizontal bars by name, each bar with a `<title>` for its exact number.

use std::fmt::Write;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Vertical bars (`label`, `total`, `highlighted` part of it): the hours of a day, with the
/// completed part of each hour's orders drawn darker.
pub fn columns(id: &str, bars: &[(String, u64, u64)]) -> String {
    let (width, height, top) = (720.0_f64, 200.0_f64, 10.0_f64);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let step = width / bars.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg id="{id}" viewBox="0 0 {width} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        height + 24.0,
        escape(id)
    );
    for (i, (label, total, part)) in bars.iter().enumerate() {
        let x = i as f64 * step + step * 0.1;
        let w = step * 0.8;
        let h = (*total as f64 / max) * (height - top);
        let hp = (*part as f64 / max) * (height - top);
        let _ = write!(
            svg,
            r##"<g class="bar" data-label="{l}" data-total="{total}" data-part="{part}"><title>{l}: {total} ({part} completed)</title><rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{h:.1}" fill="#9cc3ec"/><rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{hp:.1}" fill="#0b6bcb"/></g>"##,
            height - h,
            height - hp,
            l = escape(label),
        );
        if i % 3 == 0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="11" fill="#5b6470">{}</text>"##,
                x,
                height + 16.0,
                escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars (`label`, `value`, `text` shown after the bar), longest first as given.
pub fn rows(id: &str, bars: &[(String, f64, String)]) -> String {
    let (width, row) = (720.0_f64, 26.0_f64);
    let label_width = 160.0;
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9);
    let height = row * bars.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg id="{id}" viewBox="0 0 {width} {height}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(id)
    );
    if bars.is_empty() {
        svg.push_str(r##"<text x="0" y="18" font-size="13" fill="#5b6470">No orders yet.</text>"##);
    }
    for (i, (label, value, text)) in bars.iter().enumerate() {
        let y = i as f64 * row;
        let w = (value / max) * (width - label_width - 90.0);
        let _ = write!(
            svg,
            r##"<g class="bar" data-label="{l}" data-value="{t}"><title>{l}: {t}</title><text x="0" y="{:.1}" font-size="13" fill="#1b1f24">{l}</text><rect x="{label_width}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="#0b6bcb"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#5b6470">{t}</text></g>"##,
            y + 17.0,
            y + 5.0,
            row - 10.0,
            label_width + w + 6.0,
            y + 17.0,
            l = escape(label),
            t = escape(text),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_every_bar_is_drawn() {
        let svg = rows(
            "c",
            &[
                ("<b>&".into(), 2.0, "2".into()),
                ("x".into(), 1.0, "1".into()),
            ],
        );
        assert!(svg.contains("&lt;b&gt;&amp;"));
        assert!(!svg.contains("<b>"));
        assert_eq!(svg.matches("<g class=\"bar\"").count(), 2);
        let svg = columns("h", &[("00".into(), 4, 3), ("01".into(), 0, 0)]);
        assert!(svg.contains(r#"data-total="4" data-part="3""#));
    }
}

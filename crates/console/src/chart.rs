//! Bar charts as SVG, drawn on the server: one horizontal bar per published cell, its label and
//! its number as real text (a screen reader reads them, and so does a search in the page), a
//! `<title>` and `<desc>` for the chart. Hand-written rather than from a charting crate: the
//! charting crates draw text as paths or need a font stack, and none writes the accessible
//! names and the "perturbed" marking this needs; a bar chart is a few rectangles.

use std::fmt::Write;

/// One bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: u32,
    /// The value is perturbed (cell key): drawn hatched and written "≈ n".
    pub perturbed: bool,
}

const WIDTH: u32 = 640;
const LABEL: u32 = 200;
const ROW: u32 = 26;
const BAR: u32 = 18;
const NUMBER: u32 = 56;

/// A chart of `bars`, `id` unique in the page (for the accessible name's references).
pub fn bars(id: &str, title: &str, description: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = ROW * u32::try_from(bars.len()).unwrap_or(u32::MAX / ROW).max(1) + 8;
    let room = WIDTH - LABEL - NUMBER;
    let mut svg = String::new();
    let id = escape(id);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" \
         aria-labelledby=\"{id}-t {id}-d\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>\
         <defs><pattern id=\"{id}-hatch\" width=\"6\" height=\"6\" \
         patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"6\" height=\"6\" fill=\"#1f4e8c\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#ffffff\" stroke-width=\"2\"/>\
         </pattern></defs>",
        escape(title),
        escape(description)
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"8\" y=\"20\" fill=\"#1a1a1a\" font-size=\"14\">Geen gepubliceerde cellen</text>"
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = 4 + ROW * u32::try_from(i).unwrap_or(0);
        let length = (u64::from(bar.value) * u64::from(room) / u64::from(max)) as u32;
        let fill = if bar.perturbed {
            format!("url(#{id}-hatch)")
        } else {
            "#1f4e8c".to_owned()
        };
        let shown = if bar.perturbed {
            format!("≈ {}", bar.value)
        } else {
            bar.value.to_string()
        };
        let _ = write!(
            svg,
            "<g><text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" fill=\"#1a1a1a\" \
             font-size=\"13\">{label}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" fill=\"{fill}\" \
             stroke=\"#1f4e8c\"/>\
             <text x=\"{nx}\" y=\"{ty}\" fill=\"#1a1a1a\" font-size=\"13\">{shown}</text></g>",
            lx = LABEL - 8,
            ty = y + 14,
            label = escape(&bar.label),
            w = length.max(1),
            nx = LABEL + length + 6,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// XML text and attribute escaping.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_names_itself_marks_perturbed_values_and_escapes_labels() {
        let svg = bars(
            "g",
            "Per gemeente",
            "Aantallen, verstoord",
            &[
                Bar {
                    label: "<GM0014>".into(),
                    value: 12,
                    perturbed: true,
                },
                Bar {
                    label: "onbekend".into(),
                    value: 6,
                    perturbed: false,
                },
            ],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("role=\"img\"") && svg.contains("<title id=\"g-t\">Per gemeente"));
        assert!(svg.contains("&lt;GM0014&gt;") && !svg.contains("<GM0014>"));
        assert!(svg.contains("≈ 12") && svg.contains(">6</text>"));
        assert!(svg.contains("url(#g-hatch)"));
        // The longest bar fills the room; the other is half as long.
        assert!(svg.contains(&format!("width=\"{}\"", WIDTH - LABEL - NUMBER)));
        assert!(svg.contains(&format!("width=\"{}\"", (WIDTH - LABEL - NUMBER) / 2)));
        assert!(bars("e", "Leeg", "", &[]).contains("Geen gepubliceerde cellen"));
    }
}

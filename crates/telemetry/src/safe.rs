//! Text from outside on its way into a log line, a processing-log attribute or an audit entry:
//! escaped and bounded, so no caller can forge a line, hide text behind a control character or
//! bidi override, or fill a disk with one request.
//!
//! [`bounded`] is the rule, used by the audit trail for every text it stores. [`SafeFields`] and
//! [`OneLine`] apply it by construction to the human-readable log: every field value and message
//! whatever the code that logs it put in, and every line as a whole. The OTLP export applies it
//! to every attribute before a span leaves the role (`export`).
//!
//! Escaped are the backslash itself (so an escape in the output always was a character in the
//! input) and every character of Unicode's general categories *Other* (controls such as `\n`,
//! `\r`, NUL, ESC, U+0085; format characters such as the bidi override U+202E and the zero-width
//! joiners; private-use and unassigned code points) and the line and paragraph separators
//! U+2028 and U+2029. A text longer than its bound is cut at a character and ends in
//! [`TRUNCATED`].

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// The most bytes of one field value in a log line, escaped, [`TRUNCATED`] included.
pub const VALUE_MAX: usize = 256;
/// The most bytes of one log message (or an error with its sources), escaped.
pub const MESSAGE_MAX: usize = 1024;
/// The most bytes of one log line, the newline excluded.
pub const LINE_MAX: usize = 8192;
/// The most bytes of one string attribute of an exported processing-log span.
pub const ATTRIBUTE_MAX: usize = 4096;
/// Ends a text that was cut at its bound.
pub const TRUNCATED: &str = "…";

/// `text` escaped and cut to at most `max` bytes (cut texts end in [`TRUNCATED`]).
pub fn bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    let mut sink = Bounded::new(&mut out, max, false);
    let _ = sink.write_str(text);
    sink.finish();
    out
}

/// [`bounded`] for anything displayable, without rendering more of it than the bound.
pub fn bounded_display(value: &dyn fmt::Display, max: usize) -> String {
    let mut out = String::new();
    let mut sink = Bounded::new(&mut out, max, false);
    let _ = write!(sink, "{value}");
    sink.finish();
    out
}

/// Whether `c` is written as an escape rather than as itself.
pub fn must_escape(c: char) -> bool {
    // Most of a log is ASCII: no table lookup for it.
    if c.is_ascii() {
        return c == '\\' || c.is_ascii_control();
    }
    c.general_category_group() == GeneralCategoryGroup::Other
        || matches!(
            c.general_category(),
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
        )
}

/// A `fmt::Write` that escapes what it is given into `out` and keeps at most `max` bytes of it;
/// it answers an error once full, so a long value is not rendered to the end only to be cut.
struct Bounded<'a> {
    out: &'a mut String,
    start: usize,
    max: usize,
    /// Where the text is cut if it turns out too long: the last point with room for the mark.
    cut: usize,
    quotes: bool,
    truncated: bool,
}

impl<'a> Bounded<'a> {
    /// With `quotes`, a `"` is escaped too (a value written between quotes).
    fn new(out: &'a mut String, max: usize, quotes: bool) -> Self {
        let start = out.len();
        Self {
            out,
            start,
            max,
            cut: start,
            quotes,
            truncated: false,
        }
    }

    /// Appends `piece`, or what fits of it when it is `splittable` (plain text, cut at a
    /// character; an escape is written whole or not at all).
    fn push(&mut self, piece: &str, splittable: bool) -> fmt::Result {
        let before = self.out.len();
        let room = self.start + self.max - before;
        let fits = piece.len() <= room;
        let take = match (fits, splittable) {
            (true, _) => piece.len(),
            (false, true) => floor_char_boundary(piece, room),
            (false, false) => 0,
        };
        self.out.push_str(&piece[..take]);
        let limit = self.start + self.max.saturating_sub(TRUNCATED.len());
        if self.out.len() <= limit {
            self.cut = self.out.len();
        } else if splittable && before < limit {
            self.cut = before + floor_char_boundary(piece, limit - before);
        }
        if fits {
            Ok(())
        } else {
            self.truncated = true;
            Err(fmt::Error)
        }
    }

    /// Marks a cut text.
    fn finish(self) -> bool {
        if self.truncated {
            self.out.truncate(self.cut);
            if self.max >= TRUNCATED.len() {
                self.out.push_str(TRUNCATED);
            }
        }
        self.truncated
    }
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Err(fmt::Error);
        }
        // Most values are printable ASCII with nothing to escape: one push.
        if s.bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'\\' && !(self.quotes && b == b'"'))
        {
            return self.push(s, true);
        }
        let mut plain = 0;
        for (i, c) in s.char_indices() {
            if must_escape(c) || (self.quotes && c == '"') {
                self.push(&s[plain..i], true)?;
                match c {
                    '\n' => self.push("\\n", false)?,
                    '\r' => self.push("\\r", false)?,
                    '\t' => self.push("\\t", false)?,
                    '\0' => self.push("\\0", false)?,
                    '\\' => self.push("\\\\", false)?,
                    '"' => self.push("\\\"", false)?,
                    other => self.push(&other.escape_unicode().to_string(), false)?,
                }
                plain = i + c.len_utf8();
            }
        }
        self.push(&s[plain..], true)
    }
}

/// The largest character boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Formats the fields of log events and spans as `message name=value …`, every value escaped
/// and bounded ([`VALUE_MAX`], messages [`MESSAGE_MAX`]), and written between quotes when it is
/// empty or holds a space, `=` or `"`: a value can neither start a line nor pass for another
/// field.
#[derive(Debug, Clone, Copy, Default)]
pub struct SafeFields;

impl<'writer> FormatFields<'writer> for SafeFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = SafeVisitor {
            writer: &mut writer,
            first: true,
            value: String::new(),
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct SafeVisitor<'a, 'writer> {
    writer: &'a mut Writer<'writer>,
    first: bool,
    /// The value being formatted, reused from field to field.
    value: String,
    result: fmt::Result,
}

impl SafeVisitor<'_, '_> {
    fn field(&mut self, field: &Field, render: impl FnOnce(&mut Bounded<'_>) -> fmt::Result) {
        let name = field.name();
        // Metadata of `log` records, already in the line's target and level.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let message = name == "message";
        self.value.clear();
        let max = if message { MESSAGE_MAX } else { VALUE_MAX };
        let mut sink = Bounded::new(&mut self.value, max, !message);
        let _ = render(&mut sink);
        sink.finish();
        let separator = if self.first { "" } else { " " };
        self.first = false;
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = if message {
            write!(self.writer, "{separator}{}", self.value)
        } else if self.value.is_empty() || self.value.contains([' ', '=', '"']) {
            write!(self.writer, "{separator}{name}=\"{}\"", self.value)
        } else {
            write!(self.writer, "{separator}{name}={}", self.value)
        };
    }
}

impl Visit for SafeVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |sink| sink.write_str(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |sink| {
            write!(sink, "{value}")?;
            let mut source = value.source();
            while let Some(error) = source {
                write!(sink, ": {error}")?;
                source = error.source();
            }
            Ok(())
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |sink| write!(sink, "{value:?}"));
    }
}

/// Wraps the log's writer so that every write is exactly one line: a stray line break or
/// control character in it escaped (`ESC` kept only for a terminal's colours, `ansi`), cut at
/// [`LINE_MAX`]. The fmt layer writes each event in one `write_all`, so a write is an event.
#[derive(Debug, Clone)]
pub struct OneLine<M> {
    inner: M,
    ansi: bool,
}

impl<M> OneLine<M> {
    pub fn new(inner: M, ansi: bool) -> Self {
        Self { inner, ansi }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = OneLineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter {
            inner: self.inner.make_writer(),
            ansi: self.ansi,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        OneLineWriter {
            inner: self.inner.make_writer_for(meta),
            ansi: self.ansi,
        }
    }
}

/// The writer of [`OneLine`].
#[derive(Debug)]
pub struct OneLineWriter<W> {
    inner: W,
    ansi: bool,
}

impl<W: io::Write> io::Write for OneLineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let line = one_line(buf, self.ansi);
        self.inner.write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `buf` as one line of at most [`LINE_MAX`] bytes plus its newline. Backslashes stay as they
/// are: the fields in the line are escaped already, this only catches what got past them.
pub fn one_line(buf: &[u8], ansi: bool) -> Cow<'_, str> {
    // The usual line: printable ASCII (or colours on a terminal), within the bound, as it is.
    if let Some((b'\n', text)) = buf.split_last() {
        if text.len() <= LINE_MAX
            && text
                .iter()
                .all(|b| (b' '..=b'~').contains(b) || (ansi && *b == 0x1b))
        {
            return String::from_utf8_lossy(buf);
        }
    }
    let text = String::from_utf8_lossy(buf);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let mut line = String::with_capacity(text.len().min(LINE_MAX) + 1);
    let mut cut = 0;
    for c in text.chars() {
        let stray = c != '\\' && must_escape(c) && !(ansi && c == '\u{1b}');
        if stray {
            let _ = write!(line, "{}", c.escape_default());
        } else {
            line.push(c);
        }
        if line.len() > LINE_MAX {
            line.truncate(cut);
            line.push_str(TRUNCATED);
            break;
        }
        if line.len() + TRUNCATED.len() <= LINE_MAX {
            cut = line.len();
        }
    }
    line.push('\n');
    Cow::Owned(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORGED: &str = "ok\n2026-01-01T00:00:00Z ERROR forged";

    #[test]
    fn escapes_every_character_that_could_forge_or_hide_text() {
        assert_eq!(
            bounded(FORGED, 256),
            "ok\\n2026-01-01T00:00:00Z ERROR forged"
        );
        assert_eq!(bounded("a\rb\0c\u{1b}[31md", 256), "a\\rb\\0c\\u{1b}[31md");
        assert_eq!(
            bounded("a\u{85}b\u{2028}c\u{2029}", 256),
            "a\\u{85}b\\u{2028}c\\u{2029}"
        );
        assert_eq!(bounded("abc\u{202e}fed", 256), "abc\\u{202e}fed");
        assert_eq!(
            bounded("zero\u{200b}width\u{feff}", 256),
            "zero\\u{200b}width\\u{feff}"
        );
        // An escape in the output always was a character in the input.
        assert_eq!(bounded("a\\nb", 256), "a\\\\nb");
        // Letters of any script, accents and combining marks are text, not escapes.
        assert_eq!(
            bounded("Wiśniewski Ωμέγα e\u{301}", 256),
            "Wiśniewski Ωμέγα e\u{301}"
        );
    }

    #[test]
    fn cuts_at_the_bound_on_a_character_and_marks_the_cut() {
        let long = "x".repeat(1 << 20);
        let cut = bounded(&long, VALUE_MAX);
        assert_eq!(cut.len(), VALUE_MAX);
        assert!(cut.ends_with(TRUNCATED));
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcd", 4), "abcd");
        assert_eq!(bounded("abcde", 4), "a…");
        // Multi-byte characters are never split, escapes never half written.
        let cut = bounded(&"ś".repeat(200), 101);
        assert!(cut.len() <= 101 && cut.ends_with(TRUNCATED), "{cut}");
        let cut = bounded(&"\n".repeat(200), 11);
        assert_eq!(cut, "\\n\\n\\n\\n…");
        let cut = bounded_display(&format_args!("{}", "\u{202e}".repeat(100)), 30);
        assert_eq!(cut, "\\u{202e}\\u{202e}\\u{202e}…");
    }

    #[test]
    fn does_not_render_more_of_a_value_than_its_bound() {
        struct Endless;
        impl fmt::Display for Endless {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                loop {
                    f.write_str("more ")?;
                }
            }
        }
        assert_eq!(bounded_display(&Endless, 13), "more more …");
    }

    #[test]
    fn one_line_escapes_what_got_past_the_fields_and_caps_the_line() {
        assert_eq!(one_line(b"a\nb\r\0\n", false), "a\\nb\\r\\u{0}\n");
        assert_eq!(
            one_line(b"\x1b[1mbold\x1b[0m\n", true),
            "\x1b[1mbold\x1b[0m\n"
        );
        assert_eq!(one_line(b"\x1b[1mbold\n", false), "\\u{1b}[1mbold\n");
        assert_eq!(
            one_line(b"already \\n escaped\n", false),
            "already \\n escaped\n"
        );
        let long = format!("{}\n", "y".repeat(3 * LINE_MAX));
        let line = one_line(long.as_bytes(), false);
        assert_eq!(line.len(), LINE_MAX + 1);
        assert!(line.ends_with("…\n"));
    }

    /// What the role's log makes of an event: the fmt layer with these fields and this writer.
    fn log_of(emit: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt;

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| io::ErrorKind::Other)?
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let sink = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .fmt_fields(SafeFields)
            .with_ansi(false)
            .with_writer(OneLine::new(move || sink.clone(), false));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    fn assert_safe(log: &str) {
        for line in log.lines() {
            assert!(line.len() <= LINE_MAX, "a line of {} bytes", line.len());
            assert!(!line.starts_with("2026-01-01"), "a forged line: {line}");
            assert!(
                !line.chars().any(|c| c != '\\' && must_escape(c)),
                "a raw control character: {line:?}"
            );
        }
    }

    #[test]
    fn no_field_or_message_forges_a_line() {
        let purpose = format!("{FORGED}\r\0\u{1b}[2J\u{2028}\u{202e}");
        let huge = "p".repeat(1 << 20);
        let log = log_of(|| {
            let span = tracing::info_span!("request", purpose = %purpose);
            let _in = span.enter();
            tracing::info!(purpose = %purpose, debug = ?purpose, plain = purpose.as_str(), "refused");
            tracing::warn!("refused: {purpose}");
            tracing::error!(huge = %huge, "{huge}");
            let error = io::Error::other(purpose.clone());
            tracing::error!(
                error = &error as &(dyn std::error::Error + 'static),
                "failed"
            );
        });
        assert_eq!(log.lines().count(), 4, "{log}");
        assert_safe(&log);
        assert!(
            log.contains("ok\\n2026-01-01T00:00:00Z ERROR forged"),
            "{log}"
        );
        assert!(log.contains("\\u{202e}"), "{log}");
        assert!(log
            .lines()
            .all(|l| l.len() < 4 * VALUE_MAX + MESSAGE_MAX + 200));
    }

    #[test]
    fn a_value_cannot_pass_for_another_field() {
        let log = log_of(|| {
            tracing::info!(purpose = %"opsporing rule=forged", empty = "", n = 3, ok = "plain", "m");
        });
        assert!(log.contains(r#"purpose="opsporing rule=forged""#), "{log}");
        assert!(log.contains(r#"empty="""#), "{log}");
        assert!(log.contains(" n=3 ok=plain"), "{log}");
        let log = log_of(|| tracing::info!(purpose = %"a\" rule=\"b", "m"));
        assert!(log.contains(r#"purpose="a\" rule=\"b""#), "{log}");
    }
}

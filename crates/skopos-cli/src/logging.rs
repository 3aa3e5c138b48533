//! Diagnostics on stderr in the form skopeo's logrus text formatter gives them, so that
//! scripts that read skopeo's stderr read ours:
//! - not a terminal: `time="2026-01-02T03:04:05Z" level=fatal msg="…"`
//! - a terminal: `\x1b[31mFATA\x1b[0m[0000] …` (colour, level, whole seconds since start)
//!
//! `tracing` events are written the same way; `--debug` lowers the level from info to debug.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Instant;

use skopos_core::go::text::go_quote;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

static START: OnceLock<Instant> = OnceLock::new();

/// Record the process start; the terminal format prints seconds elapsed since then.
pub fn mark_start() {
    START.get_or_init(Instant::now);
}

/// logrus's levels, as far as skopos uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
    Fatal,
}

impl LogLevel {
    fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Fatal => "fatal",
        }
    }

    /// ANSI colour logrus uses on a terminal.
    fn color(self) -> u8 {
        match self {
            LogLevel::Trace | LogLevel::Debug => 37,
            LogLevel::Info => 36,
            LogLevel::Warning => 33,
            LogLevel::Error | LogLevel::Fatal => 31,
        }
    }

    fn from_tracing(level: &Level) -> LogLevel {
        match *level {
            Level::TRACE => LogLevel::Trace,
            Level::DEBUG => LogLevel::Debug,
            Level::INFO => LogLevel::Info,
            Level::WARN => LogLevel::Warning,
            Level::ERROR => LogLevel::Error,
        }
    }
}

/// Where a line goes and how it looks there.
#[derive(Debug, Clone)]
pub enum LineStyle {
    /// `time="<rfc3339>" level=… msg=…`
    Plain { timestamp: String },
    /// `\x1b[..mLEVE\x1b[0m[0001] msg`
    Terminal { elapsed_seconds: u64 },
}

impl LineStyle {
    /// The style for stderr now.
    pub fn for_stderr() -> LineStyle {
        if std::io::stderr().is_terminal() {
            let elapsed = START.get().map_or(0, |start| start.elapsed().as_secs());
            LineStyle::Terminal {
                elapsed_seconds: elapsed,
            }
        } else {
            LineStyle::Plain {
                timestamp: local_rfc3339_now(),
            }
        }
    }
}

/// One logrus line, with its trailing newline.
pub fn format_line(level: LogLevel, message: &str, style: &LineStyle) -> String {
    format_line_with_fields(level, message, &[], style)
}

/// One logrus line with `fields` (logrus's `WithFields`) after the message, sorted by
/// name as logrus's text formatter sorts them.
pub fn format_line_with_fields(
    level: LogLevel,
    message: &str,
    fields: &[(&str, String)],
    style: &LineStyle,
) -> String {
    let mut sorted: Vec<&(&str, String)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    match style {
        LineStyle::Plain { timestamp } => {
            let mut line = String::new();
            let _ = write!(
                line,
                "time={} level={} msg={}",
                quote_if_needed(timestamp),
                level.name(),
                quote_if_needed(message)
            );
            for (name, value) in sorted {
                let _ = write!(line, " {name}={}", quote_if_needed(value));
            }
            line.push('\n');
            line
        }
        LineStyle::Terminal { elapsed_seconds } => {
            // logrus drops one trailing newline of the message in colored output only; the
            // plain format quotes it (skopeo 1.22.2 prints ocicrypt's `…decryption:\n`).
            let message = message.strip_suffix('\n').unwrap_or(message);
            let short: String = level.name().to_uppercase().chars().take(4).collect();
            let color = level.color();
            let mut line =
                format!("\x1b[{color}m{short}\x1b[0m[{elapsed_seconds:04}] {message:<44} ");
            for (name, value) in sorted {
                let _ = write!(
                    line,
                    " \x1b[{color}m{name}\x1b[0m={}",
                    quote_if_needed(value)
                );
            }
            line.push('\n');
            line
        }
    }
}

/// Write one line with fields to stderr (errors writing diagnostics cannot be reported
/// anywhere).
pub fn emit_with_fields(level: LogLevel, message: &str, fields: &[(&str, String)]) {
    let line = format_line_with_fields(level, message, fields, &LineStyle::for_stderr());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Write one line to stderr (errors writing diagnostics cannot be reported anywhere).
pub fn emit(level: LogLevel, message: &str) {
    let line = format_line(level, message, &LineStyle::for_stderr());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The current local time as Go's `time.RFC3339` prints it.
fn local_rfc3339_now() -> String {
    let now = chrono::Local::now();
    if now.offset().local_minus_utc() == 0 {
        now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        now.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// logrus quotes a value unless it is made only of `[A-Za-z0-9-._/@^+]`.
fn quote_if_needed(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | '@' | '^' | '+'));
    if plain {
        text.to_string()
    } else {
        go_quote(text)
    }
}

/// Install the `tracing` subscriber: info and above, or debug and above with `--debug`.
pub fn install(debug: bool) {
    let filter = if debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    // A second installation (only possible in tests) keeps the first one.
    let _ = tracing_subscriber::registry()
        .with(LogrusLayer.with_filter(filter))
        .try_init();
}

/// Writes each event as one logrus line.
struct LogrusLayer;

impl<S: Subscriber> Layer<S> for LogrusLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // Only skopos's own messages are skopeo's log lines; a library's progress chatter
        // (backhand reports each squashfs table it reads at info level) is not.
        if !event.metadata().target().starts_with("skopos") {
            return;
        }
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        emit_with_fields(
            LogLevel::from_tracing(event.metadata().level()),
            &visitor.message,
            &visitor.fields,
        );
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.push((field.name(), format!("{value:?}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_match_logrus_text_formatter() {
        let style = LineStyle::Plain {
            timestamp: "2026-11-28T00:03:37Z".to_string(),
        };
        assert_eq!(
            format_line(
                LogLevel::Fatal,
                "Error parsing image name \"foo:bar\": Invalid image name \"foo:bar\", unknown transport \"foo\"",
                &style
            ),
            "time=\"2026-11-28T00:03:37Z\" level=fatal msg=\"Error parsing image name \\\"foo:bar\\\": Invalid image name \\\"foo:bar\\\", unknown transport \\\"foo\\\"\"\n"
        );
        assert_eq!(
            format_line(LogLevel::Debug, "plain.word", &style),
            "time=\"2026-11-28T00:03:37Z\" level=debug msg=plain.word\n"
        );
        assert_eq!(
            format_line(LogLevel::Fatal, "Missing command\nTry it", &style),
            "time=\"2026-11-28T00:03:37Z\" level=fatal msg=\"Missing command\\nTry it\"\n"
        );
    }

    #[test]
    fn fields_follow_the_message_sorted_by_name() {
        let fields = [
            ("to", "dir:/tmp/b c".to_string()),
            ("from", "docker://h/r:t".to_string()),
        ];
        let plain = LineStyle::Plain {
            timestamp: "2026-11-28T00:03:37Z".to_string(),
        };
        assert_eq!(
            format_line_with_fields(LogLevel::Info, "Copying image ref 1/2", &fields, &plain),
            "time=\"2026-11-28T00:03:37Z\" level=info msg=\"Copying image ref 1/2\" from=\"docker://h/r:t\" to=\"dir:/tmp/b c\"\n"
        );
        let terminal = LineStyle::Terminal { elapsed_seconds: 0 };
        assert_eq!(
            format_line_with_fields(LogLevel::Info, "m", &fields[..1], &terminal),
            format!(
                "\x1b[36mINFO\x1b[0m[0000] m{}  \x1b[36mto\x1b[0m=\"dir:/tmp/b c\"\n",
                " ".repeat(43)
            )
        );
    }

    #[test]
    fn terminal_lines_match_logrus_colored_output() {
        let style = LineStyle::Terminal { elapsed_seconds: 3 };
        assert_eq!(
            format_line(LogLevel::Fatal, "boom", &style),
            format!("\x1b[31mFATA\x1b[0m[0003] boom{} \n", " ".repeat(40))
        );
        assert_eq!(
            format_line(LogLevel::Warning, "w", &style),
            format!("\x1b[33mWARN\x1b[0m[0003] w{} \n", " ".repeat(43))
        );
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(
            go_quote("a\"b\\c\u{1}\u{7f}é\u{200b}"),
            "\"a\\\"b\\\\c\\x01\\x7fé\\u200b\""
        );
        assert_eq!(go_quote("\u{feff}"), "\"\\ufeff\"");
    }
}

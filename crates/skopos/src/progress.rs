//! Progress bars on a terminal: one live line per blob being copied, redrawn in place, as
//! skopeo shows them; a finished blob's line and every other message stay above the bars.
//!
//! Written here rather than taken from indicatif: its rate estimator was the binary's only
//! user of libm, and loading libm costs every run of skopos ~340 KiB of resident memory
//! (its IFUNC resolvers touch pages all over it), for a feature most runs never show.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use skopos_core::Digest;

/// Redraws happen at most this often; progress events arrive every 256 KiB per blob.
const REDRAW_INTERVAL: Duration = Duration::from_millis(100);
/// Width of the `[===>   ]` part.
const BAR_WIDTH: usize = 30;
/// Assumed when the terminal does not say how wide it is.
const DEFAULT_COLUMNS: usize = 80;

/// The bars of one copy, drawn to `out` (a terminal).
pub(crate) struct TerminalBars<W: Write> {
    state: Mutex<State<W>>,
    columns: usize,
}

struct State<W> {
    out: W,
    bars: Vec<Bar>,
    /// How many bar lines are on screen below the permanent output.
    drawn: usize,
    last_draw: Option<Instant>,
}

struct Bar {
    digest: Digest,
    prefix: String,
    size: Option<u64>,
    position: u64,
    started: Instant,
}

impl<W: Write> TerminalBars<W> {
    /// Bars on `out`, whose lines are `columns` wide.
    pub(crate) fn new(out: W, columns: Option<usize>) -> TerminalBars<W> {
        TerminalBars {
            state: Mutex::new(State {
                out,
                bars: Vec::new(),
                drawn: 0,
                last_draw: None,
            }),
            columns: columns.filter(|&c| c > 0).unwrap_or(DEFAULT_COLUMNS),
        }
    }

    /// A message above the bars.
    pub(crate) fn line(&self, text: &str) {
        self.with_state(|state, columns| {
            state.clear();
            let _ = writeln!(state.out, "{text}");
            state.draw(columns);
        });
    }

    /// A new bar for blob `digest`, labelled `prefix`.
    pub(crate) fn start(&self, digest: Digest, prefix: String, size: Option<u64>) {
        self.with_state(|state, columns| {
            state.bars.push(Bar {
                digest,
                prefix,
                size,
                position: 0,
                started: Instant::now(),
            });
            state.clear();
            state.draw(columns);
        });
    }

    /// Blob `digest` has reached `position` bytes.
    pub(crate) fn advance(&self, digest: &Digest, position: u64) {
        self.with_state(|state, columns| {
            if let Some(bar) = state.bars.iter_mut().find(|bar| bar.digest == *digest) {
                bar.position = position;
            }
            let due = state
                .last_draw
                .is_none_or(|last| last.elapsed() >= REDRAW_INTERVAL);
            if due {
                state.clear();
                state.draw(columns);
            }
        });
    }

    /// Blob `digest` is done: its bar becomes the permanent line `PREFIX MESSAGE`.
    pub(crate) fn finish(&self, digest: &Digest, message: &str) {
        self.with_state(|state, columns| {
            let Some(index) = state.bars.iter().position(|bar| bar.digest == *digest) else {
                return;
            };
            let bar = state.bars.remove(index);
            state.clear();
            let _ = writeln!(
                state.out,
                "{}",
                fit(&format!("{} {message}", bar.prefix), columns)
            );
            state.draw(columns);
        });
    }

    fn with_state(&self, change: impl FnOnce(&mut State<W>, usize)) {
        // A panic elsewhere while drawing only costs the bars.
        if let Ok(mut state) = self.state.lock() {
            change(&mut state, self.columns);
            let _ = state.out.flush();
        }
    }
}

impl<W: Write> State<W> {
    /// Erase the bars, leaving the cursor where the first one was.
    fn clear(&mut self) {
        if self.drawn > 0 {
            let _ = write!(self.out, "\x1b[{}A\r\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    fn draw(&mut self, columns: usize) {
        let now = Instant::now();
        for bar in &self.bars {
            let _ = writeln!(self.out, "{}", fit(&bar.render(now), columns));
        }
        self.drawn = self.bars.len();
        self.last_draw = Some(now);
    }
}

impl Bar {
    /// `PREFIX [====>    ] 1.50 MiB / 3.00 MiB | 12.00 MiB/s`; without a known size, no bar
    /// and no total.
    fn render(&self, now: Instant) -> String {
        let seconds = now.duration_since(self.started).as_secs_f64();
        let rate = if seconds > 0.0 {
            self.position as f64 / seconds
        } else {
            0.0
        };
        let rate = format!("{}/s", human_bytes(rate));
        match self.size {
            Some(size) => format!(
                "{} [{}] {} / {} | {rate}",
                self.prefix,
                bar_fill(self.position, size),
                human_bytes(self.position as f64),
                human_bytes(size as f64)
            ),
            None => format!(
                "{} {} | {rate}",
                self.prefix,
                human_bytes(self.position as f64)
            ),
        }
    }
}

/// `=====>     `: the done part of [`BAR_WIDTH`] columns.
fn bar_fill(position: u64, size: u64) -> String {
    let done = if size == 0 {
        BAR_WIDTH
    } else {
        let ratio = position.min(size) as f64 / size as f64;
        (ratio * BAR_WIDTH as f64) as usize
    };
    let mut fill = "=".repeat(done);
    if done < BAR_WIDTH {
        fill.push('>');
        fill.push_str(&" ".repeat(BAR_WIDTH - done - 1));
    }
    fill
}

/// Bytes in binary units with two decimals: `512 B`, `1.50 KiB`, `12.00 MiB`.
fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024.0 {
        return format!("{} B", bytes as u64);
    }
    let mut value = bytes / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// `line` cut to the terminal's width, so that no line wraps and the bars' count of screen
/// lines stays right. Bar lines are ASCII; anything else is cut at a character boundary.
fn fit(line: &str, columns: usize) -> &str {
    let limit = columns.saturating_sub(1);
    match line.char_indices().nth(limit) {
        Some((end, _)) => &line[..end],
        None => line,
    }
}

/// The width of the terminal on standard output, if it is one.
pub(crate) fn stdout_columns() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one `winsize` into the pointed-to struct, which lives
        // for the whole call; on failure nothing is written and -1 is returned.
        let result = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
        if result == 0 && size.ws_col > 0 {
            return Some(usize::from(size.ws_col));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(byte: u8) -> Digest {
        Digest::sha256_of(&[byte])
    }

    fn screen(bars: TerminalBars<Vec<u8>>) -> String {
        let state = bars.state.into_inner().unwrap();
        String::from_utf8(state.out).unwrap()
    }

    #[test]
    fn human_sizes_use_binary_units() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(1536.0), "1.50 KiB");
        assert_eq!(human_bytes(12.0 * 1024.0 * 1024.0), "12.00 MiB");
        assert_eq!(human_bytes(3.0 * 1024f64.powi(3)), "3.00 GiB");
    }

    #[test]
    fn bars_fill_with_the_position() {
        assert_eq!(bar_fill(0, 100), format!(">{}", " ".repeat(BAR_WIDTH - 1)));
        assert_eq!(
            bar_fill(50, 100),
            format!("{}>{}", "=".repeat(15), " ".repeat(14))
        );
        assert_eq!(bar_fill(100, 100), "=".repeat(BAR_WIDTH));
        assert_eq!(bar_fill(7, 0), "=".repeat(BAR_WIDTH));
    }

    #[test]
    fn lines_are_cut_to_the_terminal_width() {
        assert_eq!(fit("abcdef", 4), "abc");
        assert_eq!(fit("abc", 80), "abc");
        assert_eq!(fit("ééé", 3), "éé");
    }

    #[test]
    fn messages_go_above_live_bars_and_finished_bars_stay_as_lines() {
        let bars = TerminalBars::new(Vec::new(), Some(120));
        bars.line("Getting image source signatures");
        bars.start(digest(1), "Copying blob aaa".into(), Some(2048));
        bars.start(digest(2), "Copying blob bbb".into(), None);
        bars.finish(&digest(1), "done");
        bars.line("Writing manifest to image destination");
        bars.finish(&digest(2), "skipped: already exists");
        let screen = screen(bars);
        // The first bar is drawn, then erased (cursor up one line) when the second starts.
        assert!(screen.starts_with("Getting image source signatures\nCopying blob aaa [>"));
        assert!(screen.contains("] 0 B / 2.00 KiB | 0 B/s\n\x1b[1A\r\x1b[J"));
        // Two bars are erased before the finished one is printed as a permanent line.
        assert!(screen.contains("\x1b[2A\r\x1b[JCopying blob aaa done\nCopying blob bbb 0 B"));
        assert!(screen.contains("\x1b[1A\r\x1b[JWriting manifest to image destination\n"));
        assert!(screen.ends_with("\x1b[1A\r\x1b[JCopying blob bbb skipped: already exists\n"));
    }

    #[test]
    fn progress_redraws_at_most_every_interval() {
        let bars = TerminalBars::new(Vec::new(), Some(120));
        bars.start(digest(1), "Copying blob aaa".into(), Some(4096));
        bars.advance(&digest(1), 1024);
        bars.advance(&digest(1), 2048);
        let screen = screen(bars);
        // Drawn when started; both advances fall within the interval.
        assert_eq!(screen.matches("Copying blob aaa").count(), 1, "{screen:?}");
    }
}

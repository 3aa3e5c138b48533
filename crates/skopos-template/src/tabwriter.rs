//! The tab writer `report` puts `table` output through: Go's `text/tabwriter` with
//! `report`'s settings, flushed at the end.

/// A cell of Go's tabwriter: its text and width in characters.
struct Cell {
    text: String,
    width: usize,
}

impl Cell {
    /// A cell holding `text`.
    fn new(text: String) -> Self {
        let width = text.chars().count();
        Cell { text, width }
    }
}

/// `report`'s table writer, Go's `tabwriter.NewWriter(w, 12, 2, 2, ' ', StripEscape)`,
/// fed `text` and then flushed. (StripEscape concerns 0xff bytes, which UTF-8 text never
/// holds.)
pub(crate) fn tabwriter_flushed(text: &str) -> String {
    const MIN_WIDTH: usize = 12;
    const PADDING: usize = 2;

    let mut out = String::new();
    let mut lines: Vec<Vec<Cell>> = Vec::new();
    let mut line: Vec<Cell> = Vec::new();
    let mut cell = String::new();
    for c in text.chars() {
        match c {
            '\t' | '\u{b}' | '\n' | '\u{c}' => {
                line.push(Cell::new(std::mem::take(&mut cell)));
                if c == '\n' || c == '\u{c}' {
                    let cells_in_line = line.len();
                    lines.push(std::mem::take(&mut line));
                    // A line of one cell cannot affect later columns, so Go writes out
                    // everything buffered; a form feed always does.
                    if c == '\u{c}' || cells_in_line == 1 {
                        let layout = Layout::new(&lines, MIN_WIDTH, PADDING, None);
                        layout.format(0, lines.len(), &mut Vec::new(), &mut out);
                        lines.clear();
                    }
                }
            }
            other => cell.push(other),
        }
    }
    // Flush: a pending cell ends, and the unfinished line is written without a newline.
    if !cell.is_empty() {
        line.push(Cell::new(cell));
    }
    lines.push(line);
    let last = lines.len() - 1;
    let layout = Layout::new(&lines, MIN_WIDTH, PADDING, Some(last));
    layout.format(0, lines.len(), &mut Vec::new(), &mut out);
    out
}

/// Buffered tabwriter lines and how to lay them out.
struct Layout<'a> {
    lines: &'a [Vec<Cell>],
    min_width: usize,
    padding: usize,
    /// The line written without a newline (the unfinished one at a flush).
    unterminated: Option<usize>,
}

impl<'a> Layout<'a> {
    /// The layout of `lines`, with Go's minimum cell width and padding.
    fn new(
        lines: &'a [Vec<Cell>],
        min_width: usize,
        padding: usize,
        unterminated: Option<usize>,
    ) -> Self {
        Layout {
            lines,
            min_width,
            padding,
            unterminated,
        }
    }

    /// Go's `Writer.format`: find column blocks left to right and write lines once the
    /// widths of all their columns are known.
    fn format(&self, mut line0: usize, line1: usize, widths: &mut Vec<usize>, out: &mut String) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(line0, this, widths, out);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < self.lines[this].len() {
                width = width.max(self.lines[this][column].width + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format(line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1, widths, out);
    }

    /// Writes lines `from..to` with the given column widths.
    fn write_lines(&self, from: usize, to: usize, widths: &[usize], out: &mut String) {
        for (index, line) in self.lines.iter().enumerate().take(to).skip(from) {
            for (column, cell) in line.iter().enumerate() {
                out.push_str(&cell.text);
                if let Some(&column_width) = widths.get(column) {
                    out.extend(std::iter::repeat_n(
                        ' ',
                        column_width.saturating_sub(cell.width),
                    ));
                }
            }
            if self.unterminated != Some(index) {
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_aligns_and_flushes_everything() {
        assert_eq!(
            tabwriter_flushed("x\ty\nab\tcdefghijklmnop\tz\nq\n"),
            "x           y\nab          cdefghijklmnop  z\nq\n"
        );
        // Lines with cells are written at the flush (1.9.3 lost them), and an unfinished
        // line keeps its lack of a newline.
        assert_eq!(tabwriter_flushed("linux\tamd64\n"), "linux       amd64\n");
        assert_eq!(tabwriter_flushed("a\tb"), "a           b");
        assert_eq!(tabwriter_flushed("plain\n"), "plain\n");
    }
}

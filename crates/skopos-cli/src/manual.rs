//! The manual pages: skopos(1) and skopos-COMMAND(1) for every command `--help` lists. NAME
//! and OPTIONS come from the clap definition `--help` is printed from (through clap_mangen),
//! so a page cannot disagree with the help; the rest (synopsis, description, transports,
//! examples, exit status, see also) is hand-written in [`text`]. `make docs` writes them with
//! the hidden `generate-man-pages DIRECTORY` command of the binary being installed.

mod text;

use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use clap::Args;
use roff::{bold, italic, roman, Inline, Roff};

use crate::program;
use text::{Block, PageText};

/// `generate-man-pages DIRECTORY`.
#[derive(Debug, Clone, Args)]
pub struct GenerateManPagesArgs {
    /// DIRECTORY to write the pages into (created when missing)
    #[arg(value_name = "DIRECTORY")]
    pub directory: PathBuf,
}

/// The pages are always about the installed `skopos`, whatever name this run was started
/// under.
const PROGRAM: &str = "skopos";

/// Writes every page into the directory `args` names.
pub(crate) fn run(args: &GenerateManPagesArgs) -> anyhow::Result<()> {
    let directory = &args.directory;
    std::fs::create_dir_all(directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    for (file_name, page) in pages()? {
        let path = directory.join(&file_name);
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Every page: its file name (`skopos-copy.1`) and its roff source.
pub(crate) fn pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let root = program::skopos_only_flags_hidden(program::command_named(PROGRAM), false);
    let mut pages = vec![(format!("{PROGRAM}.1"), program_page(&root)?)];
    for command in root
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
    {
        let name = command.get_name();
        let text = text::command_page(name)
            .ok_or_else(|| anyhow!("internal error: no manual text for the {name} command"))?;
        pages.push((format!("{PROGRAM}-{name}.1"), command_page(command, text)?));
    }
    Ok(pages)
}

/// skopos(1): the program, its global options and its commands.
fn program_page(root: &clap::Command) -> anyhow::Result<Vec<u8>> {
    let man = manual(root.clone().subcommand_help_heading("COMMANDS"), PROGRAM);
    let text = text::program_page();
    let mut page = Page::default();
    page.clap_part(|w| man.render_title(w))?;
    page.clap_part(|w| man.render_name_section(w))?;
    page.own_part(&synopsis(PROGRAM, text));
    page.own_part(&description(text));
    page.clap_part(|w| man.render_options_section(w))?;
    page.clap_part(|w| man.render_subcommands_section(w))?;
    page.own_part(&closing_sections(text));
    Ok(page.bytes)
}

/// skopos-COMMAND(1).
fn command_page(command: &clap::Command, text: &PageText) -> anyhow::Result<Vec<u8>> {
    let page_name = format!("{PROGRAM}-{}", command.get_name());
    let man = manual(command.clone().display_name(page_name.clone()), &page_name);
    let mut page = Page::default();
    page.clap_part(|w| man.render_title(w))?;
    page.clap_part(|w| man.render_name_section(w))?;
    let usage = format!("{PROGRAM} {}", command.get_name());
    page.own_part(&synopsis(&usage, text));
    page.own_part(&description(text));
    page.clap_part(|w| man.render_options_section(w))?;
    let mut global_note = Roff::new();
    global_note.control("PP", []).text(with_bold_spans(&format!(
        "The global options of `{PROGRAM}`(1) work here too, before or after the command name."
    )));
    page.own_part(&global_note);
    page.own_part(&closing_sections(text));
    Ok(page.bytes)
}

/// clap_mangen's renderer for `command`, titled `page_name`(1).
fn manual(command: clap::Command, page_name: &str) -> clap_mangen::Man {
    clap_mangen::Man::new(command)
        .title(page_name.to_uppercase())
        .section("1")
        .source(format!("skopos {}", env!("CARGO_PKG_VERSION")))
        .manual("User Commands")
}

/// A page being assembled from clap_mangen's sections and the hand-written ones.
#[derive(Default)]
struct Page {
    bytes: Vec<u8>,
}

impl Page {
    /// Appends what `render` writes. Each piece roff renders starts with the same preamble
    /// (it defines the apostrophe string); the page keeps only the first.
    fn clap_part(
        &mut self,
        render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        let mut part = Vec::new();
        render(&mut part).context("rendering a manual page")?;
        self.append(&part);
        Ok(())
    }

    /// Appends a hand-written part.
    fn own_part(&mut self, roff: &Roff) {
        self.append(roff.render().as_bytes());
    }

    fn append(&mut self, part: &[u8]) {
        let preamble = Roff::new().render();
        let part = match part.strip_prefix(preamble.as_bytes()) {
            Some(rest) if !self.bytes.is_empty() => rest,
            _ => part,
        };
        let text = ascii_only(&String::from_utf8_lossy(part));
        self.bytes.extend_from_slice(text.as_bytes());
    }
}

/// `text` with every non-ASCII character written as groff's `\[uXXXX]` escape: groff reads
/// its input as Latin-1 unless told otherwise (`man` tells it, `groff -man` does not), and
/// help texts may hold an ellipsis or quotes beyond ASCII.
fn ascii_only(text: &str) -> String {
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            ascii.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    ascii
}

fn synopsis(usage: &str, text: &PageText) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    let mut line = vec![bold(usage)];
    // Flags in bold, what the user fills in in italics, as man pages set synopses.
    for word in text.synopsis.split(' ').filter(|w| !w.is_empty()) {
        line.push(roman(" "));
        line.push(if word.starts_with('-') {
            bold(word)
        } else {
            italic(word)
        });
    }
    // Not hyphenated: a placeholder split across lines reads as two.
    roff.control("nh", []).text(line).control("hy", []);
    roff
}

fn description(text: &PageText) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"]);
    blocks(&mut roff, text.description);
    roff
}

/// TRANSPORTS (for commands that take image names), EXAMPLES, EXIT STATUS, SEE ALSO.
fn closing_sections(text: &PageText) -> Roff {
    let mut roff = Roff::new();
    if text.transports {
        roff.control("SH", ["TRANSPORTS"]);
        blocks(&mut roff, text::TRANSPORTS);
    }
    if !text.examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        for example in text.examples {
            roff.control("PP", []).text(with_bold_spans(example.what));
            roff.control("PP", [])
                .control("RS", ["4"])
                .control("nf", []);
            for line in example.command.lines() {
                roff.text([roman(line)]);
            }
            roff.control("fi", []).control("RE", []);
        }
    }
    roff.control("SH", ["EXIT STATUS"]);
    blocks(&mut roff, text.exit_status);
    roff.control("SH", ["SEE ALSO"]);
    let see_also = text.see_also.join(", ");
    roff.text(with_bold_spans(&see_also));
    roff
}

fn blocks(roff: &mut Roff, blocks: &[Block]) {
    for block in blocks {
        match block {
            Block::Paragraph(text) => {
                roff.control("PP", []).text(with_bold_spans(text));
            }
            Block::Item(term, text) => {
                roff.control("TP", [])
                    .text(with_bold_spans(term))
                    .text(with_bold_spans(text));
            }
        }
    }
}

/// The hand-written texts mark commands, flags and file names as `code`; a page sets them in
/// bold.
fn with_bold_spans(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, span)| !span.is_empty())
        .map(|(index, span)| {
            if index % 2 == 1 {
                bold(span)
            } else {
                roman(span)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_command_has_a_page_and_every_page_a_command() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
        let root = program::skopos_only_flags_hidden(program::command_named(PROGRAM), false);
        for command in root
            .get_subcommands()
            .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        {
            let file_name = format!("skopos-{}.1", command.get_name());
            assert!(
                names.contains(&file_name.as_str()),
                "{file_name}: {names:?}"
            );
        }
        for name in text::COMMANDS {
            let listed = root
                .find_subcommand(name)
                .is_some_and(|command| !command.is_hide_set() && command.get_name() != "help");
            assert!(listed, "manual text for {name}, which --help does not list");
        }
    }

    #[test]
    fn pages_carry_the_hand_written_sections_once() {
        for (name, page) in pages().unwrap() {
            let page = String::from_utf8(page).unwrap();
            for section in [
                ".SH NAME",
                ".SH SYNOPSIS",
                ".SH DESCRIPTION",
                ".SH \"EXIT STATUS\"",
            ] {
                assert_eq!(
                    page.matches(section).count(),
                    1,
                    "{section} in {name}:\n{page}"
                );
            }
            assert_eq!(page.matches(".ds Aq").count(), 2, "preamble in {name}");
            assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{name}");
        }
    }

    #[test]
    fn non_ascii_characters_become_groff_escapes() {
        assert_eq!(ascii_only("a\u{2026} \u{e9}"), r"a\[u2026] \[u00E9]");
    }

    #[test]
    fn backticks_mark_bold_spans() {
        assert_eq!(
            with_bold_spans("use `--all` or `-a` here"),
            vec![
                roman("use "),
                bold("--all"),
                roman(" or "),
                bold("-a"),
                roman(" here")
            ]
        );
    }
}

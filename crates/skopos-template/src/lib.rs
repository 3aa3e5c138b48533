//! Go's `text/template` as skopeo runs `inspect --format`: through containers/common's
//! `report` package, with its functions (`join, json, lower, pad, split, title, truncate,
//! upper`), its `table` formats and their tab writer, its normalisation of `\t` / `\n`, and
//! Go's own wording and positions for templates that do not parse or fail while running.
//!
//! Scripts compare skopeo's output and error messages byte for byte, so a drop-in has to
//! print what Go prints, including the `%v` of structs and nil slices, `encoding/json`'s
//! forms, and errors such as
//! `template: skopeo inspect:1:13: executing "skopeo inspect" at <.Nope>: …`.
//! [gotmpl](https://docs.rs/gotmpl) executes the templates; this crate decides, as Go does,
//! which templates parse (a port of Go's `text/template/parse` checks them first), what
//! values print as and which Go types they have ([`GoForms`]: a `*time.Time` or a
//! `digest.Digest` is a string to gotmpl, not to Go's functions), runs Go's own `index`,
//! `len`, `slice`, comparisons, escapers, `print` and `printf` over those types, the
//! methods of a `time.Time` (`{{.Created.Format "2006-01-02"}}`, `.Year`, `.Unix`), and words
//! and places failures as Go does (located in Go's parse tree).
//!
//! ```
//! use gotmpl::{tmap, Value};
//! use skopos_template::{render, GoForms};
//!
//! let data: Value = tmap! { "Os" => "linux", "Architecture" => "amd64" };
//! let fields = [("Os", "string"), ("Architecture", "string")];
//! let printed = render("table {{.Os}} {{.Architecture}}", data, GoForms::default(), &fields);
//! assert_eq!(printed.unwrap(), "linux       amd64\n");
//! ```

#![deny(missing_docs)]

mod builtins;
mod compare;
mod format;
mod functions;
mod go_case;
mod go_exec;
mod go_forms;
mod go_rewrite;
mod go_syntax;
mod printf;
mod render;
mod tabwriter;
mod time_methods;
mod unknown_field;

#[cfg(test)]
mod test_support;

pub use format::is_json_format;
pub use go_forms::GoForms;
/// The template data: what [`render()`] takes.
pub use gotmpl::Value;
pub use render::{render, RenderError};

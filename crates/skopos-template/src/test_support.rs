//! Template data and helpers shared by the unit tests.

use gotmpl::{tmap, Value};

use crate::render::{render, RenderError};
use crate::GoForms;

/// A small struct-like value: a string with case and word breaks, and a list.
pub(crate) fn data() -> Value {
    tmap! {
        "Os" => "linux",
        "Name" => "Hello wörld_x-y z",
        "Layers" => vec!["a".to_string(), "b".to_string()],
    }
}

/// The Go types of [`data`]'s fields.
pub(crate) const FIELDS: &[(&str, &str)] =
    &[("Os", "string"), ("Name", "string"), ("Layers", "[]string")];

/// What `format` prints over [`data`]; panics when it fails.
pub(crate) fn render_ok(format: &str) -> String {
    render(format, data(), GoForms::default(), FIELDS)
        .unwrap_or_else(|failure| panic!("{format}: {:#}", failure.error))
}

/// How `format` fails over [`data`]; panics when it does not.
pub(crate) fn render_err(format: &str) -> RenderError {
    match render(format, data(), GoForms::default(), FIELDS) {
        Ok(text) => panic!("{format} should fail, printed {text:?}"),
        Err(failure) => failure,
    }
}

/// A value whose fields have Go types their plain values hide: a `*time.Time` and a
/// `digest.Digest` are strings here.
pub(crate) fn typed_data() -> Value {
    tmap! {
        "Os" => "linux",
        "Created" => "2024-01-02 03:04:05 +0000 UTC",
        "Digest" => "sha256:abc",
        "Labels" => tmap! { "a" => "1" },
        "Layers" => vec!["x".to_string()],
        "RepoTags" => Vec::<String>::new(),
    }
}

/// The Go types of [`typed_data`]'s fields.
pub(crate) const TYPED_FIELDS: &[(&str, &str)] = &[
    ("Os", "string"),
    ("Created", "*time.Time"),
    ("Digest", "digest.Digest"),
    ("Labels", "map[string]string"),
    ("Layers", "[]string"),
    ("RepoTags", "[]string"),
];

/// What `format` prints over [`typed_data`], or Go's error message.
pub(crate) fn render_typed(format: &str) -> Result<String, String> {
    render(format, typed_data(), GoForms::default(), TYPED_FIELDS)
        .map_err(|failure| failure.error.to_string())
}

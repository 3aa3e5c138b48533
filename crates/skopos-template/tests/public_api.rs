//! The crate as another program uses it: a serde value rendered through the public API
//! alone, with no skopos binary involved.

use serde::Serialize;
use skopos_template::{is_json_format, render, GoForms, Value};

/// A struct as a program would hand it over, with Go's field names.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Image {
    Name: String,
    Os: String,
    Tags: Vec<String>,
}

/// The Go types of [`Image`]'s fields, as Go's errors name them.
const FIELDS: &[(&str, &str)] = &[("Name", "string"), ("Os", "string"), ("Tags", "[]string")];

fn image() -> Value {
    let image = Image {
        Name: "quay.io/x/app".to_string(),
        Os: "linux".to_string(),
        Tags: vec!["v1".to_string(), "latest".to_string()],
    };
    gotmpl::to_value(&image).expect("a plain struct converts")
}

#[test]
fn renders_a_serde_value_with_report_functions_and_table_alignment() {
    let printed = render(
        "{{.Name}}: {{upper .Os}} {{join .Tags \",\"}} {{len .Tags}}",
        image(),
        GoForms::default(),
        FIELDS,
    );
    assert_eq!(printed.unwrap(), "quay.io/x/app: LINUX v1,latest 2\n");

    let table = render(
        "table {{.Os}} {{.Name}}",
        image(),
        GoForms::default(),
        FIELDS,
    );
    assert_eq!(table.unwrap(), "linux       quay.io/x/app\n");

    let json = render("{{json .Tags}}", image(), GoForms::default(), FIELDS);
    assert_eq!(json.unwrap(), "[\"v1\",\"latest\"]\n");
}

#[test]
fn remembered_go_forms_decide_how_structs_print_and_marshal() {
    let mut go = GoForms::default();
    // Go prints a struct as `{field values}` in declaration order, and marshals a nil
    // slice as `null` although templates see an empty list.
    let os = go.remember_printed(Value::Map(Default::default()), "{linux amd64}".to_string());
    let tags = go.remember_json(Value::List(Vec::new().into()), &None::<Vec<String>>);
    let data = gotmpl::tmap! { "Platform" => os, "Tags" => tags };
    let printed = render(
        "{{.Platform}} {{.Tags}} {{json .Tags}}",
        data,
        go,
        &[("Platform", "struct"), ("Tags", "[]string")],
    );
    assert_eq!(printed.unwrap(), "{linux amd64} [] null\n");
}

#[test]
fn failures_read_as_go_and_keep_what_was_printed() {
    let failure = render("{{.Os}} {{.Nope}}", image(), GoForms::default(), FIELDS)
        .expect_err("an unknown field fails");
    assert_eq!(failure.printed, "linux ");
    assert_eq!(
        failure.error.to_string(),
        "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}"
    );

    let failure = render("{{if}}", image(), GoForms::default(), FIELDS)
        .expect_err("a template Go refuses fails");
    assert_eq!(failure.printed, "");
    assert_eq!(
        failure.error.to_string(),
        "template: skopeo inspect:1: missing value for if"
    );
}

#[test]
fn json_formats_are_told_apart_from_templates() {
    assert!(is_json_format("json"));
    assert!(!is_json_format("{{ json . }}"));
    assert!(is_json_format("{{json}}"));
}

#[test]
fn remembered_go_types_make_go_functions_refuse_what_go_refuses() {
    let mut go = GoForms::default();
    go.remember_struct("types.Layer", &[("Size", "int64")]);
    // A time is a string to the template, but a *time.Time to Go's functions.
    let created = go.remember_type(
        Value::String("2024-01-02 03:04:05 +0000 UTC".into()),
        "*time.Time",
    );
    let layer = go.remember_type(gotmpl::tmap! { "Size" => 7i64 }, "types.Layer");
    let data = gotmpl::tmap! {
        "Created" => created,
        "Layers" => Value::List(vec![layer].into()),
    };
    let fields = [("Created", "*time.Time"), ("Layers", "[]types.Layer")];
    let error = |format: &str| {
        render(format, data.clone(), go.clone(), &fields)
            .expect_err(format)
            .error
            .to_string()
    };
    assert_eq!(
        error("{{upper .Created}}"),
        "template: skopeo inspect:1:19: executing \"skopeo inspect\" at <.Created>: wrong type for value; expected string; got *time.Time"
    );
    assert_eq!(
        error("{{range .Layers}}{{lt .Size \"a\"}}{{end}}"),
        "template: skopeo inspect:1:30: executing \"skopeo inspect\" at <lt .Size \"a\">: error calling lt: incompatible types for comparison: int64 and string"
    );
}

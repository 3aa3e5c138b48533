//! `--progress-json-fd FD`: the JSON events of `copy` and `sync` parse and add up (every
//! blob's bytes equal its size, reused and mounted blobs are reported as such, the report
//! totals the bytes moved), they reach a descriptor other than stdout/stderr, and the
//! progress bars a person sees on a terminal stay as they were (checked through a
//! pseudo-terminal made by `script`).

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{report_skipped, Workspace};
use serde_json::Value;
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::WrittenImage;

/// The JSON lines of `text`, each parsed (a line that does not parse fails the test).
fn events(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("a progress line is not JSON ({err}): {line}"))
        })
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The one `report` event.
fn report(events: &[Value]) -> &Value {
    let reports = of_kind(events, "report");
    assert_eq!(reports.len(), 1, "one report per copy: {events:#?}");
    reports[0]
}

/// Every blob of `image` (layers and config), digest → size.
fn blob_sizes(image: &WrittenImage) -> BTreeMap<String, u64> {
    image
        .layers
        .iter()
        .chain(std::iter::once(&image.config))
        .map(|blob| (blob.digest.clone(), blob.size))
        .collect()
}

/// Checks that `events` describe a copy of `image` where every blob had outcome
/// `outcome`, and that the numbers add up.
fn assert_adds_up(events: &[Value], image: &WrittenImage, outcome: &str) {
    let sizes = blob_sizes(image);
    let started: BTreeMap<String, u64> = of_kind(events, "blob-started")
        .into_iter()
        .map(|e| {
            (
                e["digest"].as_str().unwrap().to_string(),
                e["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(started, sizes, "blob-started events: {events:#?}");
    let finished = if outcome == "copied" {
        "blob-done"
    } else {
        "blob-skipped"
    };
    let done = of_kind(events, finished);
    assert_eq!(done.len(), sizes.len(), "{finished} events: {events:#?}");
    for event in &done {
        let digest = event["digest"].as_str().unwrap();
        if outcome == "copied" {
            assert_eq!(event["read"].as_u64(), Some(sizes[digest]), "{event}");
            // The last progress event of a layer says the whole blob went through.
            let progress = of_kind(events, "blob-progress")
                .into_iter()
                .filter(|e| e["digest"] == digest)
                .map(|e| e["read"].as_u64().unwrap())
                .max();
            if event["kind"] == "layer" {
                assert_eq!(progress, Some(sizes[digest]), "progress of {digest}");
            }
        } else {
            assert_eq!(event["mounted"], outcome == "mounted", "{event}");
        }
    }
    let report = report(events);
    assert_eq!(report["succeeded"], true);
    let blobs = report["blobs"].as_array().unwrap();
    assert_eq!(blobs.len(), sizes.len(), "{report:#}");
    let mut moved = 0;
    for blob in blobs {
        let digest = blob["digest"].as_str().unwrap();
        assert_eq!(blob["outcome"], outcome, "{blob}");
        assert_eq!(blob["size"].as_u64(), Some(sizes[digest]), "{blob}");
        moved += blob["read"].as_u64().unwrap();
    }
    assert_eq!(report["bytes_moved"].as_u64(), Some(moved));
    let expected_moved = if outcome == "copied" {
        sizes.values().sum()
    } else {
        0
    };
    assert_eq!(moved, expected_moved, "{report:#}");
    let written = of_kind(events, "manifest-written");
    assert_eq!(written.len(), 1);
    assert_eq!(report["manifest_digest"], written[0]["digest"]);
    assert_eq!(of_kind(events, "image-done").len(), 1);
    assert!(report["wall_time_seconds"].as_f64().is_some());
}

#[test]
fn the_events_of_a_copy_add_up_and_a_second_copy_reuses_every_blob() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 71);
    let copy = |destination: &str| {
        let outcome = workspace.skopos(&[
            "--insecure-policy",
            "copy",
            "--progress-json-fd",
            "2",
            "oci:src:t",
            destination,
        ]);
        outcome.assert_success();
        // The plain progress lines stay on stdout, as skopeo prints them.
        assert!(
            outcome
                .stdout
                .contains("Writing manifest to image destination"),
            "{}",
            outcome.stdout
        );
        events(&outcome.stderr)
    };
    let first = copy("oci:dest:t");
    assert_eq!(first[0]["event"], "image-started");
    assert_eq!(first[0]["source"], "oci:src:t");
    assert_eq!(first[0]["destination"], "oci:dest:t");
    assert_adds_up(&first, &image, "copied");
    let second = copy("oci:dest:t");
    assert_adds_up(&second, &image, "reused");
    assert_eq!(report(&first)["manifest_digest"], image.manifest.digest);
}

#[test]
fn a_failed_copy_ends_with_an_error_event() {
    let workspace = Workspace::new();
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--progress-json-fd",
        "1",
        "oci:missing:t",
        "oci:dest:t",
    ]);
    assert_eq!(outcome.code, Some(1));
    let events = events(&outcome.stdout);
    let last = events.last().expect("an error event");
    assert_eq!(last["event"], "error");
    let message = last["message"].as_str().unwrap();
    assert!(
        outcome.stderr.contains(message),
        "the error event says what stderr says: {message:?} vs {}",
        outcome.stderr
    );
}

#[test]
fn a_descriptor_that_is_not_open_is_refused_before_anything_is_copied() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 72);
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "--progress-json-fd",
        "97",
        "oci:src:t",
        "oci:dest:t",
    ]);
    common::assert_one_line_failure(&outcome, Some(1));
    assert!(
        outcome.stderr.contains("--progress-json-fd 97"),
        "{}",
        outcome.stderr
    );
    assert!(!workspace.path("dest").exists());
}

/// `copy` run by `sh` with the events on descriptor 3, redirected to a file.
#[test]
fn events_reach_another_descriptor() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 73);
    let binary = std::env::var_os("SKOPOS_UNDER_TEST")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_skopos").into());
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#""$0" --insecure-policy copy -q --progress-json-fd 3 oci:src:t dir:dest 3>events.json"#)
        .arg(binary);
    workspace.isolate(&mut command, "home-skopos");
    let output = command.output().expect("running sh");
    assert!(output.status.success(), "{output:?}");
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "{output:?}"
    );
    let text = String::from_utf8(common::read(&workspace.path("events.json"))).unwrap();
    assert_adds_up(&events(&text), &image, "copied");
}

#[test]
fn a_registry_mount_is_reported_as_mounted() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 74);
    let repo = |path: &str| format!("docker://{}/{path}", registry.host);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &repo("a:v1"),
        ])
        .assert_success();
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--progress-json-fd",
        "2",
        &repo("a:v1"),
        &repo("b:v1"),
    ]);
    outcome.assert_success();
    assert_adds_up(&events(&outcome.stderr), &image, "mounted");
}

#[test]
fn sync_reports_each_image() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    let first = workspace.image("src", "one", 75);
    let second = workspace.image("src", "two", 76);
    common::create_dir(&workspace.path("tree"));
    for (tag, image) in [("one", &first), ("two", &second)] {
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                "-q",
                &format!("oci:src:{tag}"),
                &format!("dir:tree/{tag}"),
            ])
            .assert_success();
        assert!(!image.layers.is_empty());
    }
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "sync",
        "--src",
        "dir",
        "--dest",
        "docker",
        "--dest-tls-verify=false",
        "--progress-json-fd",
        "2",
        "tree",
        &format!("{}/synced", registry.host),
    ]);
    outcome.assert_success();
    let events: Vec<Value> = outcome
        .stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let reports = of_kind(&events, "report");
    assert_eq!(reports.len(), 2, "one report per synced image: {events:#?}");
    for report in reports {
        assert_eq!(report["succeeded"], true);
        let moved: u64 = report["blobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["size"].as_u64().unwrap())
            .sum();
        assert_eq!(report["bytes_moved"].as_u64(), Some(moved), "{report:#}");
    }
}

/// Columns of the pseudo-terminal.
const WIDTH: usize = 120;

/// The screen a terminal [`WIDTH`] columns wide shows after `output`: carriage returns,
/// line feeds, wrapping, and the cursor and erase sequences progress bars use (`ESC[nA`,
/// `ESC[nB`, `ESC[2K`, `ESC[J`).
fn screen(output: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(output);
    let mut lines: Vec<String> = vec![String::new()];
    let (mut row, mut column) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => column = 0,
            '\n' => {
                row += 1;
                column = 0;
                if row == lines.len() {
                    lines.push(String::new());
                }
            }
            '\u{1b}' => {
                if chars.peek() != Some(&'[') {
                    continue;
                }
                chars.next();
                let mut parameter = String::new();
                let mut command = ' ';
                for next in chars.by_ref() {
                    if next.is_ascii_digit() || next == ';' || next == '?' {
                        parameter.push(next);
                    } else {
                        command = next;
                        break;
                    }
                }
                let n: usize = parameter.parse().unwrap_or(1);
                match command {
                    'A' => row = row.saturating_sub(n),
                    'B' => {
                        row += n;
                        while lines.len() <= row {
                            lines.push(String::new());
                        }
                    }
                    'K' => lines[row].clear(),
                    'J' => lines.truncate(row + 1),
                    _ => {}
                }
            }
            c => {
                if column == WIDTH {
                    // Autowrap: a character past the last column starts the next line.
                    row += 1;
                    column = 0;
                    if row == lines.len() {
                        lines.push(String::new());
                    }
                }
                let line = &mut lines[row];
                let mut chars: Vec<char> = line.chars().collect();
                while chars.len() < column {
                    chars.push(' ');
                }
                if column < chars.len() {
                    chars[column] = c;
                } else {
                    chars.push(c);
                }
                *line = chars.into_iter().collect();
                column += 1;
            }
        }
    }
    lines
        .into_iter()
        .map(|line| line.trim_end().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

/// What a person sees on a terminal running `args` (through `script`), or `None` without
/// `script` (bsdutils).
fn on_a_terminal(
    workspace: &Workspace,
    binary: &std::ffi::OsStr,
    args: &str,
) -> Option<Vec<String>> {
    if Command::new("script").arg("--version").output().is_err() {
        report_skipped("progress bars on a terminal (install bsdutils for `script`)");
        return None;
    }
    let mut command = Command::new("script");
    command
        .args(["-qfec"])
        .arg(format!(
            "stty cols {WIDTH} rows 50; '{}' {args}",
            binary.to_string_lossy()
        ))
        .arg("/dev/null")
        .env("TERM", "xterm")
        .env("COLUMNS", "120");
    workspace.isolate(&mut command, "home-skopos");
    let output = command.output().expect("running script");
    assert!(output.status.success(), "{output:?}");
    Some(screen(&output.stdout))
}

#[test]
fn a_terminal_still_shows_the_progress_bars_with_json_progress_on() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 77);
    let binary = std::env::var_os("SKOPOS_UNDER_TEST")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_skopos").into());
    let Some(seen) = on_a_terminal(
        &workspace,
        &binary,
        "--insecure-policy copy --progress-json-fd 3 oci:src:t oci:dest:t 3>events.json",
    ) else {
        return;
    };
    let short = |digest: &str, n: usize| digest.trim_start_matches("sha256:")[..n].to_string();
    let mut expected = vec!["Getting image source signatures".to_string()];
    let mut layers: Vec<String> = image
        .layers
        .iter()
        .map(|layer| format!("Copying blob {} done |", short(&layer.digest, 12)))
        .collect();
    let mut blob_lines: Vec<String> = seen
        .iter()
        .filter(|line| line.starts_with("Copying blob"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    layers.sort();
    blob_lines.sort();
    assert_eq!(blob_lines, layers, "screen:\n{}", seen.join("\n"));
    // containers/image cuts every prefix to the width of a layer's.
    expected.push(format!(
        "Copying config {} done |",
        short(&image.config.digest, 10)
    ));
    // No "Storing signatures": skopeo 1.22.2 prints it only when there are signatures.
    expected.push("Writing manifest to image destination".into());
    let others: Vec<String> = seen
        .iter()
        .filter(|line| !line.starts_with("Copying blob"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(others, expected, "screen:\n{}", seen.join("\n"));
    let text = String::from_utf8(common::read(&workspace.path("events.json"))).unwrap();
    assert_adds_up(&events(&text), &image, "copied");

    // A second copy: the bars end in skopeo's "skipped: already exists".
    let Some(again) = on_a_terminal(
        &workspace,
        &binary,
        "--insecure-policy copy oci:src:t oci:dest:t",
    ) else {
        return;
    };
    let skipped = again
        .iter()
        .filter(|line| line.ends_with("skipped: already exists"))
        .count();
    assert_eq!(
        skipped,
        image.layers.len() + 1,
        "screen:\n{}",
        again.join("\n")
    );

    // skopeo 1.22.2 leaves the same lines for the layers on the screen, copied or skipped.
    // (Not for the config: it copies an OCI layout's config again where skopos finds it.)
    let Some(skopeo) = common::skopeo_1_22_binary("progress bars on a terminal") else {
        return;
    };
    let blob_lines = |tool: &std::ffi::OsStr, destination: &str| {
        let args = format!("--insecure-policy copy oci:src:t {destination}");
        let screens = [
            on_a_terminal(&workspace, tool, &args),
            on_a_terminal(&workspace, tool, &args),
        ];
        screens.map(|screen| {
            let mut lines: Vec<String> = screen
                .unwrap_or_default()
                .iter()
                .filter(|line| line.starts_with("Copying blob"))
                .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            lines.sort();
            lines
        })
    };
    let by_skopos = blob_lines(&binary, "oci:by-skopos:t");
    let by_skopeo = blob_lines(skopeo.as_os_str(), "oci:by-skopeo:t");
    assert_eq!(by_skopos, by_skopeo, "skopos, then skopeo 1.22.2");
    assert_eq!(by_skopos[0], layers);
}

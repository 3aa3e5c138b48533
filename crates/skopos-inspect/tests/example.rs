//! Runs `examples/copy_and_inspect.rs` as CI would run it: `cargo test` only builds
//! examples, so the example's code is compiled into this test and its entry point called
//! on an OCI layout the test writes.

#[path = "../examples/copy_and_inspect.rs"]
// The example's `main` is for `cargo run`; the test calls the function it wraps.
#[allow(dead_code)]
mod example;

use skopos_testimage::{ImageSpec, OciLayout};

#[tokio::test]
async fn the_example_copies_an_image_to_a_directory_and_inspects_the_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let written = layout
        .add_image(
            &ImageSpec::new(11)
                .with_layers(2, 1024)
                .with_label("example", "1"),
            Some("v1"),
        )
        .unwrap();
    let source = format!("oci:{}:v1", layout.root().display());
    let copy_dir = tmp.path().join("copy");
    let destination = format!("dir:{}", copy_dir.display());

    let output = example::copy_and_inspect(&source, &destination)
        .await
        .unwrap();
    // A copy without conversion keeps every digest.
    assert_eq!(output.digest.to_string(), written.manifest.digest);
    let layers: Vec<&str> = written.layers.iter().map(|b| b.digest.as_str()).collect();
    assert_eq!(output.layers, layers);
    assert_eq!(
        output.labels.as_ref().and_then(|l| l.get("example")),
        Some(&"1".to_string())
    );
    for blob in &written.layers {
        assert!(
            copy_dir.join(blob.hex()).exists(),
            "{} was not copied",
            blob.digest
        );
    }
}

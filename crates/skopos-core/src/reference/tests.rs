//! `ImageName` parsing and printing. Every expected error string below is what skopeo
//! 1.9.3 printed after its `Error parsing image name "…": ` / `Invalid source name …: `
//! prefix for the same input.

use super::*;

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn parse(input: &str) -> ImageName {
    ImageName::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"))
}

fn parse_err(input: &str) -> String {
    match ImageName::parse(input) {
        Ok(name) => panic!("{input} parsed as {name:?}"),
        Err(e) => e.to_string(),
    }
}

/// Parses, then checks that the canonical form is `canonical`.
fn assert_canonical(input: &str, canonical: &str) {
    assert_eq!(parse(input).to_string(), canonical, "{input}");
}

/// A temp dir (kept alive by the guard) and its symlink-free path as a string, so that
/// expected `lstat` messages do not depend on how the system temp dir is reached.
fn tempdir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::canonicalize(dir.path()).unwrap();
    let path = real.to_str().unwrap().to_string();
    (dir, path)
}

#[test]
fn transport_prefix_errors() {
    assert_eq!(
        parse_err("busybox"),
        r#"Invalid image name "busybox", expected colon-separated transport:reference"#
    );
    assert_eq!(
        parse_err("foo:bar"),
        r#"Invalid image name "foo:bar", unknown transport "foo""#
    );
    assert_eq!(
        parse_err(":foo"),
        r#"Invalid image name ":foo", unknown transport """#
    );
    assert_eq!(
        parse_err("DOCKER://busybox"),
        r#"Invalid image name "DOCKER://busybox", unknown transport "DOCKER""#
    );
    // skopeo 1.22 knows the transport (Debian's 1.9.3 build did not).
    assert_eq!(
        parse_err("atomic:a/b/c:d"),
        "invalid image reference: a/b/c:d, expected format: 'hostname/namespace/stream:tag'"
    );
    // skopeo 1.17's ostree transport (1.22.2 and Debian's 1.9.3 build lack it).
    assert_eq!(
        parse_err("ostree:Foo@/x"),
        "invalid reference format: repository name must be lowercase"
    );
}

#[test]
fn docker_references_normalize_and_print_familiar() {
    let name = parse("docker://busybox");
    let ImageName::Docker(reference) = &name else {
        panic!("{name:?}")
    };
    assert_eq!(reference.to_string(), "docker.io/library/busybox:latest");
    assert_eq!(name.docker_reference(), Some(reference));
    assert_eq!(name.transport(), "docker");

    let cases = [
        ("docker://busybox", "docker://busybox:latest"),
        ("docker://library/busybox", "docker://busybox:latest"),
        ("docker://docker.io/library/busybox:1", "docker://busybox:1"),
        (
            "docker://index.docker.io/foo/bar",
            "docker://foo/bar:latest",
        ),
        ("docker://Foo.com/bar", "docker://Foo.com/bar:latest"),
        ("docker://localhost/x", "docker://localhost/x:latest"),
        (
            "docker://localhost:5000/x",
            "docker://localhost:5000/x:latest",
        ),
        ("docker://foo:5000", "docker://foo:5000"),
        ("docker://docker.io/library", "docker://library:latest"),
        ("docker://foo_bar.com/x", "docker://foo_bar.com/x:latest"),
    ];
    for (input, canonical) in cases {
        assert_canonical(input, canonical);
    }
    let digested = format!("docker://localhost:5000/a/b@sha256:{HEX}");
    assert_canonical(&digested, &digested);
}

#[test]
fn docker_reference_errors() {
    assert_eq!(
        parse_err("docker:busybox"),
        "docker: image reference busybox does not start with //"
    );
    assert_eq!(parse_err("docker://"), "invalid reference format");
    assert_eq!(parse_err("docker://busybox::"), "invalid reference format");
    assert_eq!(
        parse_err("docker://busybox@sha256:abc"),
        "invalid reference format"
    );
    assert_eq!(parse_err("docker:////x"), "invalid reference format");
    assert_eq!(
        parse_err("docker://Busybox"),
        "invalid reference format: repository name must be lowercase"
    );
    assert_eq!(
        parse_err(&format!("docker://{HEX}")),
        format!("invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings")
    );
    assert_eq!(
        parse_err(&format!("docker://{}", "a".repeat(240))),
        "repository name must not be more than 255 characters"
    );
    assert_eq!(
        parse_err(&format!("docker://foo.com/bar:Tag@sha256:{HEX}")),
        "Docker references with both a tag and digest are currently not supported"
    );
}

#[test]
fn docker_images_from_references_need_exactly_one_of_tag_and_digest() {
    let repository = DockerReference::parse_normalized("quay.io/a/b").unwrap();
    assert_eq!(
        ImageName::docker(repository.clone())
            .unwrap_err()
            .to_string(),
        "Docker reference quay.io/a/b has neither a tag nor a digest"
    );
    let tagged = repository.with_tag("1").unwrap();
    assert_eq!(
        ImageName::docker(tagged.clone()).unwrap().to_string(),
        "docker://quay.io/a/b:1"
    );
    let both = tagged.with_digest(format!("sha256:{HEX}").parse().unwrap());
    assert_eq!(
        ImageName::docker(both).unwrap_err().to_string(),
        "Docker references with both a tag and digest are currently not supported"
    );
}

#[test]
fn dir_keeps_the_path_as_written_and_needs_its_parent() {
    let (_guard, tmp) = tempdir();
    assert_canonical(&format!("dir:{tmp}/new"), &format!("dir:{tmp}/new"));
    std::fs::create_dir(format!("{tmp}/sub")).unwrap();
    assert_canonical(
        &format!("dir:{tmp}/./sub/../new"),
        &format!("dir:{tmp}/./sub/../new"),
    );
    // `..` after a missing directory cannot be resolved (skopeo: same message).
    assert_eq!(
        parse_err(&format!("dir:{tmp}/./missing/..")),
        format!("lstat {tmp}/missing: no such file or directory")
    );
    assert_canonical("dir:relative", "dir:relative");
    assert_canonical("dir:", "dir:");
    assert_eq!(
        parse(&format!("dir:{tmp}/new")),
        ImageName::Dir(PathBuf::from(format!("{tmp}/new")))
    );
    assert_eq!(
        parse_err("dir:/nonexistent-skopos/a/b"),
        "lstat /nonexistent-skopos: no such file or directory"
    );
    assert_eq!(
        parse_err("dir:/nonexistent-skopos/a"),
        "lstat /nonexistent-skopos: no such file or directory"
    );
}

#[test]
fn oci_path_ends_at_the_first_colon() {
    let (_guard, tmp) = tempdir();
    assert_eq!(
        parse(&format!("oci:{tmp}/x:foo@bar")),
        ImageName::Oci {
            path: PathBuf::from(format!("{tmp}/x")),
            image: OciImage::Named("foo@bar".into()),
        }
    );
    assert_eq!(
        parse(&format!("oci-archive:{tmp}/x.tar")),
        ImageName::OciArchive {
            path: PathBuf::from(format!("{tmp}/x.tar")),
            image: OciImage::Only,
        }
    );
    assert_canonical(&format!("oci:{tmp}/x"), &format!("oci:{tmp}/x:"));
    assert_canonical(&format!("oci:{tmp}/x:"), &format!("oci:{tmp}/x:"));
    assert_canonical(
        &format!("oci:{tmp}/x:Foo:1.0"),
        &format!("oci:{tmp}/x:Foo:1.0"),
    );
    assert_canonical(
        &format!("oci:{tmp}/x:a/b--c+d_e"),
        &format!("oci:{tmp}/x:a/b--c+d_e"),
    );
    assert_canonical("oci-archive:", "oci-archive::");
    assert_canonical("oci:rel", "oci:rel:");
}

#[test]
fn oci_image_names_are_validated() {
    let (_guard, tmp) = tempdir();
    for name in ["-a", "a-", "a/", "a//b", "a:", "ü", "a b"] {
        assert_eq!(
            parse_err(&format!("oci:{tmp}/x:{name}")),
            format!("Invalid image {name}"),
            "{name}"
        );
    }
    // `oci-archive:` has no `:@N` index syntax (nor had `oci:` in skopeo 1.9.3).
    for name in [
        "@1", "@-1", "@", "@+1", "-a", "a-", "a/", "a//b", "a:", "ü", "a b",
    ] {
        assert_eq!(
            parse_err(&format!("oci-archive:{tmp}/x:{name}")),
            format!("Invalid image {name}"),
            "{name}"
        );
    }
    // skopeo 1.22.2's `oci:PATH:@N`: Go's Atoi, checked before the path.
    assert_eq!(
        parse_err("oci:/nonexistent-skopos/x:@abc"),
        r#"Invalid source index @abc: not an integer: strconv.Atoi: parsing "abc": invalid syntax"#
    );
    assert_eq!(
        parse_err(&format!("oci:{tmp}/x:@")),
        r#"Invalid source index @: not an integer: strconv.Atoi: parsing "": invalid syntax"#
    );
    assert_eq!(
        parse_err(&format!("oci:{tmp}/x:@-1")),
        "Invalid source index @-1: must not be negative"
    );
    for (name, index) in [("@0", 0), ("@+1", 1), ("@007", 7)] {
        match ImageName::parse(&format!("oci:{tmp}/x:{name}")).unwrap() {
            ImageName::Oci { image, .. } => assert_eq!(image, OciImage::Index(index), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // The path is checked before the name.
    assert_eq!(
        parse_err("oci:/nonexistent-skopos/a/b:@1"),
        "lstat /nonexistent-skopos: no such file or directory"
    );
    assert_eq!(
        parse_err("oci-archive:/nonexistent-skopos/a/b:tag"),
        "lstat /nonexistent-skopos: no such file or directory"
    );
}

#[test]
fn docker_archive_references() {
    assert_eq!(
        parse("docker-archive:x:busybox"),
        ImageName::DockerArchive {
            path: PathBuf::from("x"),
            image: ArchiveImage::Named(
                DockerReference::parse_normalized("busybox:latest").unwrap()
            ),
        }
    );
    let cases = [
        ("docker-archive:x", "docker-archive:x"),
        (
            "docker-archive:x:busybox",
            "docker-archive:x:docker.io/library/busybox:latest",
        ),
        (
            "docker-archive:x:busybox:1",
            "docker-archive:x:docker.io/library/busybox:1",
        ),
        ("docker-archive:x:@0", "docker-archive:x:@0"),
        ("docker-archive:x:@+2", "docker-archive:x:@2"),
        ("docker-archive:x:@-0", "docker-archive:x:@0"),
        (
            "docker-archive::foo",
            "docker-archive::docker.io/library/foo:latest",
        ),
    ];
    for (input, canonical) in cases {
        assert_canonical(input, canonical);
    }
    assert!(parse("docker-archive:x:foo:1").docker_reference().is_some());
    assert!(parse("docker-archive:x:@1").docker_reference().is_none());
}

#[test]
fn docker_archive_errors() {
    let cases = [
        (
            "docker-archive:".to_string(),
            "docker-archive reference  isn't of the form <path>[:<reference>]".to_string(),
        ),
        (
            "docker-archive:x:@-1".into(),
            "Invalid source index @-1: must not be negative".into(),
        ),
        (
            "docker-archive:x:@".into(),
            r#"Invalid source index @: strconv.Atoi: parsing "": invalid syntax"#.into(),
        ),
        (
            "docker-archive:x:@a".into(),
            r#"Invalid source index @a: strconv.Atoi: parsing "a": invalid syntax"#.into(),
        ),
        (
            "docker-archive:x:@99999999999999999999".into(),
            r#"Invalid source index @99999999999999999999: strconv.Atoi: parsing "99999999999999999999": value out of range"#.into(),
        ),
        (
            format!("docker-archive:/x:a@sha256:{HEX}"),
            format!("reference does not include a tag: docker.io/library/a@sha256:{HEX}"),
        ),
        (
            format!("docker-archive:x:a:1@sha256:{HEX}"),
            format!("docker-archive doesn't support digest references: docker.io/library/a:1@sha256:{HEX}"),
        ),
        (
            "docker-archive:x:Foo".into(),
            "docker-archive parsing reference: invalid reference format: repository name must be lowercase".into(),
        ),
        (
            "docker-archive:x:foo:bar:baz".into(),
            "docker-archive parsing reference: invalid reference format".into(),
        ),
        (
            "docker-archive:x:".into(),
            "docker-archive parsing reference: invalid reference format".into(),
        ),
    ];
    for (input, message) in cases {
        assert_eq!(parse_err(&input), message, "{input}");
    }
}

#[test]
fn docker_daemon_references() {
    assert_canonical("docker-daemon:busybox:1", "docker-daemon:busybox:1");
    assert_canonical(
        "docker-daemon:docker.io/library/busybox:1",
        "docker-daemon:busybox:1",
    );
    assert_canonical(
        &format!("docker-daemon:busybox@sha256:{HEX}"),
        &format!("docker-daemon:busybox@sha256:{HEX}"),
    );
    // A tag that looks like a digest's hex is still a tag.
    assert_canonical(
        &format!("docker-daemon:foo:{HEX}"),
        &format!("docker-daemon:foo:{HEX}"),
    );
    let id = parse(&format!("docker-daemon:sha256:{HEX}"));
    assert_eq!(
        id,
        ImageName::DockerDaemon(DaemonImage::Id(format!("sha256:{HEX}").parse().unwrap()))
    );
    assert_eq!(id.to_string(), format!("docker-daemon:sha256:{HEX}"));
    assert!(id.docker_reference().is_none());
}

#[test]
fn docker_daemon_errors() {
    let sha384 = format!("sha384:{HEX}{}", &HEX[..32]);
    let cases = [
        (
            "docker-daemon:busybox".to_string(),
            "docker-daemon: reference busybox has neither a tag nor a digest".to_string(),
        ),
        (
            format!("docker-daemon:busybox:1@sha256:{HEX}"),
            "docker-daemon: references with both a tag and digest are currently not supported"
                .into(),
        ),
        (
            format!("docker-daemon:sha512:{HEX}{HEX}"),
            format!("Invalid docker-daemon: reference sha512:{HEX}{HEX}: only digest algorithm sha256 accepted"),
        ),
        (
            format!("docker-daemon:{sha384}"),
            format!("Invalid docker-daemon: reference {sha384}: only digest algorithm sha256 accepted"),
        ),
        (
            "docker-daemon:sha256:0123456789".into(),
            "Invalid docker-daemon: reference sha256:0123456789: The sha256 repository name is reserved for (non-shortened) digest references".into(),
        ),
        (
            "docker-daemon:sha256".into(),
            "Invalid docker-daemon: reference sha256: The sha256 repository name is reserved for (non-shortened) digest references".into(),
        ),
        (
            "docker-daemon:docker.io/library/sha256:x".into(),
            "Invalid docker-daemon: reference docker.io/library/sha256:x: The sha256 repository name is reserved for (non-shortened) digest references".into(),
        ),
        (
            format!("docker-daemon:{HEX}"),
            format!("invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings"),
        ),
        (
            "docker-daemon:Foo:1".into(),
            "invalid reference format: repository name must be lowercase".into(),
        ),
        ("docker-daemon:".into(), "invalid reference format".into()),
    ];
    for (input, message) in cases {
        assert_eq!(parse_err(&input), message, "{input}");
    }
}

#[test]
fn containers_storage_store_specifiers() {
    let name = parse("containers-storage:[vfs@/var/g+/run/r:a=1,b]busybox");
    let ImageName::ContainersStorage(reference) = &name else {
        panic!("{name:?}")
    };
    assert_eq!(reference.driver.as_deref(), Some("vfs"));
    assert_eq!(reference.graph_root, Some(PathBuf::from("/var/g")));
    assert_eq!(reference.run_root, Some(PathBuf::from("/run/r")));
    assert_eq!(reference.options, vec!["a=1".to_string(), "b".to_string()]);
    assert_eq!(
        reference.named.as_ref().map(|n| n.to_string()).as_deref(),
        Some("docker.io/library/busybox:latest")
    );
    assert_eq!(reference.id, None);
    assert_eq!(
        name.to_string(),
        "containers-storage:[vfs@/var/g+/run/r:a=1,b]docker.io/library/busybox:latest"
    );

    let root_only = parse("containers-storage:[/g]x:1");
    let ImageName::ContainersStorage(reference) = &root_only else {
        panic!("{root_only:?}")
    };
    assert_eq!(reference.driver, None);
    assert_eq!(reference.graph_root, Some(PathBuf::from("/g")));
    assert_eq!(reference.run_root, None);
    assert!(reference.options.is_empty());

    // A second specifier is ignored, as skopeo does.
    assert_eq!(
        parse("containers-storage:[/g][anything]x:1"),
        parse("containers-storage:[/g]x:1")
    );
}

#[test]
fn containers_storage_images() {
    let storage = |input: &str| match parse(&format!("containers-storage:{input}")) {
        ImageName::ContainersStorage(reference) => reference,
        other => panic!("{other:?}"),
    };

    let by_id = storage(&format!("@{HEX}"));
    assert_eq!(by_id.id.as_deref(), Some(HEX));
    assert_eq!(by_id.named, None);

    let bare_id = storage(HEX);
    assert_eq!(bare_id.id.as_deref(), Some(HEX));
    assert_eq!(bare_id.named, None);

    let full = storage(&format!("busybox:1@sha256:{HEX}@{HEX}"));
    assert_eq!(full.id.as_deref(), Some(HEX));
    assert_eq!(
        full.named.map(|n| n.to_string()),
        Some(format!("docker.io/library/busybox:1@sha256:{HEX}"))
    );

    let digested = storage(&format!("busybox@sha256:{HEX}"));
    assert_eq!(digested.id, None);
    assert_eq!(
        digested.named.and_then(|n| n.tag().map(str::to_string)),
        None
    );

    let truncated = storage("busybox@abc");
    assert_eq!(truncated.id.as_deref(), Some("abc"));

    let maybe_id = storage("abcdef");
    assert_eq!(maybe_id.bare_id_prefix.as_deref(), Some("abcdef"));
    assert_eq!(
        maybe_id.named.map(|n| n.to_string()),
        Some("docker.io/library/abcdef:latest".into())
    );
    assert_eq!(storage("busybox").bare_id_prefix, None);
    assert_eq!(storage("ab").bare_id_prefix, None);

    assert_canonical(
        &format!("containers-storage:busybox@{HEX}"),
        &format!("containers-storage:docker.io/library/busybox:latest@{HEX}"),
    );
    assert_canonical(
        &format!("containers-storage:@{HEX}"),
        &format!("containers-storage:@{HEX}"),
    );
}

#[test]
fn containers_storage_errors() {
    let cases = [
        ("[", "invalid reference"),
        ("[]x", "invalid reference"),
        ("[@/x]x", "invalid reference"),
        ("[vfs@]x", "invalid reference"),
        ("[rel]x", "path name is not absolute"),
        ("[/x+rel]x", "path name is not absolute"),
        ("[/x:opt@rel]x", "path name is not absolute"),
        ("", r#""" is an empty reference: invalid reference"#),
        (
            "[vfs@/g+/r]",
            r#""" is an empty reference: invalid reference"#,
        ),
        (
            "[vfs@/g+/r][x",
            r#"store specifier in "[x" did not end: invalid reference"#,
        ),
        (
            "busybox@",
            r#"empty trailing digest or ID in "busybox@": invalid reference"#,
        ),
        (
            "busybox@xyz",
            r#""xyz" does not look like an image ID or digest: invalid reference"#,
        ),
        (
            "busybox@ab",
            r#""ab" does not look like an image ID or digest: invalid reference"#,
        ),
        (
            "busybox@sha256:abc",
            r#""sha256:abc" does not look like an image ID or digest: invalid reference"#,
        ),
        (
            "Busybox",
            r#"parsing named reference "Busybox": invalid reference format: repository name must be lowercase"#,
        ),
    ];
    for (input, message) in cases {
        assert_eq!(
            parse_err(&format!("containers-storage:{input}")),
            message,
            "{input}"
        );
    }
    assert_eq!(
        parse_err(&format!("containers-storage:{HEX}@{HEX}")),
        format!("parsing named reference \"{HEX}\": invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings")
    );
}

#[test]
fn sif_needs_the_parent_directory() {
    assert_canonical("sif:x", "sif:x");
    assert_canonical("sif:../f1", "sif:../f1");
    assert_eq!(
        parse_err("sif:/nonexistent-skopos/a/b"),
        "lstat /nonexistent-skopos: no such file or directory"
    );
}

#[test]
fn tarball_opens_every_file() {
    let (_guard, tmp) = tempdir();
    std::fs::write(format!("{tmp}/f1"), b"").unwrap();
    std::fs::write(format!("{tmp}/f2"), b"").unwrap();
    let input = format!("tarball:{tmp}/f1:{tmp}/f2");
    assert_eq!(
        parse(&input),
        ImageName::Tarball(vec![
            PathBuf::from(format!("{tmp}/f1")),
            PathBuf::from(format!("{tmp}/f2"))
        ])
    );
    assert_canonical(&input, &input);
    assert_canonical("tarball:-", "tarball:-");
    assert_eq!(
        parse_err(&format!("tarball:{tmp}/f1:")),
        r#"error opening "": open : no such file or directory"#
    );
    assert_eq!(
        parse_err("tarball:nonexist-skopos"),
        r#"error opening "nonexist-skopos": open nonexist-skopos: no such file or directory"#
    );
    assert_eq!(
        parse_err(&format!("tarball:{tmp}/f1::{tmp}/f2")),
        r#"error opening "": open : no such file or directory"#
    );
}

#[test]
fn canonical_forms_of_unparsed_variants() {
    assert_eq!(
        parse("ostree:busybox").to_string(),
        "ostree:busybox:latest@/ostree/repo"
    );
    let oci_index = ImageName::Oci {
        path: PathBuf::from("/l"),
        image: OciImage::Index(2),
    };
    assert_eq!(oci_index.to_string(), "oci:/l:@2");
    assert_eq!(
        ImageName::parse("atomic:h.example/n/s:t")
            .unwrap()
            .to_string(),
        "atomic:h.example/n/s:t"
    );
}

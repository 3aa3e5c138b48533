use super::*;

fn parse_error(text: &str) -> String {
    format!("{:#}", Policy::from_bytes(text.as_bytes()).unwrap_err())
}

fn image(input: &str) -> ImageName {
    ImageName::parse(input).unwrap()
}

async fn no_signatures() -> Result<Vec<Vec<u8>>> {
    Ok(Vec::new())
}

/// One blob that looks like a simple signature (an OpenPGP compressed-data packet).
async fn one_signature() -> Result<Vec<Vec<u8>>> {
    Ok(vec![b"\xa3\x01signature".to_vec()])
}

#[test]
fn parses_every_requirement_and_identity_type() {
    let policy = Policy::from_bytes(
        br#"{
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {
                "": [{"type": "insecureAcceptAnything"}],
                "example.com/app": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}],
                "example.com/paths": [{"type": "signedBy", "keyType": "signedByGPGKeys", "keyPaths": ["/a", "/b"],
                    "signedIdentity": {"type": "remapIdentity", "prefix": "example.com", "signedPrefix": "mirror.example.com/ns"}}],
                "example.com/data": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "aGVsbG8=",
                    "signedIdentity": {"type": "exactReference", "dockerReference": "example.com/app:v1"}}],
                "example.com/repo": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k",
                    "signedIdentity": {"type": "exactRepository", "dockerRepository": "example.com/app"}}],
                "example.com/base": [{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchRepository"}}],
                "*.example.com": [{"type": "sigstoreSigned", "keyPath": "/cosign.pub",
                    "signedIdentity": {"type": "matchExact"}}]
            },
            "dir": {"/tmp/images": [{"type": "reject"}]},
            "unknown-transport": {"anything goes": [{"type": "reject"}]}
        }
    }"#,
    )
    .unwrap();
    assert_eq!(policy.default, [Requirement::Reject]);
    let docker = &policy.transports["docker"];
    assert_eq!(
        docker["example.com/app"],
        [Requirement::SignedBy(SignedBy {
            key_type: "GPGKeys".into(),
            keys: KeySource::Path("/k.gpg".into()),
            signed_identity: ReferenceMatch::MatchRepoDigestOrExact,
        })]
    );
    assert_eq!(
        docker["example.com/data"],
        [Requirement::SignedBy(SignedBy {
            key_type: "GPGKeys".into(),
            keys: KeySource::Data(b"hello".to_vec()),
            signed_identity: ReferenceMatch::ExactReference("example.com/app:v1".into()),
        })]
    );
    assert_eq!(
        docker["*.example.com"],
        [Requirement::SigstoreSigned(SigstoreSigned {
            keys: Some(KeySource::Path("/cosign.pub".into())),
            fulcio: None,
            pki: None,
            rekor_keys: None,
            signed_identity: ReferenceMatch::MatchExact,
        })]
    );
    assert!(matches!(
        &docker["example.com/paths"][0],
        Requirement::SignedBy(SignedBy {
            signed_identity: ReferenceMatch::RemapIdentity { .. },
            ..
        })
    ));
}

#[test]
fn refuses_unknown_duplicate_and_missing_keys() {
    assert_eq!(
        parse_error(r#"{"default": [{"type": "reject"}], "extra": 1}"#),
        r#"Unknown key "extra""#
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "reject"}], "default": [{"type": "reject"}]}"#),
        r#"Duplicate key "default""#
    );
    assert_eq!(
        parse_error(r#"{"transports": {}}"#),
        "Default policy is missing"
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "reject", "keyPath": "/k"}]}"#),
        r#"Unknown key "keyPath""#
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "reject", "type": "reject"}]}"#),
        r#"Duplicate key "type""#
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "signedBaseLayer"}]}"#),
        r#"Key "baseLayerIdentity" missing in a JSON object"#
    );
    assert_eq!(
        parse_error(
            r#"{"default": [{"type": "reject"}], "transports": {"docker": {"a": [{"type": "reject"}], "a": [{"type": "reject"}]}}}"#
        ),
        r#"Duplicate key "a""#
    );
}

#[test]
fn refuses_bad_requirements() {
    assert_eq!(
        parse_error(r#"{"default": []}"#),
        "List of verification policy requirements must not be empty"
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "acceptEverything"}]}"#),
        r#"Unknown policy requirement type "acceptEverything""#
    );
    assert_eq!(
        parse_error(r#"{"default": [{}]}"#),
        r#"Unknown policy requirement type """#
    );
    assert_eq!(
        parse_error(r#"{"default": {"type": "reject"}}"#),
        "json: cannot unmarshal object into Go value of type []json.RawMessage"
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys"}]}"#),
        "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present"
    );
    assert_eq!(
        parse_error(
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "keyData": ""}]}"#
        ),
        "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present"
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "signedBy", "keyPath": "/a"}]}"#),
        r#"invalid keyType """#
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "signedBy", "keyType": "PGP", "keyPath": "/a"}]}"#),
        r#"Unrecognized keyType value "PGP""#
    );
    assert_eq!(
        parse_error(
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "!!"}]}"#
        ),
        "illegal base64 data at input byte 0"
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": 3}]}"#),
        "json: cannot unmarshal number into Go value of type string"
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "sigstoreSigned"}]}"#),
        "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified"
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/a", "keyData": ""}]}"#),
        "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified"
    );
    // skopeo 1.22's sigstoreSigned fields and their rules.
    for (policy, message) in [
        (r#"{"type": "sigstoreSigned", "keyPaths": []}"#, "\"keyPaths\" contains no entries"),
        (r#"{"type": "sigstoreSigned", "keyDatas": []}"#, "\"keyDatas\" contains no entries"),
        (
            r#"{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca", "oidcIssuer": "https://i", "subjectEmail": "a@b"}}"#,
            "At least one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas must be specified if fulcio is used",
        ),
        (
            r#"{"type": "sigstoreSigned", "pki": {"caRootsData": "", "subjectHostname": "h"}, "rekorPublicKeyPath": "/r"}"#,
            "rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas are not supported for pki",
        ),
        // The fulcio and pki objects are checked as they are read (messages from skopeo
        // 1.22.2 on these very policies).
        (
            r#"{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca"}}"#,
            "oidcIssuer not specified",
        ),
        (
            r#"{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca", "oidcIssuer": "https://i"}, "rekorPublicKeyPath": "/r"}"#,
            "subjectEmail not specified",
        ),
        (
            r#"{"type": "sigstoreSigned", "fulcio": {}, "rekorPublicKeyPath": "/r"}"#,
            "At least one of caPath and caData must be specified",
        ),
        (
            r#"{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca", "caData": "YQ==", "oidcIssuer": "x", "subjectEmail": "y"}, "rekorPublicKeyPath": "/r"}"#,
            "caPath and caData cannot be used simultaneously",
        ),
        (
            r#"{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca", "oidcIssuer": "x", "subjectEmail": "y", "foo": 1}, "rekorPublicKeyPath": "/r"}"#,
            "Unknown key \"foo\"",
        ),
        (
            r#"{"type": "sigstoreSigned", "pki": {}, "rekorPublicKeyPath": "/r"}"#,
            "At least one of caRootsPath and caRootsData must be specified",
        ),
        (
            r#"{"type": "sigstoreSigned", "pki": {"caRootsPath": "/ca"}}"#,
            "At least one of subjectEmail, subjectHostname must be specified",
        ),
        (
            r#"{"type": "sigstoreSigned", "pki": {"caRootsPath": "/ca", "caIntermediatesPath": "/i", "caIntermediatesData": "", "subjectEmail": "a@b"}}"#,
            "caIntermediatesPath and caIntermediatesData cannot be used simultaneously",
        ),
        (
            r#"{"type": "sigstoreSigned", "keyPath": "/k", "rekorPublicKeyPath": "/r", "rekorPublicKeyData": "cg=="}"#,
            "at most one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas can be used simultaneously",
        ),
        (
            r#"{"type": "sigstoreSigned", "keyPaths": ["/a"], "fulcio": {"caPath": "/ca", "oidcIssuer": "x", "subjectEmail": "y"}, "rekorPublicKeyPath": "/r"}"#,
            "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified",
        ),
    ] {
        assert_eq!(
            parse_error(&format!(r#"{{"default": [{policy}]}}"#)),
            message,
            "{policy}"
        );
    }
    let parsed = Policy::from_bytes(
        br#"{"default": [{"type": "sigstoreSigned", "keyDatas": ["YQ==", "Yg=="], "rekorPublicKeyPaths": ["/r"]}]}"#,
    )
    .unwrap();
    assert_eq!(
        parsed.default,
        [Requirement::SigstoreSigned(SigstoreSigned {
            keys: Some(KeySource::Datas(vec![b"a".to_vec(), b"b".to_vec()])),
            fulcio: None,
            pki: None,
            rekor_keys: Some(KeySource::Paths(vec!["/r".into()])),
            signed_identity: ReferenceMatch::MatchRepoDigestOrExact,
        })]
    );
    let parsed = Policy::from_bytes(
        br#"{"default": [
            {"type": "sigstoreSigned", "fulcio": {"caData": "YQ==", "oidcIssuer": "https://i", "subjectEmail": "a@b"}, "rekorPublicKeyData": "cg=="},
            {"type": "sigstoreSigned", "pki": {"caRootsPath": "/roots", "caIntermediatesData": "aQ==", "subjectHostname": "h"}}
        ]}"#,
    )
    .unwrap();
    assert_eq!(
        parsed.default,
        [
            Requirement::SigstoreSigned(SigstoreSigned {
                keys: None,
                fulcio: Some(config::Fulcio {
                    ca: KeySource::Data(b"a".to_vec()),
                    oidc_issuer: "https://i".into(),
                    subject_email: "a@b".into(),
                }),
                pki: None,
                rekor_keys: Some(KeySource::Data(b"r".to_vec())),
                signed_identity: ReferenceMatch::MatchRepoDigestOrExact,
            }),
            Requirement::SigstoreSigned(SigstoreSigned {
                keys: None,
                fulcio: None,
                pki: Some(config::Pki {
                    ca_roots: KeySource::Path("/roots".into()),
                    ca_intermediates: Some(KeySource::Data(b"i".to_vec())),
                    subject_email: String::new(),
                    subject_hostname: "h".into(),
                }),
                rekor_keys: None,
                signed_identity: ReferenceMatch::MatchRepoDigestOrExact,
            }),
        ]
    );
    assert_eq!(
        parse_error(
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "signedIdentity": {"type": "matchAll"}}]}"#
        ),
        r#"Unknown policy reference match type "matchAll""#
    );
    assert_eq!(
        parse_error(
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "signedIdentity": {"type": "exactReference", "dockerReference": "example.com/app"}}]}"#
        ),
        "dockerReference example.com/app contains neither a tag nor digest"
    );
    assert_eq!(
        parse_error(
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "signedIdentity": {"type": "remapIdentity", "prefix": "example.com/UPPER", "signedPrefix": "example.com"}}]}"#
        ),
        r#"prefix "example.com/UPPER" is not valid"#
    );
    assert_eq!(
        parse_error(r#"{"default": [{"type": "reject"}], "transports": []}"#),
        r#"JSON object expected, got "[""#
    );
}

#[test]
fn scopes_a_transport_refuses_are_unknown_keys() {
    for (transport, scope) in [
        ("dir", "relative/path"),
        ("dir", "/"),
        ("oci", "/not/clean/"),
        ("oci-archive", "/a/../b"),
        ("docker-archive", "/a.tar"),
        ("tarball", "/a.tar"),
        (
            "docker-daemon",
            "sha256:0123456789012345678901234567890123456789012345678901234567890123",
        ),
        ("atomic", "host/ns/stream/extra"),
        ("atomic", "host/ns:x/stream"),
        ("atomic", "host/ns/stream:a:b"),
        ("ostree", "/ostree/repo"),
        ("ostree", "relative/repo:busybox"),
        ("ostree", "/ostree/repo/:busybox"),
    ] {
        let text = format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"{transport}": {{"{scope}": [{{"type": "reject"}}]}}}}}}"#
        );
        assert_eq!(
            parse_error(&text),
            format!("Unknown key \"{scope}\""),
            "{transport} {scope}"
        );
    }
}

#[test]
fn load_reports_missing_and_invalid_files_as_skopeo() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("missing.json");
    assert_eq!(
        format!("{:#}", Policy::load(Some(&missing), false).unwrap_err()),
        format!("open {}: no such file or directory", missing.display())
    );
    let invalid = root.path().join("policy.json");
    std::fs::write(&invalid, r#"{"default": []}"#).unwrap();
    assert_eq!(
        format!("{:#}", Policy::load(Some(&invalid), false).unwrap_err()),
        format!(
            "invalid policy in \"{}\": List of verification policy requirements must not be empty",
            invalid.display()
        )
    );
    assert_eq!(
        format!("{:#}", Policy::load(Some(root.path()), false).unwrap_err()),
        format!("read {}: is a directory", root.path().display())
    );
    std::fs::write(&invalid, "").unwrap();
    assert_eq!(
        format!("{:#}", Policy::load(Some(&invalid), false).unwrap_err()),
        format!(
            "invalid policy in \"{}\": unexpected end of JSON input",
            invalid.display()
        )
    );
    // --insecure-policy never reads a file.
    assert_eq!(
        Policy::load(Some(&missing), true).unwrap(),
        Policy::insecure_accept_anything()
    );
}

#[test]
fn picks_the_most_specific_scope() {
    let policy = Policy::from_bytes(
        br#"{
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"docker": {
            "": [{"type": "reject"}],
            "example.com/ns": [{"type": "insecureAcceptAnything"}],
            "example.com/ns/app:v1": [{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchExact"}}],
            "*.example.org": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k"}]
        }}
    }"#,
    )
    .unwrap();
    let kind = |input: &str| policy.requirements_for(&image(input)).unwrap()[0].clone();
    assert_eq!(
        kind("docker://example.com/ns/app:v2"),
        Requirement::InsecureAcceptAnything
    );
    assert!(matches!(
        kind("docker://example.com/ns/app:v1"),
        Requirement::SignedBaseLayer { .. }
    ));
    assert!(matches!(
        kind("docker://registry.example.org/app"),
        Requirement::SignedBy(_)
    ));
    assert_eq!(kind("docker://busybox"), Requirement::Reject);
    // Other transports fall back to the default.
    assert_eq!(
        kind("docker-daemon:busybox:latest"),
        Requirement::InsecureAcceptAnything
    );
}

#[tokio::test]
async fn evaluates_requirements_failing_closed() {
    let policy = Policy::from_bytes(
        br#"{
        "default": [{"type": "insecureAcceptAnything"}, {"type": "reject"}],
        "transports": {"docker": {
            "accepted.example.com": [{"type": "insecureAcceptAnything"}],
            "base.example.com": [{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchExact"}}],
            "signed.example.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k"}],
            "sigstore.example.com": [{"type": "sigstoreSigned", "keyPath": "/k"}]
        }}
    }"#,
    )
    .unwrap();
    let verdict = |input: &'static str, signed: bool| {
        let policy = &policy;
        async move {
            let name = image(input);
            let result = if signed {
                policy.check_image(&name, b"{}", one_signature).await
            } else {
                policy.check_image(&name, b"{}", no_signatures).await
            };
            result.map_err(|err| format!("{err:#}"))
        }
    };
    assert_eq!(
        verdict("docker://accepted.example.com/app", false).await,
        Ok(())
    );
    // Every requirement must accept.
    assert_eq!(
        verdict("docker://other.example.com/app", false).await,
        Err("Running image docker://other.example.com/app:latest is rejected by policy.".into())
    );
    assert_eq!(
        verdict("docker://base.example.com/app", false).await,
        Err("signedBaseLayer not implemented yet!".into())
    );
    assert_eq!(
        verdict("docker://signed.example.com/app", false).await,
        Err("A signature was required, but no signature exists".into())
    );
    assert_eq!(
        verdict("docker://signed.example.com/app", true).await,
        Err("open /k: no such file or directory".into())
    );
    assert_eq!(
        verdict("docker://sigstore.example.com/app", true).await,
        Err("A signature was required, but no signature exists (1 non-sigstore signatures, 0 sigstore non-signature attachments)".into())
    );
}

#[test]
fn atomic_images_are_scoped_as_their_docker_reference() {
    let policy = Policy::from_bytes(
        br#"{
        "default": [{"type": "reject"}],
        "transports": {"atomic": {
            "registry.example:5000/ns": [{"type": "insecureAcceptAnything"}],
            "registry.example:5000/ns/locked:v1": [{"type": "reject"}]
        }}
    }"#,
    )
    .unwrap();
    let kind = |input: &str| policy.requirements_for(&image(input)).unwrap()[0].clone();
    assert_eq!(
        kind("atomic:registry.example:5000/ns/app:v1"),
        Requirement::InsecureAcceptAnything
    );
    assert_eq!(
        kind("atomic:registry.example:5000/ns/locked:v1"),
        Requirement::Reject
    );
    assert_eq!(
        kind("atomic:registry.example:5000/other/app:v1"),
        Requirement::Reject
    );
}

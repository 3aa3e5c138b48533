//! `experimental-image-proxy`, driven by `containers-image-proxy`: the client bootc and
//! rpm-ostree use. Each scenario reads images through skopos's proxy and checks what comes
//! back against the source (manifest digest and bytes, config, layer info, every layer's
//! bytes through both `GetBlob` and `GetRawBlob`); with `$SKOPEO_1_22` set, the same calls
//! through skopeo 1.22.2's proxy must give the same values.

mod common;

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use common::{read, user_namespace_available, Workspace};
use containers_image_proxy::oci_spec::image::{Digest as OciDigest, ImageManifest};
use containers_image_proxy::{ImageProxy, ImageProxyConfig, OpenedImage};
use sha2::{Digest as _, Sha256};
use skopos_testimage::registry::{RegistryOptions, TestRegistry, TestTls};
use skopos_testimage::WrittenImage;
use tokio::io::AsyncReadExt as _;

/// Whose proxy the client starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Skopos,
    /// skopeo 1.22.2, from `$SKOPEO_1_22`.
    Skopeo,
}

impl Server {
    /// The servers to run a scenario against: skopos, and skopeo 1.22.2 when it is there
    /// (otherwise the skipped comparison is announced).
    fn all(scenario: &str) -> Vec<Server> {
        let what = format!("{scenario}: comparison with skopeo 1.22.2's image proxy");
        if common::skopeo_1_22_binary(&what).is_some() {
            vec![Server::Skopos, Server::Skopeo]
        } else {
            vec![Server::Skopos]
        }
    }
}

/// How a scenario sets up its client.
#[derive(Default)]
struct ClientSettings {
    insecure_policy: bool,
    skip_tls_verification: bool,
    certificate_directory: Option<PathBuf>,
    authfile: Option<PathBuf>,
    anonymous: bool,
    /// Global flags placed before the subcommand the client appends (`--policy P`).
    global_flags: Vec<String>,
}

/// Start `server`'s proxy through the client, with the test's private HOME.
async fn connect(workspace: &Workspace, server: Server, settings: &ClientSettings) -> ImageProxy {
    let mut command = match server {
        Server::Skopos => Command::new(
            std::env::var_os("SKOPOS_UNDER_TEST")
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_skopos").into()),
        ),
        Server::Skopeo => {
            let binary =
                std::env::var_os("SKOPEO_1_22").expect("SKOPEO_1_22 is set for skopeo scenarios");
            // As the other interop tests do: as root, skopeo would keep its blob-info cache
            // under /var/lib/containers; in a user namespace it stays in the private HOME.
            if user_namespace_available() {
                let mut command = Command::new("unshare");
                command.args(["--user", "--map-user=1000", "--map-group=1000"]);
                command.arg(binary);
                command
            } else {
                Command::new(binary)
            }
        }
    };
    command.args(&settings.global_flags);
    let home = match server {
        Server::Skopos => "home-skopos",
        Server::Skopeo => "home-skopeo",
    };
    workspace.isolate(&mut command, home);
    let mut config = ImageProxyConfig::default();
    config.skopeo_cmd = Some(command);
    config.insecure_policy = Some(settings.insecure_policy);
    config.insecure_skip_tls_verification = Some(settings.skip_tls_verification);
    config.certificate_directory = settings.certificate_directory.clone();
    config.authfile = settings.authfile.clone();
    config.auth_anonymous = settings.anonymous;
    ImageProxy::new_with_config(config)
        .await
        .unwrap_or_else(|err| panic!("starting {server:?}'s image proxy: {err}"))
}

/// Everything the client read about one image.
#[derive(Debug, PartialEq, Eq)]
struct ImageRead {
    /// `GetManifest`'s value.
    digest: String,
    /// The manifest as served (OCI).
    manifest: Vec<u8>,
    /// `GetFullConfig`.
    config: Vec<u8>,
    /// `GetLayerInfoPiped`: digest, size, media type.
    layer_info: Vec<(String, u64, String)>,
    /// Each layer of the manifest, read with `GetBlob` (and checked against `GetRawBlob`).
    layers: Vec<Vec<u8>>,
}

/// Open `reference`, read it whole, close it.
async fn read_image(proxy: &ImageProxy, reference: &str) -> ImageRead {
    let image = proxy
        .open_image(reference)
        .await
        .unwrap_or_else(|err| panic!("opening {reference}: {err}"));
    let (digest, manifest) = proxy
        .fetch_manifest_raw_oci(&image)
        .await
        .unwrap_or_else(|err| panic!("GetManifest of {reference}: {err}"));
    let config = proxy
        .fetch_config_raw(&image)
        .await
        .unwrap_or_else(|err| panic!("GetFullConfig of {reference}: {err}"));
    let layer_info = proxy
        .get_layer_info(&image)
        .await
        .unwrap_or_else(|err| panic!("GetLayerInfoPiped of {reference}: {err}"))
        .expect("protocol 0.2.8 has GetLayerInfoPiped")
        .into_iter()
        .map(|layer| {
            (
                layer.digest.to_string(),
                layer.size,
                layer.media_type.to_string(),
            )
        })
        .collect();
    let parsed: ImageManifest = serde_json::from_slice(&manifest)
        .unwrap_or_else(|err| panic!("the manifest of {reference} is not OCI: {err}"));
    let mut layers = Vec::new();
    for layer in parsed.layers() {
        let bytes = get_blob(proxy, &image, layer.digest(), layer.size())
            .await
            .unwrap_or_else(|err| panic!("GetBlob {} of {reference}: {err}", layer.digest()));
        let raw = get_raw_blob(proxy, &image, layer.digest(), layer.size())
            .await
            .unwrap_or_else(|err| panic!("GetRawBlob {} of {reference}: {err}", layer.digest()));
        assert_eq!(raw, bytes, "GetRawBlob and GetBlob differ");
        assert_eq!(
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
            layer.digest().to_string(),
            "a layer of {reference} does not match its digest"
        );
        layers.push(bytes);
    }
    proxy
        .close_image(&image)
        .await
        .unwrap_or_else(|err| panic!("CloseImage of {reference}: {err}"));
    ImageRead {
        digest,
        manifest,
        config,
        layer_info,
        layers,
    }
}

/// `GetBlob` (verified by the proxy; its verdict arrives at `FinishPipe`).
async fn get_blob(
    proxy: &ImageProxy,
    image: &OpenedImage,
    digest: &OciDigest,
    size: u64,
) -> Result<Vec<u8>, String> {
    let (mut reader, finish) = proxy
        .get_blob(image, digest, size)
        .await
        .map_err(|err| err.to_string())?;
    let mut bytes = Vec::new();
    let (read, finished) = tokio::join!(reader.read_to_end(&mut bytes), finish);
    read.map_err(|err| format!("reading the pipe: {err}"))?;
    finished.map_err(|err| err.to_string())?;
    Ok(bytes)
}

/// `GetRawBlob` (the client checks size and digest itself).
async fn get_raw_blob(
    proxy: &ImageProxy,
    image: &OpenedImage,
    digest: &OciDigest,
    size: u64,
) -> Result<Vec<u8>, String> {
    let stream = proxy
        .get_blob_stream(image, digest, size)
        .await
        .map_err(|err| err.to_string())?;
    let (mut reader, driver) = stream.into_parts();
    let mut bytes = Vec::new();
    let (read, finished) = tokio::join!(reader.read_to_end(&mut bytes), driver);
    read.map_err(|err| format!("reading the pipe: {err}"))?;
    finished.map_err(|err| err.to_string())?;
    Ok(bytes)
}

/// `Shutdown`, which must end the proxy with status 0.
async fn shut_down(proxy: ImageProxy, server: Server) {
    proxy
        .finalize()
        .await
        .unwrap_or_else(|err| panic!("{server:?}'s proxy did not shut down cleanly: {err}"));
}

fn parse_json(bytes: &[u8]) -> serde_json::Value {
    common::parse_json(bytes)
}

/// The manifest, config, layer list and layer bytes are the source image's.
fn assert_reads_source(read_back: &ImageRead, layout: &std::path::Path, image: &WrittenImage) {
    let blob = |digest: &str| read(&layout.join("blobs/sha256").join(&digest[7..]));
    assert_eq!(read_back.digest, image.manifest.digest);
    assert_eq!(read_back.manifest, blob(&image.manifest.digest));
    assert_eq!(
        parse_json(&read_back.config),
        parse_json(&blob(&image.config.digest))
    );
    let expected_info: Vec<(String, u64, String)> = image
        .layers
        .iter()
        .map(|layer| (layer.digest.clone(), layer.size, layer.media_type.clone()))
        .collect();
    assert_eq!(read_back.layer_info, expected_info);
    let expected_layers: Vec<Vec<u8>> = image.layers.iter().map(|l| blob(&l.digest)).collect();
    assert_eq!(read_back.layers, expected_layers);
}

fn insecure() -> ClientSettings {
    ClientSettings {
        insecure_policy: true,
        ..ClientSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_layout_reads_like_the_source_and_like_skopeo() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 1);
    let layout = workspace.path("src");
    let mut reads = Vec::new();
    for server in Server::all("oci: image read") {
        let proxy = connect(&workspace, server, &insecure()).await;
        let read_back = read_image(&proxy, "oci:src:t").await;
        assert_reads_source(&read_back, &layout, &image);
        let missing = proxy
            .open_image_optional("oci:src:missing")
            .await
            .unwrap_or_else(|err| panic!("{server:?}: OpenImageOptional: {err}"));
        assert!(missing.is_none(), "{server:?} opened a missing tag");
        shut_down(proxy, server).await;
        reads.push(read_back);
    }
    if let [skopos, skopeo] = reads.as_slice() {
        assert_eq!(
            skopos, skopeo,
            "skopos and skopeo 1.22.2 served different data"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_serves_the_hosts_instance_under_its_own_digest() {
    let workspace = Workspace::new();
    let index = workspace.multi_arch("multi", "t");
    let host = skopos_core::platform::Platform::wanted(None, None, None);
    let chosen = index
        .instances
        .iter()
        .find(|instance| {
            instance.platform.os == host.os && instance.platform.architecture == host.architecture
        })
        .expect("the test index has an image for this machine");
    let mut reads = Vec::new();
    for server in Server::all("oci: index read") {
        let proxy = connect(&workspace, server, &insecure()).await;
        let read_back = read_image(&proxy, "oci:multi:t").await;
        // containers/image's `Manifest()` of the chosen instance: its digest, not the list's.
        assert_reads_source(&read_back, &workspace.path("multi"), chosen);
        shut_down(proxy, server).await;
        reads.push(read_back);
    }
    if let [skopos, skopeo] = reads.as_slice() {
        assert_eq!(skopos, skopeo);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_archive_images_are_served_as_oci() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 2);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src:t",
            "docker-archive:archive.tar:src:t",
        ])
        .assert_success();
    let mut reads = Vec::new();
    for server in Server::all("docker-archive: image read") {
        let proxy = connect(&workspace, server, &insecure()).await;
        let read_back = read_image(&proxy, "docker-archive:archive.tar").await;
        // Converted from Docker schema 2, as containers/image converts it.
        let manifest = parse_json(&read_back.manifest);
        assert_eq!(
            manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
            "{server:?}"
        );
        assert_eq!(
            manifest["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        assert_eq!(
            parse_json(&read_back.config),
            parse_json(&read(
                &workspace
                    .path("src/blobs/sha256")
                    .join(&image.config.digest[7..])
            ))
        );
        // The archive holds the layers uncompressed: their digests are the diff IDs.
        let layer_digests: Vec<&str> = read_back
            .layer_info
            .iter()
            .map(|(digest, _, _)| digest.as_str())
            .collect();
        assert_eq!(layer_digests, image.diff_ids);
        // containers/image's archive source labels every layer with schema 2's layer type
        // (whatever its compression), and GetLayerInfo reports the source's types.
        assert!(
            read_back
                .layer_info
                .iter()
                .all(|(_, _, media_type)| media_type
                    == "application/vnd.docker.image.rootfs.diff.tar.gzip"),
            "{:?}",
            read_back.layer_info
        );
        shut_down(proxy, server).await;
        reads.push(read_back);
    }
    if let [skopos, skopeo] = reads.as_slice() {
        assert_eq!(skopos, skopeo);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_registry_images_read_like_the_source() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 3);
    let registry = TestRegistry::start(RegistryOptions::default());
    let reference = format!("docker://{}/proxy/plain:t", registry.host);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &reference,
        ])
        .assert_success();
    let settings = ClientSettings {
        skip_tls_verification: true,
        ..insecure()
    };
    let mut reads = Vec::new();
    for server in Server::all("docker:// (plain HTTP) image read") {
        let proxy = connect(&workspace, server, &settings).await;
        let read_back = read_image(&proxy, &reference).await;
        assert_reads_source(&read_back, &workspace.path("src"), &image);
        let missing = proxy
            .open_image_optional(&format!("docker://{}/proxy/plain:missing", registry.host))
            .await
            .unwrap_or_else(|err| panic!("{server:?}: OpenImageOptional: {err}"));
        assert!(missing.is_none(), "{server:?} opened a missing tag");
        shut_down(proxy, server).await;
        reads.push(read_back);
    }
    if let [skopos, skopeo] = reads.as_slice() {
        assert_eq!(skopos, skopeo);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_registry_with_credentials_reads_like_the_source() {
    const USER: &str = "proxyuser";
    const PASSWORD: &str = "Pw-proxy-4kq9";
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 4);
    let tls = TestTls::generate();
    let registry = TestRegistry::start(RegistryOptions {
        tls: Some(&tls),
        htpasswd_user: Some((USER, PASSWORD)),
        ..RegistryOptions::default()
    });
    let certs = tls.write_cert_dir(&workspace.path("certs"));
    let reference = format!("docker://{}/proxy/secure:t", registry.host);
    let creds = format!("{USER}:{PASSWORD}");
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-cert-dir",
            &certs.to_string_lossy(),
            "--dest-creds",
            &creds,
            "oci:src:t",
            &reference,
        ])
        .assert_success();
    let authfile = workspace.path("auth.json");
    let auth = base64::engine::general_purpose::STANDARD.encode(creds.as_bytes());
    std::fs::write(
        &authfile,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host),
    )
    .expect("writing auth.json");
    let settings = ClientSettings {
        certificate_directory: Some(certs.clone()),
        authfile: Some(authfile),
        ..insecure()
    };
    let anonymous = ClientSettings {
        certificate_directory: Some(certs),
        anonymous: true,
        ..insecure()
    };
    let mut reads = Vec::new();
    for server in Server::all("docker:// (TLS and credentials) image read") {
        let proxy = connect(&workspace, server, &settings).await;
        let read_back = read_image(&proxy, &reference).await;
        assert_reads_source(&read_back, &workspace.path("src"), &image);
        shut_down(proxy, server).await;
        reads.push(read_back);

        // --no-creds: the registry refuses the anonymous client.
        let proxy = connect(&workspace, server, &anonymous).await;
        let refused = proxy.open_image(&reference).await;
        assert!(refused.is_err(), "{server:?} read {reference} anonymously");
        shut_down(proxy, server).await;
    }
    if let [skopos, skopeo] = reads.as_slice() {
        assert_eq!(skopos, skopeo);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_policy_is_enforced_on_open() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 5);
    let policy = workspace.path("policy.json");
    std::fs::write(&policy, r#"{"default":[{"type":"reject"}]}"#).expect("writing the policy");
    let settings = ClientSettings {
        global_flags: vec!["--policy".into(), policy.to_string_lossy().into_owned()],
        ..ClientSettings::default()
    };
    let mut errors = Vec::new();
    for server in Server::all("policy rejection") {
        let proxy = connect(&workspace, server, &settings).await;
        let err = proxy
            .open_image("oci:src:t")
            .await
            .expect_err("a reject-everything policy let the image through")
            .to_string();
        assert!(err.contains("is rejected by policy"), "{server:?}: {err}");
        shut_down(proxy, server).await;
        errors.push(err);
    }
    if let [skopos, skopeo] = errors.as_slice() {
        assert_eq!(skopos, skopeo);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_errors_arrive_at_finish_pipe() {
    let workspace = Workspace::new();
    let image = workspace.image("bad", "t", 6);
    let layer = &image.layers[0];
    workspace
        .layout("bad")
        .flip_byte(&layer.digest, 100)
        .expect("corrupting a layer");
    let good = &image.layers[1];
    let digest = |text: &str| -> OciDigest { text.parse().expect("a test digest") };
    let mut outcomes = Vec::new();
    for server in Server::all("blob errors") {
        let proxy = connect(&workspace, server, &insecure()).await;
        let opened = proxy
            .open_image("oci:bad:t")
            .await
            .unwrap_or_else(|err| panic!("{server:?}: opening: {err}"));
        let corrupt = get_blob(&proxy, &opened, &digest(&layer.digest), layer.size)
            .await
            .expect_err("a corrupted blob was delivered without error");
        assert!(
            corrupt.contains(&format!("corrupted blob, expecting {}", layer.digest)),
            "{server:?}: {corrupt}"
        );
        let wrong_size = get_blob(&proxy, &opened, &digest(&good.digest), good.size + 1)
            .await
            .expect_err("a blob shorter than asked for was delivered without error");
        assert!(
            wrong_size.contains(&format!(
                "expected {} bytes in blob, got {}",
                good.size + 1,
                good.size
            )),
            "{server:?}: {wrong_size}"
        );
        shut_down(proxy, server).await;
        outcomes.push((corrupt, wrong_size));
    }
    if let [skopos, skopeo] = outcomes.as_slice() {
        assert_eq!(skopos, skopeo);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_is_a_retryable_error() {
    let workspace = Workspace::new();
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let reference = format!("docker://127.0.0.1:{port}/proxy/gone:t");
    let settings = ClientSettings {
        skip_tls_verification: true,
        ..insecure()
    };
    let mut errors = Vec::new();
    for server in Server::all("retryable error code") {
        let proxy = connect(&workspace, server, &settings).await;
        let err = proxy
            .open_image(&reference)
            .await
            .expect_err("nothing listens there");
        assert!(err.is_retryable(), "{server:?}: not retryable: {err}");
        shut_down(proxy, server).await;
        errors.push(err.to_string());
    }
    if let [skopos, skopeo] = errors.as_slice() {
        assert_eq!(skopos, skopeo);
    }
}

/// A `dir:` image with an unsigned Docker schema 1 manifest over `layer` (a blob file).
fn write_schema1_dir(dir: &std::path::Path, layer: &skopos_testimage::Blob, layer_bytes: &[u8]) {
    common::create_dir(dir);
    std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").expect("version");
    std::fs::write(dir.join(layer.hex()), layer_bytes).expect("layer");
    let v1_compatibility = serde_json::json!({
        "id": "a".repeat(64),
        "created": "2023-04-05T06:07:08.5+02:00",
        "os": "linux",
        "architecture": "amd64",
        "config": {"Cmd": ["/bin/sh"], "Env": ["A=<b>"]},
    });
    let manifest = serde_json::json!({
        "schemaVersion": 1,
        "name": "proxy/legacy",
        "tag": "t",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": layer.digest}],
        "history": [{"v1Compatibility": v1_compatibility.to_string()}],
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).expect("manifest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema1_images_have_a_config_but_no_oci_manifest() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 9);
    let layer = &image.layers[0];
    let layer_bytes = read(&workspace.layout("src").blob_path(&layer.digest));
    write_schema1_dir(&workspace.path("legacy"), layer, &layer_bytes);
    let mut outcomes = Vec::new();
    for server in Server::all("schema 1 image") {
        let proxy = connect(&workspace, server, &insecure()).await;
        let opened = proxy
            .open_image("dir:legacy")
            .await
            .unwrap_or_else(|err| panic!("{server:?}: opening: {err}"));
        let refused = proxy
            .fetch_manifest_raw_oci(&opened)
            .await
            .expect_err("schema 1 cannot be served as OCI")
            .to_string();
        assert!(
            refused.contains(
                "unsupported legacy manifest MIME type: application/vnd.docker.distribution.manifest.v1+json"
            ),
            "{server:?}: {refused}"
        );
        let config = proxy
            .fetch_config_raw(&opened)
            .await
            .unwrap_or_else(|err| panic!("{server:?}: GetFullConfig: {err}"));
        let parsed = parse_json(&config);
        assert_eq!(parsed["config"]["Cmd"], serde_json::json!(["/bin/sh"]));
        assert_eq!(parsed["rootfs"]["diff_ids"], serde_json::json!([""]));
        let blob = get_blob(&proxy, &opened, &layer.digest.parse().unwrap(), layer.size)
            .await
            .unwrap_or_else(|err| panic!("{server:?}: GetBlob: {err}"));
        assert_eq!(blob, layer_bytes);
        shut_down(proxy, server).await;
        outcomes.push((refused, config));
    }
    if let [skopos, skopeo] = outcomes.as_slice() {
        assert_eq!(skopos, skopeo);
    }
}

#[test]
fn misuse_of_the_command_fails_in_one_line_like_skopeo() {
    let workspace = Workspace::new();
    // Stdin is /dev/null here: not a socket. Then a descriptor that is not open, and an
    // argument the command does not take.
    for args in [
        &["experimental-image-proxy"][..],
        &["experimental-image-proxy", "--sockfd", "97"],
        &["experimental-image-proxy", "extra"],
    ] {
        let pair = workspace.run_both(args);
        for outcome in [&pair.skopos, &pair.skopeo] {
            common::assert_one_line_failure(outcome, Some(1));
        }
        assert_eq!(
            common::skopeo_message(&pair.skopos.stderr),
            common::skopeo_message(&pair.skopeo.stderr),
            "{args:?}"
        );
    }
}

use std::time::Duration;

use skopos_core::digest::Algorithm;
use skopos_core::media_type;
use skopos_core::reference::DockerReference;
use tokio::io::AsyncReadExt;
use tokio::net::UnixListener;
use tokio::sync::watch;

use super::*;

/// A fake daemon that counts the body bytes it receives (published on the returned watch
/// channel as they arrive) and answers `200 OK` once the chunked body has ended.
fn counting_daemon(
    socket: &std::path::Path,
) -> (watch::Receiver<usize>, tokio::task::JoinHandle<()>) {
    let listener = UnixListener::bind(socket).expect("binding the fake daemon's socket");
    let (received, progress) = watch::channel(0usize);
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accepting");
        let mut request = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
            received.send_replace(request.len());
            if request.ends_with(b"\r\n0\r\n\r\n") {
                break;
            }
        }
        let body = "{\"stream\":\"Loaded image: example.com/a:b\\n\"}\n";
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, reply.as_bytes()).await;
    });
    (progress, task)
}

fn blob_info(bytes: &[u8], media_type: &str) -> BlobInfo {
    let mut hasher = Algorithm::Sha256.hasher();
    hasher.update(bytes);
    BlobInfo {
        digest: hasher.finish(),
        size: Some(bytes.len() as u64),
        media_type: media_type.to_string(),
    }
}

fn named(reference: &str) -> DaemonImage {
    DaemonImage::Named(DockerReference::parse_normalized(reference).expect("a reference"))
}

#[tokio::test]
async fn layers_reach_the_daemon_while_the_copy_runs_and_commit_waits_for_its_reply() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("daemon.sock");
    let (mut progress, server) = counting_daemon(&socket);
    let ctx = SystemContext {
        docker_daemon_host: Some(format!("unix://{}", socket.display())),
        tmpdir: Some(dir.path().to_path_buf()),
        ..SystemContext::default()
    };
    let destination = DockerDaemonDestination::open(&named("example.com/a:b"), &ctx)
        .await
        .expect("connected");
    assert_eq!(
        destination.desired_layer_compression(),
        LayerCompression::Preserve
    );

    let layer = vec![7u8; 300_000];
    let layer_info = blob_info(&layer, media_type::DOCKER_LAYER_GZIP);
    destination
        .put_blob(
            Box::pin(std::io::Cursor::new(layer)),
            Some(&layer_info),
            false,
        )
        .await
        .expect("writing the layer");
    // Streamed, not spooled: the daemon has the layer before anything is committed.
    tokio::time::timeout(
        Duration::from_secs(10),
        progress.wait_for(|received| *received >= 300_000),
    )
    .await
    .expect("the layer should reach the daemon before the commit")
    .expect("the fake daemon is running");

    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_info = blob_info(config, media_type::DOCKER_V2_CONFIG);
    destination
        .put_blob(Box::pin(&config[..]), Some(&config_info), true)
        .await
        .expect("writing the config");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::DOCKER_V2_SCHEMA2,
        "config": {"mediaType": media_type::DOCKER_V2_CONFIG, "size": config.len(), "digest": config_info.digest.to_string()},
        "layers": [{"mediaType": media_type::DOCKER_LAYER_GZIP, "size": 300_000, "digest": layer_info.digest.to_string()}],
    });
    destination
        .put_manifest(
            manifest.to_string().as_bytes(),
            media_type::DOCKER_V2_SCHEMA2,
            None,
        )
        .await
        .expect("writing the manifest");
    destination.commit().await.expect("the daemon accepted it");
    server.await.expect("fake daemon");
}

#[tokio::test]
async fn only_name_and_tag_destinations_are_accepted() {
    let ctx = SystemContext::default();
    let hex = "0123456789abcdef".repeat(4);
    let digested = named(&format!("example.com/a@sha256:{hex}"));
    let err = DockerDaemonDestination::open(&digested, &ctx)
        .await
        .err()
        .expect("a digest is not a tag");
    assert_eq!(
        err.to_string(),
        format!("Invalid destination docker-daemon:example.com/a@sha256:{hex}: a destination must be a name:tag")
    );
    let id = DaemonImage::Id(format!("sha256:{hex}").parse().expect("a digest"));
    let err = DockerDaemonDestination::open(&id, &ctx)
        .await
        .err()
        .expect("an ID is not a tag");
    assert_eq!(
        err.to_string(),
        format!("Invalid destination docker-daemon:sha256:{hex}: a destination must be a name:tag")
    );
}

#[tokio::test]
async fn a_daemon_that_refuses_the_upload_midway_is_quoted_in_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("daemon.sock");
    let listener = UnixListener::bind(&socket).expect("binding the fake daemon's socket");
    // Answers an error as soon as the request starts, then hangs up.
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accepting");
        let mut buffer = vec![0u8; 4096];
        let _ = stream.read(&mut buffer).await;
        let body = "no space left on device";
        let reply = format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, reply.as_bytes()).await;
    });
    let ctx = SystemContext {
        docker_daemon_host: Some(format!("unix://{}", socket.display())),
        tmpdir: Some(dir.path().to_path_buf()),
        ..SystemContext::default()
    };
    let destination = DockerDaemonDestination::open(&named("example.com/a:b"), &ctx)
        .await
        .expect("connected");
    server.await.expect("fake daemon");
    let layer = vec![7u8; 8 * 1024 * 1024];
    let layer_info = blob_info(&layer, media_type::DOCKER_LAYER_GZIP);
    let err = destination
        .put_blob(
            Box::pin(std::io::Cursor::new(layer)),
            Some(&layer_info),
            false,
        )
        .await
        .expect_err("the daemon hung up");
    assert_eq!(
        format!("{err:#}"),
        "saving image to docker engine: Error response from daemon: no space left on device"
    );
}

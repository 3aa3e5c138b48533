//! `--dest-compress-format zstd:chunked`: the layers skopos writes have skopeo 1.22.2's layout
//! (a table of contents whose every entry, offset and digest is checked here against the
//! tar; the tar-split that rebuilds the tar; the footer; the three annotations), are read by
//! skopeo 1.22.2 and podman with the layer's DiffID, and match what skopeo 1.22.2 writes for
//! the same input except where the zstd encoders differ; layers skopeo writes (1.22.2's
//! format and 1.9.3's older one) are read by skopos.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use common::{parse_json, read, Workspace};
use serde_json::Value;
use skopos_testimage::podman::PodmanStore;
use skopos_testimage::sha256_digest;

const TOC_CHECKSUM: &str = "io.github.containers.zstd-chunked.manifest-checksum";
const TOC_POSITION: &str = "io.github.containers.zstd-chunked.manifest-position";
const TAR_SPLIT_POSITION: &str = "io.github.containers.zstd-chunked.tarsplit-position";
/// The annotation skopeo 1.9.3's older format uses for its TOC digest.
const OLD_TOC_CHECKSUM: &str = "io.containers.zstd-chunked.manifest-checksum";
const ZSTD_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Deterministic bytes that do not compress (so files span several chunks).
fn noise(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A layer with what the TOC must describe: directories, a file of many rolling-checksum
/// chunks, a file with runs of zeros (chunks of type "zeros"), an empty file, a symlink, a
/// hard link, a FIFO, a device, a GNU long name, a PAX xattr with a sub-second mtime, odd
/// modes and owners.
fn layer_tar(seed: u64) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let add = |builder: &mut tar::Builder<Vec<u8>>,
               kind: tar::EntryType,
               path: &str,
               mode: u32,
               body: &[u8],
               link: Option<&str>| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(if path.starts_with("home") { 1000 } else { 0 });
        header.set_gid(if path.starts_with("home") { 100 } else { 0 });
        header.set_mtime(1_650_000_000 + path.len() as u64);
        header.set_size(body.len() as u64);
        if kind == tar::EntryType::Char {
            header.set_device_major(1).expect("major");
            header.set_device_minor(5).expect("minor");
        }
        match link {
            Some(link) => builder
                .append_link(&mut header, path, link)
                .expect("tar link"),
            None => builder
                .append_data(&mut header, path, body)
                .expect("tar entry"),
        }
    };
    use tar::EntryType::{Char, Directory as Dir, Fifo, Link, Regular as File, Symlink};
    add(&mut builder, Dir, "usr/", 0o755, b"", None);
    add(&mut builder, Dir, "usr/lib/", 0o755, b"", None);
    add(
        &mut builder,
        File,
        "usr/lib/big.so",
        0o755,
        &noise(seed, 700_000),
        None,
    );
    let mut sparse = noise(seed + 1, 5000);
    sparse.extend(vec![0u8; 70_000]);
    sparse.extend(noise(seed + 2, 3000));
    sparse.extend(vec![0u8; 800]);
    sparse.extend(noise(seed + 3, 100));
    sparse.extend(vec![0u8; 4096]);
    add(
        &mut builder,
        File,
        "usr/lib/holes.img",
        0o644,
        &sparse,
        None,
    );
    add(&mut builder, File, "usr/lib/empty", 0o600, b"", None);
    add(
        &mut builder,
        Symlink,
        "usr/lib/link.so",
        0o777,
        b"",
        Some("big.so"),
    );
    add(
        &mut builder,
        Link,
        "usr/lib/hard.so",
        0o755,
        b"",
        Some("usr/lib/big.so"),
    );
    add(&mut builder, Dir, "run/", 0o755, b"", None);
    add(&mut builder, Fifo, "run/fifo", 0o644, b"", None);
    add(&mut builder, Char, "run/zero", 0o666, b"", None);
    let long = format!("home/{}/file.txt", "deep-directory-name/".repeat(8));
    add(
        &mut builder,
        File,
        &long,
        0o4640,
        b"a file with a GNU long name\n",
        None,
    );
    builder
        .append_pax_extensions([
            ("SCHILY.xattr.user.comment", &b"chunked & <ok>"[..]),
            ("mtime", &b"1650000123.25"[..]),
        ])
        .expect("pax");
    add(
        &mut builder,
        File,
        "home/xattr",
        0o644,
        b"with an xattr\n",
        None,
    );
    builder.into_inner().expect("tar")
}

/// An OCI layout at `layout` with one image tagged `latest` whose only layer is `tar`,
/// gzip'd; returns the DiffID.
fn write_layout(layout: &Path, tar: &[u8]) -> String {
    use std::io::Write;
    let blobs = layout.join("blobs/sha256");
    common::create_dir(&blobs);
    let put = |bytes: &[u8]| -> (String, usize) {
        let digest = sha256_digest(bytes);
        std::fs::write(blobs.join(&digest["sha256:".len()..]), bytes).expect("blob");
        (digest, bytes.len())
    };
    let diff_id = sha256_digest(tar);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(tar).expect("gzip");
    let (layer_digest, layer_size) = put(&gzip.finish().expect("gzip"));
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let (config_digest, config_size) = put(&serde_json::to_vec(&config).expect("json"));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size,
                    "annotations": {"org.example.source": "kept only while the blob is"}}],
    });
    let (manifest_digest, manifest_size) = put(&serde_json::to_vec(&manifest).expect("json"));
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                       "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    });
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index");
    diff_id
}

/// The single image of OCI layout `layout`: its manifest and a reader of its blobs.
struct Image {
    manifest: Value,
    blobs: std::path::PathBuf,
}

impl Image {
    fn open(layout: &Path) -> Image {
        let index = parse_json(&read(&layout.join("index.json")));
        let blobs = layout.join("blobs/sha256");
        let digest = index["manifests"][0]["digest"].as_str().expect("digest");
        let manifest = parse_json(&read(&blobs.join(&digest["sha256:".len()..])));
        Image { manifest, blobs }
    }

    fn blob(&self, digest: &str) -> Vec<u8> {
        read(&self.blobs.join(&digest["sha256:".len()..]))
    }

    fn layer(&self) -> &Value {
        &self.manifest["layers"][0]
    }

    fn layer_blob(&self) -> Vec<u8> {
        self.blob(self.layer()["digest"].as_str().expect("layer digest"))
    }

    fn annotations(&self) -> BTreeMap<String, String> {
        serde_json::from_value(self.layer()["annotations"].clone()).unwrap_or_default()
    }

    fn diff_ids(&self) -> Value {
        let config = self.manifest["config"]["digest"].as_str().expect("config");
        parse_json(&self.blob(config))["rootfs"]["diff_ids"].clone()
    }
}

fn unzstd(bytes: &[u8]) -> Vec<u8> {
    zstd::decode_all(bytes).expect("a zstd stream")
}

/// `offset:compressed:uncompressed[:type]` of a position annotation.
fn position(text: &str) -> Vec<usize> {
    text.split(':')
        .map(|part| part.parse().expect("a number"))
        .collect()
}

/// The decompressed metadata frame an annotation points at, checking that a skippable
/// frame header of the right length precedes it.
fn metadata_frame(blob: &[u8], annotation: &str) -> (Vec<u8>, Vec<u8>) {
    let at = position(annotation);
    let (offset, compressed, uncompressed) = (at[0], at[1], at[2]);
    assert_eq!(&blob[offset - 8..offset - 4], &[0x50, 0x2a, 0x4d, 0x18]);
    assert_eq!(
        u32::from_le_bytes(blob[offset - 4..offset].try_into().expect("4 bytes")) as usize,
        compressed
    );
    let raw = blob[offset..offset + compressed].to_vec();
    let data = unzstd(&raw);
    assert_eq!(
        data.len(),
        uncompressed,
        "uncompressed length of {annotation}"
    );
    (raw, data)
}

/// A zstd:chunked layer's TOC and tar-split, after checking the annotations, the footer and
/// the digests that tie them together, and that the blob decompresses to `tar`.
fn chunked_metadata(
    blob: &[u8],
    annotations: &BTreeMap<String, String>,
    tar: &[u8],
) -> (Value, Vec<u8>) {
    assert_eq!(sha256_digest(&unzstd(blob)), sha256_digest(tar));
    let (toc_raw, toc_json) = metadata_frame(blob, &annotations[TOC_POSITION]);
    assert_eq!(sha256_digest(&toc_raw), annotations[TOC_CHECKSUM]);
    let (split_raw, split) = metadata_frame(blob, &annotations[TAR_SPLIT_POSITION]);
    let toc = parse_json(&toc_json);
    assert_eq!(toc["version"], 1);
    assert_eq!(toc["tarSplitDigest"], sha256_digest(&split_raw));
    // The footer: a 64-byte skippable frame at the very end repeating both positions.
    let footer = &blob[blob.len() - 64..];
    assert_eq!(
        &blob[blob.len() - 72..blob.len() - 64],
        &[0x50, 0x2a, 0x4d, 0x18, 64, 0, 0, 0]
    );
    let word = |index: usize| {
        u64::from_le_bytes(footer[index * 8..index * 8 + 8].try_into().expect("8")) as usize
    };
    let toc_at = position(&annotations[TOC_POSITION]);
    let split_at = position(&annotations[TAR_SPLIT_POSITION]);
    assert_eq!(
        (0..7).map(word).collect::<Vec<_>>(),
        vec![
            toc_at[0],
            toc_at[1],
            toc_at[2],
            1,
            split_at[0],
            split_at[1],
            split_at[2]
        ]
    );
    assert_eq!(toc_at[3], 1);
    assert_eq!(&footer[56..], b"GNUlInUx");
    (toc, split)
}

/// Checks every TOC entry against the tar: type, name, link, mode, owner, size, times and
/// xattrs; for files, the digest of the contents, and that each chunk's frames (or the whole
/// file's) decompress to exactly its bytes, with the chunk's digest. Returns how many
/// chunks of each kind were seen.
fn check_toc_against_tar(blob: &[u8], toc: &Value, tar_bytes: &[u8]) -> (usize, usize) {
    let entries = toc["entries"].as_array().expect("entries");
    let mut next = 0;
    let (mut data_chunks, mut zero_chunks) = (0, 0);
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("tar entry");
        let header = entry.header().clone();
        let name = String::from_utf8(entry.path_bytes().into_owned()).expect("utf-8 name");
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).expect("contents");
        let toc_entry = &entries[next];
        next += 1;
        let kind = match header.entry_type() {
            tar::EntryType::Regular => "reg",
            tar::EntryType::Directory => "dir",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Link => "hardlink",
            tar::EntryType::Fifo => "fifo",
            tar::EntryType::Char => "char",
            other => panic!("unexpected tar entry type {other:?}"),
        };
        assert_eq!(toc_entry["type"], kind, "{name}");
        assert_eq!(toc_entry["name"], name.as_str());
        let number = |key: &str| toc_entry[key].as_u64().unwrap_or(0);
        assert_eq!(
            number("mode"),
            u64::from(header.mode().expect("mode")),
            "{name}"
        );
        assert_eq!(number("uid"), header.uid().expect("uid"), "{name}");
        assert_eq!(number("gid"), header.gid().expect("gid"), "{name}");
        assert_eq!(number("size"), contents.len() as u64, "{name}");
        if let Some(link) = entry.link_name_bytes() {
            assert_eq!(
                toc_entry["linkName"],
                String::from_utf8_lossy(&link).as_ref(),
                "{name}"
            );
        }
        if kind == "char" {
            assert_eq!((number("devMajor"), number("devMinor")), (1, 5));
        }
        let modified = toc_entry["modtime"].as_str().expect("modtime");
        let parsed = chrono::DateTime::parse_from_rfc3339(modified).expect("RFC 3339 modtime");
        if name == "home/xattr" {
            assert_eq!(
                (parsed.timestamp(), parsed.timestamp_subsec_nanos()),
                (1_650_000_123, 250_000_000)
            );
            let value = base64::engine::general_purpose::STANDARD
                .decode(toc_entry["xattrs"]["user.comment"].as_str().expect("xattr"))
                .expect("base64");
            assert_eq!(value, b"chunked & <ok>");
        } else {
            assert_eq!(
                parsed.timestamp() as u64,
                header.mtime().expect("mtime"),
                "{name}"
            );
        }
        if kind != "reg" || contents.is_empty() {
            assert!(
                toc_entry.get("digest").is_none() && toc_entry.get("offset").is_none(),
                "{name}"
            );
            continue;
        }
        assert_eq!(toc_entry["digest"], sha256_digest(&contents), "{name}");
        let end = number("endOffset") as usize;
        // The file's chunks: this entry, then its "chunk" entries.
        let mut chunks = vec![toc_entry];
        while entries.get(next).is_some_and(|e| e["type"] == "chunk") {
            assert_eq!(entries[next]["name"], name.as_str());
            chunks.push(&entries[next]);
            next += 1;
        }
        if chunks.len() == 1 {
            let start = number("offset") as usize;
            assert_eq!(unzstd(&blob[start..end]), contents, "{name}");
            data_chunks += 1;
            continue;
        }
        let mut covered = 0;
        for (index, chunk) in chunks.iter().enumerate() {
            let start = chunk["offset"].as_u64().expect("offset") as usize;
            let stop = chunks
                .get(index + 1)
                .map_or(end, |n| n["offset"].as_u64().expect("offset") as usize);
            let chunk_offset = chunk["chunkOffset"].as_u64().unwrap_or(0) as usize;
            let size = chunk["chunkSize"].as_u64().expect("chunkSize") as usize;
            assert_eq!(chunk_offset, covered, "{name}: chunks must be contiguous");
            let bytes = &contents[chunk_offset..chunk_offset + size];
            assert_eq!(unzstd(&blob[start..stop]), bytes, "{name} chunk {index}");
            assert_eq!(
                chunk["chunkDigest"],
                sha256_digest(bytes),
                "{name} chunk {index}"
            );
            if chunk.get("chunkType").is_some() {
                assert_eq!(chunk["chunkType"], "zeros");
                assert!(
                    bytes.len() >= 1024 && bytes.iter().all(|&b| b == 0),
                    "{name}"
                );
                zero_chunks += 1;
            } else {
                data_chunks += 1;
            }
            covered += size;
        }
        assert_eq!(
            covered,
            contents.len(),
            "{name}: chunks must cover the file"
        );
    }
    assert_eq!(
        next,
        entries.len(),
        "the TOC lists entries the tar does not have"
    );
    (data_chunks, zero_chunks)
}

/// Rebuilds the tar from the tar-split lines (raw segments, and file contents taken from
/// the original tar in order, checked against their CRC-64).
fn rebuild_from_tar_split(split: &[u8], tar_bytes: &[u8]) -> Vec<u8> {
    const CRC64_GO_ISO: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_GO_ISO);
    let mut contents = Vec::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries().expect("tar") {
        let mut data = Vec::new();
        entry
            .expect("entry")
            .read_to_end(&mut data)
            .expect("contents");
        contents.push(data);
    }
    let mut files = contents.into_iter();
    let mut rebuilt = Vec::new();
    for (position, line) in split
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let entry = parse_json(line);
        assert_eq!(entry["position"], position);
        let payload = entry["payload"].as_str().map(|text| {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64")
        });
        match entry["type"].as_u64() {
            Some(2) => rebuilt.extend(payload.expect("segment payload")),
            Some(1) => {
                let data = files.next().expect("a file for the entry");
                assert_eq!(entry["size"].as_u64().unwrap_or(0), data.len() as u64);
                if !data.is_empty() {
                    assert_eq!(
                        payload.expect("crc"),
                        CRC64_GO_ISO.checksum(&data).to_be_bytes()
                    );
                }
                rebuilt.extend(data);
            }
            other => panic!("unknown tar-split entry type {other:?}"),
        }
    }
    rebuilt
}

/// `src:latest` with [`layer_tar`]; the tar and its DiffID.
fn source_image(workspace: &Workspace) -> (Vec<u8>, String) {
    let tar = layer_tar(7);
    let diff_id = write_layout(&workspace.path("src"), &tar);
    (tar, diff_id)
}

fn copy(workspace: &Workspace, args: &[&str]) {
    let mut full = vec!["--insecure-policy", "copy", "-q"];
    full.extend_from_slice(args);
    workspace.skopos(&full).assert_success();
}

#[test]
fn the_toc_lists_every_file_with_its_frames_and_digests() {
    let workspace = Workspace::new();
    let (tar, diff_id) = source_image(&workspace);
    copy(
        &workspace,
        &[
            "--dest-compress-format",
            "zstd:chunked",
            "oci:src:latest",
            "oci:out:t",
        ],
    );
    let image = Image::open(&workspace.path("out"));
    assert_eq!(image.layer()["mediaType"], ZSTD_LAYER);
    let annotations = image.annotations();
    assert_eq!(
        annotations.keys().collect::<Vec<_>>(),
        vec![TOC_CHECKSUM, TOC_POSITION, TAR_SPLIT_POSITION],
        "a recompressed layer has the new format's annotations and none of the source's"
    );
    assert_eq!(image.diff_ids(), serde_json::json!([diff_id]));
    let blob = image.layer_blob();
    let (toc, split) = chunked_metadata(&blob, &annotations, &tar);
    let (data_chunks, zero_chunks) = check_toc_against_tar(&blob, &toc, &tar);
    assert!(
        data_chunks >= 8,
        "700 kB of noise spans several chunks: {data_chunks}"
    );
    assert_eq!(
        zero_chunks, 2,
        "the 70 000 and 4096 zero runs; 800 zeros stay data"
    );
    assert_eq!(rebuild_from_tar_split(&split, &tar), tar);
}

#[test]
fn skopeo_1_22_reads_the_layer_and_writes_the_same_toc_and_tar_split() {
    let workspace = Workspace::new();
    let (tar, diff_id) = source_image(&workspace);
    copy(
        &workspace,
        &[
            "--dest-compress-format",
            "zstd:chunked",
            "oci:src:latest",
            "oci:ours:t",
        ],
    );
    let args = [
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd:chunked",
        "oci:src:latest",
        "oci:theirs:t",
    ];
    let Some(theirs) = workspace.skopeo_1_22(
        "zstd:chunked layers compared with skopeo 1.22.2's",
        &[],
        &args,
    ) else {
        return;
    };
    theirs.assert_success();
    // skopeo 1.22.2 reads skopos's layer: inspect, and a decompressing copy gives the DiffID.
    let inspected = workspace
        .skopeo_1_22("inspect", &[], &["inspect", "oci:ours:t"])
        .expect("set above");
    inspected.assert_success();
    assert_eq!(
        parse_json(&inspected.stdout_bytes)["LayersData"][0]["MIMEType"],
        ZSTD_LAYER
    );
    workspace
        .skopeo_1_22(
            "decompressing copy",
            &[],
            &[
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-decompress",
                "oci:ours:t",
                "dir:plain",
            ],
        )
        .expect("set above")
        .assert_success();
    let plain = Image {
        manifest: parse_json(&read(&workspace.path("plain/manifest.json"))),
        blobs: workspace.path("plain"),
    };
    let layer_digest = plain.layer()["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    assert_eq!(layer_digest, diff_id);
    assert_eq!(
        sha256_digest(&read(
            &workspace
                .path("plain")
                .join(&layer_digest["sha256:".len()..])
        )),
        diff_id
    );

    // The same input gives the same chunks, TOC entries (but for compressed offsets) and
    // tar-split as skopeo 1.22.2's; the compressed bytes differ with the zstd encoder.
    let ours = Image::open(&workspace.path("ours"));
    let theirs = Image::open(&workspace.path("theirs"));
    let (mut our_toc, our_split) = chunked_metadata(&ours.layer_blob(), &ours.annotations(), &tar);
    let (mut their_toc, their_split) =
        chunked_metadata(&theirs.layer_blob(), &theirs.annotations(), &tar);
    assert_eq!(
        our_split, their_split,
        "tar-split differs from skopeo 1.22.2's"
    );
    for toc in [&mut our_toc, &mut their_toc] {
        toc["tarSplitDigest"] = Value::Null;
        for entry in toc["entries"].as_array_mut().expect("entries") {
            let entry = entry.as_object_mut().expect("entry");
            entry.remove("offset");
            entry.remove("endOffset");
        }
    }
    assert_eq!(
        our_toc, their_toc,
        "TOC differs from skopeo 1.22.2's beyond compressed offsets"
    );
    // The manifests differ only in the layer's digest, size and annotation values.
    let masked = |image: &Image| {
        let mut manifest = image.manifest.clone();
        let layer = &mut manifest["layers"][0];
        layer["digest"] = Value::Null;
        layer["size"] = Value::Null;
        for value in layer["annotations"]
            .as_object_mut()
            .expect("annotations")
            .values_mut()
        {
            *value = Value::Null;
        }
        manifest
    };
    assert_eq!(masked(&ours), masked(&theirs));
    // The uncompressed TOC and tar-split have the same lengths as skopeo's.
    let length = |image: &Image, key: &str| position(&image.annotations()[key])[2];
    assert_eq!(
        length(&ours, TAR_SPLIT_POSITION),
        length(&theirs, TAR_SPLIT_POSITION)
    );
}

#[test]
fn layers_skopeo_1_22_wrote_are_read_kept_or_recompressed() {
    let workspace = Workspace::new();
    let (tar, diff_id) = source_image(&workspace);
    let args = [
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd:chunked",
        "oci:src:latest",
        "oci:theirs:t",
    ];
    let Some(theirs) = workspace.skopeo_1_22(
        "reading zstd:chunked layers written by skopeo 1.22.2",
        &[],
        &args,
    ) else {
        return;
    };
    theirs.assert_success();
    let source = Image::open(&workspace.path("theirs"));
    check_toc_against_tar(
        &source.layer_blob(),
        &chunked_metadata(&source.layer_blob(), &source.annotations(), &tar).0,
        &tar,
    );
    // Decompressed: the DiffID, and no chunked annotations left.
    copy(
        &workspace,
        &["--dest-decompress", "oci:theirs:t", "dir:plain"],
    );
    let manifest = parse_json(&read(&workspace.path("plain/manifest.json")));
    assert_eq!(manifest["layers"][0]["digest"], diff_id.as_str());
    assert!(manifest["layers"][0].get("annotations").is_none());
    // zstd and zstd:chunked keep the blob and its annotations (zstd:chunked is zstd).
    for format in ["zstd", "zstd:chunked"] {
        let out = format!("oci:kept-{}:t", format.replace(':', "-"));
        copy(
            &workspace,
            &["--dest-compress-format", format, "oci:theirs:t", &out],
        );
        let kept = Image::open(&workspace.path(&out["oci:".len()..out.len() - 2]));
        assert_eq!(
            kept.layer(),
            source.layer(),
            "--dest-compress-format {format}"
        );
    }
    // gzip recompresses and drops them.
    copy(
        &workspace,
        &["--dest-compress-format", "gzip", "oci:theirs:t", "oci:gz:t"],
    );
    let gz = Image::open(&workspace.path("gz"));
    assert_eq!(
        gz.layer()["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert!(gz.layer().get("annotations").is_none());
    assert_eq!(gz.diff_ids(), serde_json::json!([diff_id]));
}

#[test]
fn skopeo_1_9_s_older_variant_is_read_and_rewritten_in_the_new_one() {
    let workspace = Workspace::new();
    let (tar, diff_id) = source_image(&workspace);
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-compress-format",
            "zstd:chunked",
            "oci:src:latest",
            "oci:old:t",
        ])
        .assert_success();
    let old = Image::open(&workspace.path("old"));
    assert!(
        old.annotations().contains_key(OLD_TOC_CHECKSUM),
        "{:?}",
        old.annotations()
    );
    assert_eq!(sha256_digest(&unzstd(&old.layer_blob())), diff_id);
    copy(&workspace, &["--dest-decompress", "oci:old:t", "dir:plain"]);
    let manifest = parse_json(&read(&workspace.path("plain/manifest.json")));
    assert_eq!(manifest["layers"][0]["digest"], diff_id.as_str());
    // The old annotations are no TOC digest to containers/image 1.22: the layer counts as
    // plain zstd and is rewritten as zstd:chunked.
    copy(
        &workspace,
        &[
            "--dest-compress-format",
            "zstd:chunked",
            "oci:old:t",
            "oci:new:t",
        ],
    );
    let new = Image::open(&workspace.path("new"));
    let annotations = new.annotations();
    assert!(!annotations.contains_key(OLD_TOC_CHECKSUM));
    let blob = new.layer_blob();
    check_toc_against_tar(&blob, &chunked_metadata(&blob, &annotations, &tar).0, &tar);
}

#[test]
fn podman_pulls_the_layer_with_its_diff_id() {
    let workspace = Workspace::new();
    let (_, diff_id) = source_image(&workspace);
    copy(
        &workspace,
        &[
            "--dest-compress-format",
            "zstd:chunked",
            "oci:src:latest",
            "oci:out:t",
        ],
    );
    let store = PodmanStore::new("vfs");
    // Relative: podman names the image after the layout's path, and the temp dir's name
    // has upper-case letters a repository name may not have.
    let pulled = store
        .command(&["pull", "-q", "oci:out:t"])
        .current_dir(workspace.path("."))
        .output()
        .expect("running podman pull");
    assert!(
        pulled.status.success(),
        "podman pull: {}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let id = String::from_utf8_lossy(&pulled.stdout).trim().to_string();
    let inspect = store.image_inspect(&id);
    let layers = &inspect["RootFS"]["Layers"];
    let listed = if layers.is_array() {
        layers.clone()
    } else {
        serde_json::json!([])
    };
    assert_eq!(listed, serde_json::json!([diff_id]), "{inspect}");
}

/// `--dest-force-compress-format`: a blob the destination has in another compression is
/// reused without it and recompressed with it, as skopeo 1.22.2 does.
#[test]
fn force_compress_format_recompresses_what_would_be_reused() {
    let workspace = Workspace::new();
    source_image(&workspace);
    let media_types = |who: &str, force: bool| -> String {
        let layout = format!("dest-{who}-{force}");
        let mut args = vec!["--insecure-policy", "copy", "-q"];
        let first = format!("oci:{layout}:a");
        let second = format!("oci:{layout}:b");
        let mut second_args = args.clone();
        args.extend(["oci:src:latest", first.as_str()]);
        second_args.extend(["--dest-compress-format", "zstd:chunked"]);
        if force {
            second_args.push("--dest-force-compress-format");
        }
        second_args.extend(["oci:src:latest", second.as_str()]);
        let run = |args: &[&str]| match who {
            "skopos" => Some(workspace.skopos(args)),
            _ => workspace.skopeo_1_22(
                "--dest-force-compress-format compared with skopeo 1.22.2",
                &[],
                args,
            ),
        };
        let Some(first_run) = run(&args) else {
            return String::new();
        };
        first_run.assert_success();
        run(&second_args).expect("ran before").assert_success();
        let index = parse_json(&read(&workspace.path(&layout).join("index.json")));
        let b = index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "b")
            .expect("tag b")["digest"]
            .as_str()
            .expect("digest")
            .to_string();
        let manifest = parse_json(&read(
            &workspace
                .path(&layout)
                .join("blobs/sha256")
                .join(&b["sha256:".len()..]),
        ));
        format!(
            "{} {}",
            manifest["layers"][0]["mediaType"].as_str().expect("type"),
            manifest["layers"][0]["annotations"]
                .get(TOC_CHECKSUM)
                .is_some()
        )
    };
    assert_eq!(
        media_types("skopos", false),
        "application/vnd.oci.image.layer.v1.tar+gzip false"
    );
    assert_eq!(media_types("skopos", true), format!("{ZSTD_LAYER} true"));
    let theirs = media_types("skopeo-1.22", false);
    if !theirs.is_empty() {
        assert_eq!(theirs, "application/vnd.oci.image.layer.v1.tar+gzip false");
        assert_eq!(
            media_types("skopeo-1.22", true),
            format!("{ZSTD_LAYER} true")
        );
    }
}

/// A layer that is not a tar cannot get a TOC: one line on stderr, exit 1, no image written
/// (skopeo 1.22.2 fails the same way, with Go's `archive/tar: invalid tar header`).
#[test]
fn a_layer_that_is_not_a_tar_fails_with_one_line() {
    let workspace = Workspace::new();
    write_layout(&workspace.path("src"), &noise(3, 5000));
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "--dest-compress-format",
        "zstd:chunked",
        "oci:src:latest",
        "oci:out:t",
    ]);
    common::assert_one_line_failure(&outcome, Some(1));
    assert!(
        outcome.stderr.contains("archive/tar: invalid tar header"),
        "{}",
        outcome.stderr
    );
    assert!(!workspace.path("out/index.json").exists());
}

/// zstd:chunked (like zstd) can only be described by an OCI manifest: a Docker schema 2
/// image copied with it gets one even where the layers stay as they are (`dir:`), and a
/// destination that takes only Docker manifests refuses the copy before writing, as skopeo
/// 1.22.2 does.
#[test]
fn zstd_chunked_forces_an_oci_manifest() {
    let workspace = Workspace::new();
    source_image(&workspace);
    copy(
        &workspace,
        &["--format", "v2s2", "oci:src:latest", "dir:v2s2"],
    );
    for who in ["skopos", "skopeo-1.22"] {
        let out = format!("dir:converted-{who}");
        let args = [
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-compress-format",
            "zstd:chunked",
            "dir:v2s2",
            out.as_str(),
        ];
        let outcome = match who {
            "skopos" => workspace.skopos(&args),
            _ => match workspace.skopeo_1_22(
                "zstd:chunked manifest type compared with skopeo 1.22.2",
                &[],
                &args,
            ) {
                Some(outcome) => outcome,
                None => continue,
            },
        };
        outcome.assert_success();
        let manifest = parse_json(&read(
            &workspace.path(&out["dir:".len()..]).join("manifest.json"),
        ));
        assert_eq!(
            manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
            "{who}"
        );
    }
    let refused = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "--dest-compress-format",
        "zstd:chunked",
        "oci:src:latest",
        "docker-archive:out.tar",
    ]);
    common::assert_one_line_failure(&refused, Some(1));
    assert_eq!(
        common::skopeo_message(&refused.stderr),
        "compression using zstd:chunked required but the destination only supports MIME types [application/vnd.docker.distribution.manifest.v2+json], none of which support it"
    );
    assert!(!workspace.path("out.tar").exists());
}

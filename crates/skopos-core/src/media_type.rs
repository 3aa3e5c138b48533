//! Media (MIME) types of manifests, configs and layers.

/// Docker schema 1 manifest without a signature.
pub const DOCKER_V2_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema 1 manifest with a libtrust JWS signature (what registries serve).
pub const DOCKER_V2_SCHEMA1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker schema 2 image manifest.
pub const DOCKER_V2_SCHEMA2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (several images, one per platform).
pub const DOCKER_V2_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image configuration (schema 2).
pub const DOCKER_V2_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer, gzip-compressed.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker layer, uncompressed tar.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign layer (gzip), downloaded from the `urls` its descriptor gives (Windows base
/// layers).
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index (several manifests, one per platform or artifact).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image configuration.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer, uncompressed tar.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip-compressed.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd-compressed; zstd:chunked layers have this type too (annotations locate their
/// table of contents).
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable layer (deprecated since image-spec 1.1), uncompressed.
pub const OCI_LAYER_NONDISTRIBUTABLE: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// OCI non-distributable layer, gzip-compressed.
pub const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// OCI non-distributable layer, zstd-compressed.
pub const OCI_LAYER_NONDISTRIBUTABLE_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

/// Whether `mime` names a manifest list / image index rather than a single image.
pub fn is_list(mime: &str) -> bool {
    mime == DOCKER_V2_LIST || mime == OCI_INDEX
}

/// Whether `mime` names a Docker schema 1 manifest (signed or not).
pub fn is_schema1(mime: &str) -> bool {
    mime == DOCKER_V2_SCHEMA1 || mime == DOCKER_V2_SCHEMA1_SIGNED
}

/// Every manifest type skopos can read, in the order used for a registry's Accept header.
pub const ALL_MANIFEST_TYPES: &[&str] = &[
    OCI_MANIFEST,
    DOCKER_V2_SCHEMA2,
    DOCKER_V2_SCHEMA1_SIGNED,
    DOCKER_V2_SCHEMA1,
    DOCKER_V2_LIST,
    OCI_INDEX,
];

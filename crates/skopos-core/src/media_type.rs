//! Media (MIME) types of manifests, configs and layers.

pub const DOCKER_V2_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_V2_SCHEMA1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const DOCKER_V2_SCHEMA2: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_V2_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_V2_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDISTRIBUTABLE: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
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

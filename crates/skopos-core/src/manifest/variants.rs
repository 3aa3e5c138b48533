//! Layer media types that differ only in compression, and how a layer's media type changes
//! when the layer is (re)compressed or decompressed on its way to the destination
//! (containers/image `compressionVariantMIMEType` / `updatedMIMEType`).

use crate::compression::Compression;
use crate::media_type as mt;

use super::CompressionUpdate;
use crate::go::text::go_quote;

/// One family of layer media types: the uncompressed, gzip and zstd variants; `None`
/// means the variant exists in principle but the format does not allow it.
pub(crate) struct VariantSet {
    uncompressed: &'static str,
    gzip: &'static str,
    zstd: Option<&'static str>,
}

impl VariantSet {
    fn contains(&self, media_type: &str) -> bool {
        media_type == self.uncompressed || media_type == self.gzip || self.zstd == Some(media_type)
    }
}

/// Docker schema 2 layer types (no zstd variants exist for Docker).
pub(crate) const SCHEMA2_VARIANTS: &[VariantSet] = &[
    VariantSet {
        uncompressed: super::DOCKER_FOREIGN_LAYER,
        gzip: mt::DOCKER_FOREIGN_LAYER_GZIP,
        zstd: None,
    },
    VariantSet {
        uncompressed: mt::DOCKER_LAYER,
        gzip: mt::DOCKER_LAYER_GZIP,
        zstd: None,
    },
];

/// OCI layer types.
pub(crate) const OCI_VARIANTS: &[VariantSet] = &[
    VariantSet {
        uncompressed: mt::OCI_LAYER_NONDISTRIBUTABLE,
        gzip: mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        zstd: Some(mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD),
    },
    VariantSet {
        uncompressed: mt::OCI_LAYER,
        gzip: mt::OCI_LAYER_GZIP,
        zstd: Some(mt::OCI_LAYER_ZSTD),
    },
];

/// The name containers/image uses for an algorithm when choosing a media type variant
/// (`zstd:chunked` blobs are zstd as far as media types go).
fn variant_name(compression: Compression) -> &'static str {
    match compression {
        Compression::Zstd | Compression::ZstdChunked => "zstd",
        other => other.name(),
    }
}

/// Whether `media_type` is one of `table`'s layer types (containers/image's
/// `compressionVariantsRecognizeMIMEType`).
pub(crate) fn recognizes(table: &[VariantSet], media_type: &str) -> bool {
    table.iter().any(|set| set.contains(media_type))
}

/// The variant of `media_type` for `compression` (`None` = uncompressed).
fn compression_variant(
    table: &[VariantSet],
    media_type: &str,
    compression: Option<Compression>,
) -> Result<String, String> {
    if media_type.is_empty() {
        return Err("cannot update unknown MIME type".to_string());
    }
    let Some(set) = table.iter().find(|set| set.contains(media_type)) else {
        return Err(match compression {
            Some(_) => format!(
                "unsupported MIME type for compression: {}",
                go_quote(media_type)
            ),
            None => format!(
                "unsupported MIME type for decompression: {}",
                go_quote(media_type)
            ),
        });
    };
    match compression {
        None => Ok(set.uncompressed.to_string()),
        Some(Compression::Gzip) => Ok(set.gzip.to_string()),
        Some(c @ (Compression::Zstd | Compression::ZstdChunked)) => match set.zstd {
            Some(zstd) => Ok(zstd.to_string()),
            None => Err(format!(
                "{} compression is not supported for type {}",
                variant_name(c),
                go_quote(media_type)
            )),
        },
        Some(other) => Err(format!(
            "unknown compressed with algorithm {} variant for type {}",
            variant_name(other),
            go_quote(media_type)
        )),
    }
}

/// The media type a layer of `media_type` gets after `update`.
pub(crate) fn updated_media_type(
    table: &[VariantSet],
    media_type: &str,
    update: CompressionUpdate,
) -> Result<String, String> {
    match update {
        CompressionUpdate::Unchanged => Ok(media_type.to_string()),
        CompressionUpdate::Decompressed => compression_variant(table, media_type, None),
        CompressionUpdate::Compressed(c) => compression_variant(table, media_type, Some(c)),
    }
}

/// The compression a layer media type declares.
pub(crate) fn declared_compression(media_type: &str) -> Option<Compression> {
    [SCHEMA2_VARIANTS, OCI_VARIANTS]
        .iter()
        .flat_map(|table| table.iter())
        .find_map(|set| {
            if media_type == set.gzip {
                Some(Compression::Gzip)
            } else if set.zstd == Some(media_type) {
                Some(Compression::Zstd)
            } else {
                None
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_variants() {
        let oci = |m, u| updated_media_type(OCI_VARIANTS, m, u);
        assert_eq!(
            oci(
                mt::OCI_LAYER_GZIP,
                CompressionUpdate::Compressed(Compression::Zstd)
            )
            .unwrap(),
            mt::OCI_LAYER_ZSTD
        );
        assert_eq!(
            oci(mt::OCI_LAYER_ZSTD, CompressionUpdate::Decompressed).unwrap(),
            mt::OCI_LAYER
        );
        assert_eq!(
            oci(
                mt::OCI_LAYER_NONDISTRIBUTABLE,
                CompressionUpdate::Compressed(Compression::Gzip)
            )
            .unwrap(),
            mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP
        );
        assert_eq!(
            oci("application/x-custom", CompressionUpdate::Unchanged).unwrap(),
            "application/x-custom"
        );
        assert_eq!(
            oci("application/x-custom", CompressionUpdate::Decompressed).unwrap_err(),
            "unsupported MIME type for decompression: \"application/x-custom\""
        );
        assert_eq!(
            updated_media_type(
                SCHEMA2_VARIANTS,
                mt::DOCKER_LAYER_GZIP,
                CompressionUpdate::Compressed(Compression::Zstd)
            )
            .unwrap_err(),
            "zstd compression is not supported for type \"application/vnd.docker.image.rootfs.diff.tar.gzip\""
        );
        assert_eq!(
            oci(mt::OCI_LAYER, CompressionUpdate::Compressed(Compression::Xz)).unwrap_err(),
            "unknown compressed with algorithm Xz variant for type \"application/vnd.oci.image.layer.v1.tar\""
        );
    }

    #[test]
    fn declares_compression() {
        assert_eq!(
            declared_compression(mt::DOCKER_LAYER_GZIP),
            Some(Compression::Gzip)
        );
        assert_eq!(
            declared_compression(mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD),
            Some(Compression::Zstd)
        );
        assert_eq!(declared_compression(mt::OCI_LAYER), None);
        assert_eq!(declared_compression(""), None);
    }
}

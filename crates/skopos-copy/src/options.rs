//! What a copy should do, independent of any command line.

use skopos_core::compression::Compression;
use skopos_core::platform::Platform;
use skopos_core::reference::DockerReference;

/// Which images of a manifest list to copy (`--multi-arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageListSelection {
    /// Only the image for `CopyOptions::platform`; the list itself is not copied.
    #[default]
    System,
    /// Every image and the list.
    All,
    /// The list alone, none of its images.
    IndexOnly,
}

/// Options for [`crate::copy_image`].
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub image_list_selection: ImageListSelection,
    /// The platform used to pick an image from a list (`--override-*` applied).
    pub platform: Platform,
    /// `--format`: the only manifest type to write (skopeo lets it override what the
    /// destination declares it supports).
    pub force_manifest_type: Option<&'static str>,
    /// `--preserve-digests`: refuse anything that would change a manifest digest.
    pub preserve_digests: bool,
    /// `--remove-signatures`.
    pub remove_signatures: bool,
    /// `--dest-compress-format`; `None` means gzip where compression is wanted.
    pub compression_format: Option<Compression>,
    /// `--dest-compress-level`.
    pub compression_level: Option<i32>,
    /// `--image-parallel-copies`: layers copied at once.
    pub max_parallel_blobs: usize,
    /// The destination's docker reference, for manifest formats that embed one.
    pub destination_reference: Option<DockerReference>,
    /// How to name the destination in messages (`transport:reference`).
    pub destination_name: String,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            image_list_selection: ImageListSelection::System,
            platform: Platform::wanted(None, None, None),
            force_manifest_type: None,
            preserve_digests: false,
            remove_signatures: false,
            compression_format: None,
            compression_level: None,
            max_parallel_blobs: DEFAULT_PARALLEL_BLOBS,
            destination_reference: None,
            destination_name: "the destination".to_string(),
        }
    }
}

/// containers/image's default for concurrent layer copies.
pub const DEFAULT_PARALLEL_BLOBS: usize = 6;

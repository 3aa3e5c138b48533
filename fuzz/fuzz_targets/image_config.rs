//! Image config blobs (OCI and Docker), as `inspect` and a copy read them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_core::image_config::OciImage;
use skopos_core::manifest::docker_v1_image::V1Image;

fuzz_target!(|bytes: &[u8]| {
    let _ = serde_json::from_slice::<OciImage>(bytes);
    let _ = serde_json::from_slice::<V1Image>(bytes);
});

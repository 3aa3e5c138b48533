//! Manifests and manifest lists of every schema, as a registry or a layout gives them:
//! parsed under each media type (and guessed), then walked and converted as a copy does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_core::manifest::{self, AnyManifest, ConversionInputs};
use skopos_core::media_type::ALL_MANIFEST_TYPES;
use skopos_core::platform::Platform;

fuzz_target!(|bytes: &[u8]| {
    let _ = manifest::guess_mime_type(bytes);
    for mime in ALL_MANIFEST_TYPES.iter().copied().chain([""]) {
        match manifest::parse(bytes, mime) {
            Ok(AnyManifest::Image(image)) => {
                let _ = image.config();
                let _ = image.layers();
                for target in ALL_MANIFEST_TYPES {
                    let inputs = ConversionInputs::default();
                    let _ = image.convert(target, &inputs);
                }
            }
            Ok(AnyManifest::List(list)) => {
                let _ = list.instances();
                let _ = list.choose_instance(&Platform::default());
            }
            Err(_) => {}
        }
    }
});

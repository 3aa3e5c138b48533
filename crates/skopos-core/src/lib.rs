//! The vocabulary every other skopos crate speaks: digests, media types, compression,
//! image references (`transport:reference`), manifests and their conversions, and the
//! [`ImageSource`] / [`ImageDestination`] traits that each transport implements and the
//! copy engine drives.

#![deny(missing_docs)]

pub mod blob_info_cache;
pub mod compression;
pub mod credentials;
pub mod digest;
pub mod error;
pub mod exec;
pub mod go;
pub mod image;
pub mod image_config;
pub mod image_read;
pub mod limits;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod read;
pub mod reference;
pub mod referrers;
pub mod retry;
pub mod rootless;
pub mod signature_blob;
pub mod strict_json;
pub mod tar_headers;
pub mod tar_split_crc;
pub mod verified;
pub mod writeback;

pub use credentials::{Credentials, Secret};
pub use digest::Digest;
pub use error::{ImageNotFound, Result};
pub use image::{
    BlobChunks, BlobInfo, BlobReader, BlobTail, FileBlob, ImageDestination, ImageSource,
    LayerCompression, SentBytes, SystemContext, WrittenBlob,
};
pub use reference::ImageName;

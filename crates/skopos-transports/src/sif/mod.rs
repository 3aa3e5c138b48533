//! `sif:PATH` — a Singularity Image Format file read as a one-layer OCI image (read only, as
//! in containers/image).

mod container;
mod rootfs;
mod source;

pub use source::SifSource;

//! `docker://`: images in a container registry, through the `skopos-registry` client.
//! Which endpoint, credentials and TLS settings apply comes from the command line and
//! the configuration files (registries.conf, auth.json, certs.d), resolved in
//! [`settings`].

mod destination;
mod settings;
mod source;

pub use destination::DockerDestination;
pub use source::DockerSource;

//! Blobs being written by one of several copies running at once (a sync copies several
//! images in parallel): a blob shared by several images goes to a registry once, and the
//! other copies wait for it, then find it there or mount it through the blob-info cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use skopos_core::Digest;
use tokio::sync::OwnedMutexGuard;

/// A blob in one destination scope (a registry).
type ScopedBlob = (String, Digest);

/// Held by the copy writing a blob.
type Claim = Arc<tokio::sync::Mutex<()>>;

/// The blobs claimed by the copies sharing this value, by destination scope and digest.
#[derive(Debug, Default)]
pub struct BlobClaims {
    claims: Mutex<HashMap<ScopedBlob, Claim>>,
}

impl BlobClaims {
    /// Wait until no other copy is writing blob `digest` to `scope` (a registry), then hold
    /// it until the returned guard is dropped.
    pub(crate) async fn claim(&self, scope: &str, digest: &Digest) -> OwnedMutexGuard<()> {
        let claim = {
            let mut claims = match self.claims.lock() {
                Ok(claims) => claims,
                Err(poisoned) => poisoned.into_inner(),
            };
            claims
                .entry((scope.to_string(), digest.clone()))
                .or_default()
                .clone()
        };
        claim.lock_owned().await
    }
}

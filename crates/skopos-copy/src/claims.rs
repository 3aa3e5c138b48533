//! Blobs being written by one of several copies running at once (a sync copies several
//! images in parallel): a blob shared by several images goes to a registry once, and the
//! other copies wait for it, then find it there or mount it through the blob-info cache;
//! and no registry gets more than a set number of blob transfers at once, whatever the
//! number of images.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use skopos_core::Digest;
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

/// A blob in one destination scope (a registry).
type ScopedBlob = (String, Digest);

/// Held by the copy writing a blob.
type Claim = Arc<tokio::sync::Mutex<()>>;

/// The blobs claimed by the copies sharing this value, by destination scope and digest,
/// and the transfers each scope may have at once.
#[derive(Debug)]
pub struct BlobClaims {
    claims: Mutex<HashMap<ScopedBlob, Claim>>,
    transfers: Mutex<HashMap<String, Arc<Semaphore>>>,
    transfers_per_scope: usize,
}

/// A claimed blob: while it is held, no other copy sharing the claims writes that blob to
/// that scope, and it counts as one of the scope's transfers.
#[derive(Debug)]
pub(crate) struct HeldBlob {
    _blob: OwnedMutexGuard<()>,
    _transfer: Option<OwnedSemaphorePermit>,
}

impl BlobClaims {
    /// Claims allowing `transfers_per_scope` blob transfers at once to each registry (at
    /// least one).
    pub fn new(transfers_per_scope: usize) -> BlobClaims {
        BlobClaims {
            claims: Mutex::new(HashMap::new()),
            transfers: Mutex::new(HashMap::new()),
            transfers_per_scope: transfers_per_scope.max(1),
        }
    }

    /// Wait until no other copy is writing blob `digest` to `scope` (a registry) and the
    /// scope has a transfer to spare, then hold both until the result is dropped. The blob
    /// is waited for first, so a copy waiting for another's blob holds no transfer.
    pub(crate) async fn claim(&self, scope: &str, digest: &Digest) -> HeldBlob {
        let blob = lock(&self.claims)
            .entry((scope.to_string(), digest.clone()))
            .or_default()
            .clone();
        let blob = blob.lock_owned().await;
        let transfers = lock(&self.transfers)
            .entry(scope.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.transfers_per_scope)))
            .clone();
        // The semaphore is never closed: an error cannot happen, and would only mean no limit.
        let transfer = transfers.acquire_owned().await.ok();
        HeldBlob {
            _blob: blob,
            _transfer: transfer,
        }
    }
}

/// A mutex's value; a panic elsewhere while holding it leaves nothing half-done here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    fn digest(n: u8) -> Digest {
        Digest::sha256_of(&[n])
    }

    #[tokio::test]
    async fn a_claimed_blob_waits_for_its_holder() {
        let claims = BlobClaims::new(4);
        let held = claims.claim("r", &digest(1)).await;
        assert!(claims.claim("r", &digest(1)).now_or_never().is_none());
        // Another blob, or the same blob in another registry, goes ahead.
        assert!(claims.claim("r", &digest(2)).now_or_never().is_some());
        assert!(claims.claim("other", &digest(1)).now_or_never().is_some());
        drop(held);
        assert!(claims.claim("r", &digest(1)).now_or_never().is_some());
    }

    #[tokio::test]
    async fn a_registry_gets_at_most_its_transfers_at_once() {
        let claims = BlobClaims::new(2);
        let first = claims.claim("r", &digest(1)).await;
        let _second = claims.claim("r", &digest(2)).await;
        assert!(claims.claim("r", &digest(3)).now_or_never().is_none());
        assert!(claims.claim("other", &digest(3)).now_or_never().is_some());
        drop(first);
        assert!(claims.claim("r", &digest(3)).now_or_never().is_some());
    }
}

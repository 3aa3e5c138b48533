//! The cache's SQLite tables, as containers/image defines and uses them.
//!
//! Several processes (skopos, skopeo, podman) may use one file at once: every access is one
//! `BEGIN EXCLUSIVE` transaction (never a read lock upgraded to a write lock, which SQLite
//! may refuse), with a 5 s busy timeout to wait for the others, and a full sync on commit;
//! these are the settings containers/image opens the file with.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use rusqlite::{params, Connection, OptionalExtension as _, Transaction, TransactionBehavior};
use skopos_core::blob_info_cache::{BlobFact, BlobInfoCache, BlobLocation, ReuseCandidate};
use skopos_core::Digest;

/// How long to wait for another process's transaction (go-sqlite3's default).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many candidates are offered for one blob (containers/image's
/// `replacementAttempts`).
const MAX_CANDIDATES: usize = 5;

/// The tables and index, created when the last of them is missing. Digests are stored as
/// text; `KnownLocations.time` as go-sqlite3 writes a Go `time.Time`.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS DigestUncompressedPairs(
        anyDigest TEXT PRIMARY KEY NOT NULL,
        uncompressedDigest TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS DigestUncompressedPairs_index_uncompressedDigest
        ON DigestUncompressedPairs(uncompressedDigest)",
    "CREATE TABLE IF NOT EXISTS DigestCompressors(
        digest TEXT PRIMARY KEY NOT NULL,
        compressor TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS KnownLocations(
        transport TEXT NOT NULL,
        scope TEXT NOT NULL,
        digest TEXT NOT NULL,
        location TEXT NOT NULL,
        time TIMESTAMP NOT NULL,
        PRIMARY KEY (transport, scope, digest, location))",
    "CREATE TABLE IF NOT EXISTS DigestTOCUncompressedPairs(
        tocDigest TEXT PRIMARY KEY NOT NULL,
        uncompressedDigest TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS DigestSpecificVariantCompressors(
        digest TEXT PRIMARY KEY NOT NULL,
        specificVariantCompressor TEXT NOT NULL,
        specificVariantAnnotations BLOB NOT NULL)",
];

/// The item whose presence means the schema is complete.
const LAST_SCHEMA_ITEM: &str = "DigestSpecificVariantCompressors";

/// How go-sqlite3 writes a `time.Time` (Go's `2006-01-02 15:04:05.999999999-07:00`).
const GO_SQLITE_TIME: &str = "%Y-%m-%d %H:%M:%S%.f%:z";

/// A blob-info cache in one SQLite database, a file or (the fallback) memory.
#[derive(Debug)]
pub struct SqliteCache {
    connection: Mutex<Connection>,
    /// Recorded facts not written yet: each transaction on the file is a full sync, so a
    /// copy's facts are written together.
    pending: Mutex<Vec<BlobFact>>,
}

impl SqliteCache {
    /// Open (creating it and its tables if needed) the cache file at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<SqliteCache> {
        SqliteCache::prepare(Connection::open(path)?)
    }

    /// A cache that lives as long as the process (containers/image's memory cache).
    pub fn in_memory() -> rusqlite::Result<SqliteCache> {
        SqliteCache::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut connection: Connection) -> rusqlite::Result<SqliteCache> {
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", true)?;
        {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Exclusive)?;
            let complete = tx
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE name = ?",
                    [LAST_SCHEMA_ITEM],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !complete {
                for statement in SCHEMA {
                    tx.execute(statement, [])?;
                }
            }
            tx.commit()?;
        }
        Ok(SqliteCache {
            connection: Mutex::new(connection),
            pending: Mutex::new(Vec::new()),
        })
    }

    /// Run `body` in one exclusive transaction that sees the facts recorded and not yet
    /// written, and changes nothing: the facts are written in it and rolled back with it.
    /// What `body` returns, or `None` (logged) when the database fails: a cache that
    /// cannot answer knows nothing.
    ///
    /// Rolled back rather than committed, because a commit syncs the file (containers/image
    /// opens it with a full sync) and a lookup is on a copy's way: the first lookup after a
    /// blob was stored waited 30 ms for the disk under the copy's own writes, holding back
    /// the next layer's upload. The facts are written once, by [`BlobInfoCache::flush`].
    fn transaction<T>(
        &self,
        what: &str,
        body: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Option<T> {
        // The connection first: `flush` takes the pending facts under it, so a lookup sees
        // each fact either pending or written, never neither (a sync would otherwise upload
        // a blob it could have mounted).
        let mut connection = lock(&self.connection);
        let pending = lock(&self.pending).clone();
        let result = connection
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .and_then(|tx| {
                write_facts(&tx, &pending)?;
                let value = body(&tx)?;
                tx.rollback()?;
                Ok(value)
            });
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                tracing::debug!("blob info cache: {what}: {err}");
                None
            }
        }
    }
}

impl Drop for SqliteCache {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A mutex's value; a panic elsewhere while holding it leaves nothing half-done here.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Write `facts` in `tx`.
fn write_facts(tx: &Transaction<'_>, facts: &[BlobFact]) -> rusqlite::Result<()> {
    if facts.is_empty() {
        return Ok(());
    }
    let now = Utc::now().format(GO_SQLITE_TIME).to_string();
    for fact in facts {
        match fact {
            BlobFact::UncompressedPair { any, uncompressed } => tx.execute(
                "INSERT OR REPLACE INTO DigestUncompressedPairs(anyDigest, uncompressedDigest) VALUES (?, ?)",
                [any.to_string(), uncompressed.to_string()],
            )?,
            BlobFact::Compressor { digest, compressor } => tx.execute(
                "INSERT OR REPLACE INTO DigestCompressors(digest, compressor) VALUES (?, ?)",
                [digest.to_string(), compressor.to_string()],
            )?,
            BlobFact::KnownLocation { location, digest } => tx.execute(
                "INSERT OR REPLACE INTO KnownLocations(transport, scope, digest, location, time) VALUES (?, ?, ?, ?, ?)",
                params![location.transport, location.scope, digest.to_string(), location.location, now],
            )?,
        };
    }
    Ok(())
}

fn uncompressed_in(tx: &Transaction<'_>, any: &Digest) -> rusqlite::Result<Option<Digest>> {
    let recorded: Option<String> = tx
        .query_row(
            "SELECT uncompressedDigest FROM DigestUncompressedPairs WHERE anyDigest = ?",
            [any.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(text) = recorded {
        return Ok(text.parse().ok());
    }
    // Being some blob's uncompressed digest means being uncompressed: containers/image
    // records no (d, d) pair when it already has (compressed, d).
    let is_uncompressed = tx
        .query_row(
            "SELECT 1 FROM DigestUncompressedPairs WHERE uncompressedDigest = ?",
            [any.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    Ok(is_uncompressed.then(|| any.clone()))
}

/// One candidate as read, with when it was seen.
struct Seen {
    candidate: ReuseCandidate,
    time: Option<DateTime<FixedOffset>>,
}

fn append_candidates(
    tx: &Transaction<'_>,
    location: &BlobLocation,
    digest: &Digest,
    found: &mut Vec<Seen>,
) -> rusqlite::Result<()> {
    let compressor: Option<String> = tx
        .query_row(
            "SELECT compressor FROM DigestCompressors WHERE digest = ?",
            [digest.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    let mut statement = tx.prepare_cached(
        "SELECT location, time FROM KnownLocations WHERE transport = ? AND scope = ? AND digest = ?",
    )?;
    let rows = statement.query_map(
        params![location.transport, location.scope, digest.to_string()],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, rusqlite::types::Value>(1)?,
            ))
        },
    )?;
    for row in rows {
        let (at, time) = row?;
        found.push(Seen {
            candidate: ReuseCandidate {
                digest: digest.clone(),
                compressor: compressor.clone(),
                location: at,
            },
            time: parse_time(&time),
        });
    }
    Ok(())
}

/// A `KnownLocations.time` as go-sqlite3 or SQLite itself may have stored it.
fn parse_time(value: &rusqlite::types::Value) -> Option<DateTime<FixedOffset>> {
    match value {
        rusqlite::types::Value::Text(text) => DateTime::parse_from_str(text, GO_SQLITE_TIME)
            .or_else(|_| DateTime::parse_from_rfc3339(text))
            .ok(),
        rusqlite::types::Value::Integer(seconds) => {
            DateTime::from_timestamp(*seconds, 0).map(|time| time.fixed_offset())
        }
        _ => None,
    }
}

impl BlobInfoCache for SqliteCache {
    fn uncompressed_digest(&self, any: &Digest) -> Option<Digest> {
        self.transaction("looking up an uncompressed digest", |tx| {
            uncompressed_in(tx, any)
        })
        .flatten()
    }

    fn record(&self, facts: &[BlobFact]) {
        lock(&self.pending).extend_from_slice(facts);
    }

    /// Writes the facts recorded and not yet written in one transaction (one sync of the
    /// file); best effort, as recording is.
    fn flush(&self) {
        let mut connection = lock(&self.connection);
        let pending = std::mem::take(&mut *lock(&self.pending));
        if pending.is_empty() {
            return;
        }
        let written = connection
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .and_then(|tx| {
                write_facts(&tx, &pending)?;
                tx.commit()
            });
        if let Err(err) = written {
            tracing::debug!("blob info cache: recording blob facts: {err}");
        }
    }

    fn candidates(
        &self,
        location: &BlobLocation,
        digest: &Digest,
        can_substitute: bool,
    ) -> Vec<ReuseCandidate> {
        let found = self.transaction("looking up candidate locations", |tx| {
            let mut found = Vec::new();
            append_candidates(tx, location, digest, &mut found)?;
            let mut uncompressed = None;
            if can_substitute {
                uncompressed = uncompressed_in(tx, digest)?;
                if let Some(uncompressed) = &uncompressed {
                    let mut statement = tx.prepare_cached(
                        "SELECT anyDigest FROM DigestUncompressedPairs WHERE uncompressedDigest = ?",
                    )?;
                    let others: Vec<String> = statement
                        .query_map([uncompressed.to_string()], |row| row.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    for other in others.iter().filter_map(|text| text.parse::<Digest>().ok()) {
                        if &other != digest && &other != uncompressed {
                            append_candidates(tx, location, &other, &mut found)?;
                        }
                    }
                    if uncompressed != digest {
                        append_candidates(tx, location, uncompressed, &mut found)?;
                    }
                }
            }
            Ok((found, uncompressed))
        });
        let Some((mut found, uncompressed)) = found else {
            return Vec::new();
        };
        found.sort_by(|a, b| prioritize(a, b, digest, uncompressed.as_ref()));
        found
            .into_iter()
            .take(MAX_CANDIDATES)
            .map(|seen| seen.candidate)
            .collect()
    }
}

/// containers/image's order: the wanted digest first, the uncompressed one last, the most
/// recently seen first within each.
fn prioritize(a: &Seen, b: &Seen, primary: &Digest, uncompressed: Option<&Digest>) -> Ordering {
    let class = |seen: &Seen| {
        if &seen.candidate.digest == primary {
            0
        } else if Some(&seen.candidate.digest) == uncompressed {
            2
        } else {
            1
        }
    };
    class(a)
        .cmp(&class(b))
        .then_with(|| b.time.cmp(&a.time))
        .then_with(|| {
            a.candidate
                .digest
                .to_string()
                .cmp(&b.candidate.digest.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::sha256_of(&[n])
    }

    fn registry(repository: &str) -> BlobLocation {
        BlobLocation {
            transport: "docker".into(),
            scope: "registry.example".into(),
            location: format!("registry.example/{repository}"),
        }
    }

    fn pair(any: &Digest, uncompressed: &Digest) -> BlobFact {
        BlobFact::UncompressedPair {
            any: any.clone(),
            uncompressed: uncompressed.clone(),
        }
    }

    fn seen_at(repository: &str, digest: &Digest) -> BlobFact {
        BlobFact::KnownLocation {
            location: registry(repository),
            digest: digest.clone(),
        }
    }

    #[test]
    fn uncompressed_digests_are_found_both_ways() {
        let cache = SqliteCache::in_memory().expect("an in-memory database");
        let (gzip, plain) = (digest(1), digest(2));
        assert_eq!(cache.uncompressed_digest(&gzip), None);
        cache.record(&[pair(&gzip, &plain)]);
        assert_eq!(cache.uncompressed_digest(&gzip), Some(plain.clone()));
        assert_eq!(cache.uncompressed_digest(&plain), Some(plain));
    }

    #[test]
    fn candidates_put_the_wanted_digest_first_and_substitutes_only_when_allowed() {
        let cache = SqliteCache::in_memory().expect("an in-memory database");
        let (gzip, zstd, plain) = (digest(1), digest(2), digest(3));
        cache.record(&[
            pair(&gzip, &plain),
            pair(&zstd, &plain),
            BlobFact::Compressor {
                digest: zstd.clone(),
                compressor: "zstd",
            },
            seen_at("b", &zstd),
            seen_at("a", &gzip),
            seen_at("c", &plain),
        ]);
        let exact = cache.candidates(&registry("x"), &gzip, false);
        assert_eq!(exact.len(), 1);
        assert_eq!(exact[0].location, "registry.example/a");
        let all = cache.candidates(&registry("x"), &gzip, true);
        let digests: Vec<_> = all.iter().map(|c| c.digest.clone()).collect();
        assert_eq!(digests, [gzip, zstd, plain]);
        assert_eq!(all[1].compressor.as_deref(), Some("zstd"));
        let elsewhere = BlobLocation {
            scope: "other.example".into(),
            ..registry("a")
        };
        assert!(cache.candidates(&elsewhere, &digest(1), true).is_empty());
    }

    #[test]
    fn lookups_see_facts_held_back_without_writing_them_to_the_file() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("blob-info-cache-v1.sqlite");
        let copying = SqliteCache::open(&path).expect("a cache file");
        let other_process = SqliteCache::open(&path).expect("the same file again");
        let (gzip, plain) = (digest(1), digest(2));
        copying.record(&[pair(&gzip, &plain), seen_at("a", &gzip)]);
        assert_eq!(copying.uncompressed_digest(&gzip), Some(plain.clone()));
        assert_eq!(copying.candidates(&registry("a"), &gzip, false).len(), 1);
        // Still held back: a lookup's transaction is rolled back, not committed (a commit
        // would wait for the disk in the middle of a copy).
        assert_eq!(other_process.uncompressed_digest(&gzip), None);
        copying.flush();
        assert_eq!(other_process.uncompressed_digest(&gzip), Some(plain));
        assert_eq!(
            other_process.candidates(&registry("a"), &gzip, false).len(),
            1
        );
    }

    #[test]
    fn times_are_written_as_go_sqlite3_writes_them_and_read_back() {
        let written = Utc::now().format(GO_SQLITE_TIME).to_string();
        assert!(written.ends_with("+00:00"), "{written}");
        let go = rusqlite::types::Value::Text("2026-12-02 15:04:05.123456789+01:00".into());
        assert!(parse_time(&go).is_some());
        assert!(parse_time(&rusqlite::types::Value::Text(written)).is_some());
    }
}

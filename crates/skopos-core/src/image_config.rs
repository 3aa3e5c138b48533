//! Image configuration blobs (placeholder; the CLI/inspect work fills this in).

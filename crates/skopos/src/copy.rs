//! `skopos copy` (placeholder: the lead writes the real command on the copy engine).

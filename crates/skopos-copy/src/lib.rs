//! The copy engine.

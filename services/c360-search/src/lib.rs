//! The search service (being built).

//! Standardisation (to be written).

//! Generator (to be written).

//! The canonical client record shared by every c360 crate, the TOML source
//! mappings that turn a source system's CSV columns into it, and a CSV reader
//! that reports bad rows by line and column.
//!
//! Personal data lives in [`Record`]; its `Debug` output is redacted so a
//! record can never leak into a log line by accident.

mod field;
mod mapping;
mod record;

pub use field::Field;
pub use mapping::{Mapping, MappingError, Origin, RecordReader, RowError};
pub use record::Record;

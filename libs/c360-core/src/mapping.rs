//! Source mappings: which CSV columns feed which canonical field.
//!
//! ```toml
//! [source]
//! system = "febrl"            # source_system for every row (optional)
//!
//! [fields]
//! record_id = "rec_id"
//! locality = "suburb"
//! address = ["street_number", "address_1", "address_2"]   # joined with a space
//! phone = ["mobile", "home_phone"]                        # multi-valued: kept apart
//! ```

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::{Field, Record};

/// An error in a mapping file, or between a mapping and a CSV header.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot read mapping {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid mapping: {0}")]
    Toml(String),
    #[error("invalid mapping: unknown canonical field `{0}` in [fields]")]
    UnknownField(String),
    #[error("invalid mapping: field `{0}` maps to an empty column list")]
    EmptyColumns(String),
    #[error("mapping needs `record_id` in [fields]")]
    NoRecordId,
    #[error("column `{column}` (mapped to `{field}`) is not in the CSV header")]
    MissingColumn { field: String, column: String },
    #[error("cannot read the CSV header: {0}")]
    Header(String),
    #[error("the CSV header has no `record_id` column; pass a mapping file (--mapping)")]
    NoRecordIdColumn,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    source: SourceSection,
    fields: BTreeMap<String, Columns>,
    /// Matching settings for this source (see `c360-matching`), kept raw
    /// here so this crate does not depend on the matching engine.
    matching: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSection {
    system: Option<String>,
    delimiter: Option<char>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Columns {
    One(String),
    Many(Vec<String>),
}

/// A parsed mapping: for each canonical field, the source columns that feed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    fields: Vec<(Field, Vec<String>)>,
    source_system: Option<String>,
    delimiter: u8,
    matching: Option<toml::Table>,
}

impl Mapping {
    pub fn from_toml_str(text: &str) -> Result<Self, MappingError> {
        let file: MappingFile = toml::from_str(text)
            .map_err(|e| MappingError::Toml(e.to_string().trim().to_string()))?;
        let mut fields = Vec::with_capacity(file.fields.len());
        for (name, columns) in file.fields {
            let field: Field = name
                .parse()
                .map_err(|_| MappingError::UnknownField(name.clone()))?;
            let columns = match columns {
                Columns::One(c) => vec![c],
                Columns::Many(cs) => cs,
            };
            if columns.is_empty() || columns.iter().any(|c| c.trim().is_empty()) {
                return Err(MappingError::EmptyColumns(name));
            }
            fields.push((field, columns));
        }
        if !fields.iter().any(|(f, _)| *f == Field::RecordId) {
            return Err(MappingError::NoRecordId);
        }
        let delimiter = match file.source.delimiter {
            None => b',',
            Some(c) if c.is_ascii() => c as u8,
            Some(c) => return Err(MappingError::Toml(format!("delimiter `{c}` is not ASCII"))),
        };
        Ok(Mapping {
            fields,
            source_system: file.source.system,
            delimiter,
            matching: file.matching,
        })
    }

    pub fn from_path(path: &Path) -> Result<Self, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// The identity mapping: every CSV column named like a canonical field
    /// feeds that field.
    pub fn identity_for(header: &csv::StringRecord) -> Result<Self, MappingError> {
        let fields: Vec<(Field, Vec<String>)> = header
            .iter()
            .filter_map(|col| {
                col.trim()
                    .parse::<Field>()
                    .ok()
                    .map(|f| (f, vec![col.to_string()]))
            })
            .collect();
        if !fields.iter().any(|(f, _)| *f == Field::RecordId) {
            return Err(MappingError::NoRecordIdColumn);
        }
        Ok(Mapping {
            fields,
            source_system: None,
            delimiter: b',',
            matching: None,
        })
    }

    pub fn source_system(&self) -> Option<&str> {
        self.source_system.as_deref()
    }

    /// The raw `[matching]` table, if the mapping file has one.
    pub fn matching(&self) -> Option<&toml::Table> {
        self.matching.as_ref()
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Resolves column names against a CSV header.
    fn bind(&self, header: &csv::StringRecord) -> Result<Vec<BoundField>, MappingError> {
        let position = |column: &str| header.iter().position(|h| h.trim() == column);
        let mut bound = Vec::with_capacity(self.fields.len());
        for (field, columns) in &self.fields {
            let mut indices = Vec::with_capacity(columns.len());
            for column in columns {
                let index = position(column).ok_or_else(|| MappingError::MissingColumn {
                    field: field.name().to_string(),
                    column: column.clone(),
                })?;
                indices.push(index);
            }
            bound.push(BoundField {
                field: *field,
                columns: indices,
            });
        }
        Ok(bound)
    }
}

#[derive(Debug, Clone)]
struct BoundField {
    field: Field,
    columns: Vec<usize>,
}

/// A bad CSV row: which line, which column, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {message}", column.map(|c| format!(", column {c}")).unwrap_or_default())]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// 1-based column number, when the problem is in one cell.
    pub column: Option<usize>,
    pub message: String,
}

/// Where a record read from CSV came from: its line, and which column each
/// of its phones and e-mails was in when the field is fed by several
/// columns. With [`RecordReader::column`] it names the cell of a value,
/// for a message about that value (never the value itself).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// 1-based line number in the file.
    pub line: u64,
    /// (field, 0-based column) of each value of a multi-valued field fed by
    /// several columns, in value order; empty otherwise.
    values: Vec<(Field, u32)>,
}

/// Reads canonical records from a CSV source through a mapping.
pub struct RecordReader<R: Read> {
    reader: csv::Reader<R>,
    bound: Vec<BoundField>,
    source_system: Option<String>,
    record_id_column: usize,
    row: csv::StringRecord,
    scratch: String,
    /// The origin of the last record read.
    origin: Origin,
}

impl<R: Read> std::fmt::Debug for RecordReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader").finish_non_exhaustive()
    }
}

impl<R: Read> RecordReader<R> {
    /// Opens a reader. With no mapping, the CSV header names the canonical
    /// fields directly.
    pub fn new(input: R, mapping: Option<&Mapping>) -> Result<Self, MappingError> {
        let delimiter = mapping.map_or(b',', Mapping::delimiter);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| MappingError::Header(e.to_string()))?
            .clone();
        let identity;
        let mapping = match mapping {
            Some(m) => m,
            None => {
                identity = Mapping::identity_for(&header)?;
                &identity
            }
        };
        let bound = mapping.bind(&header)?;
        let record_id_column = bound
            .iter()
            .find(|b| b.field == Field::RecordId)
            .map(|b| b.columns[0])
            .ok_or(MappingError::NoRecordId)?;
        Ok(RecordReader {
            reader,
            bound,
            source_system: mapping.source_system.clone(),
            record_id_column,
            row: csv::StringRecord::new(),
            scratch: String::new(),
            origin: Origin::default(),
        })
    }

    /// Where the last record returned came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The 1-based column of value `index` of `field` in the record that
    /// came from `origin`: the field's column, its first one when several
    /// are joined, or the one the value was in. `None` when the mapping does
    /// not feed the field.
    pub fn column(&self, origin: &Origin, field: Field, index: usize) -> Option<usize> {
        let bound = self.bound.iter().find(|b| b.field == field)?;
        if bound.field.is_multi_valued() && bound.columns.len() > 1 {
            let column = origin
                .values
                .iter()
                .filter(|(f, _)| *f == field)
                .nth(index)
                .map(|&(_, c)| c as usize);
            return column.or(bound.columns.first().copied()).map(|c| c + 1);
        }
        bound.columns.first().map(|c| c + 1)
    }

    /// The next record with its line number, `None` at the end of input.
    pub fn next_record(&mut self) -> Option<Result<(u64, Record), RowError>> {
        match self.reader.read_record(&mut self.row) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::Utf8 { err, .. } => {
                        format!("invalid UTF-8 in field {}", err.field() + 1)
                    }
                    _ => e.to_string(),
                };
                // Skip past the bad row so the caller may continue.
                return Some(Err(RowError {
                    line,
                    column: None,
                    message,
                }));
            }
        }
        let line = self.row.position().map_or(0, |p| p.line());
        Some(self.convert(line))
    }

    fn convert(&mut self, line: u64) -> Result<(u64, Record), RowError> {
        let width = self.row.len();
        let mut record = Record::default();
        self.origin.line = line;
        self.origin.values.clear();
        if let Some(system) = &self.source_system {
            record.source_system = system.clone();
        }
        for bound in &self.bound {
            if let Some(&missing) = bound.columns.iter().find(|&&c| c >= width) {
                return Err(RowError {
                    line,
                    column: Some(missing + 1),
                    message: format!(
                        "row has {width} columns, `{}` needs column {}",
                        bound.field,
                        missing + 1
                    ),
                });
            }
            if bound.field.is_multi_valued() {
                for &c in &bound.columns {
                    let before = record.values(bound.field);
                    record.set(bound.field, &self.row[c]);
                    if bound.columns.len() > 1 {
                        let added = record.values(bound.field) - before;
                        let at = (bound.field, c as u32);
                        self.origin.values.extend(std::iter::repeat_n(at, added));
                    }
                }
                continue;
            }
            self.scratch.clear();
            for &c in &bound.columns {
                let cell = self.row[c].trim();
                if cell.is_empty() {
                    continue;
                }
                if !self.scratch.is_empty() {
                    self.scratch.push(' ');
                }
                self.scratch.push_str(cell);
            }
            record.set(bound.field, &self.scratch);
        }
        if record.record_id.is_empty() {
            return Err(RowError {
                line,
                column: Some(self.record_id_column + 1),
                message: "record_id is empty".to_string(),
            });
        }
        Ok((line, record))
    }
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<(u64, Record), RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEBRL: &str = r#"
[source]
system = "febrl"

[fields]
record_id = "rec_id"
given_name = "given_name"
surname = "surname"
locality = "suburb"
address = ["street_number", "address_1", "address_2"]
"#;

    #[test]
    fn maps_and_joins_columns() {
        let mapping = Mapping::from_toml_str(FEBRL).unwrap();
        let csv = "rec_id,given_name,surname,street_number,address_1,address_2,suburb\n\
                   r1,ann,lee,6,tullaroop street,,st james\n";
        let mut reader = RecordReader::new(csv.as_bytes(), Some(&mapping)).unwrap();
        let (line, rec) = reader.next().unwrap().unwrap();
        assert_eq!(line, 2);
        assert_eq!(rec.record_id, "r1");
        assert_eq!(rec.address, "6 tullaroop street");
        assert_eq!(rec.locality, "st james");
        assert_eq!(rec.source_system, "febrl");
        assert!(reader.next().is_none());
    }

    #[test]
    fn unknown_field_is_named() {
        let err =
            Mapping::from_toml_str("[fields]\nrecord_id = \"id\"\nsuburb = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("`suburb`"), "{err}");
    }

    #[test]
    fn missing_column_is_named() {
        let mapping = Mapping::from_toml_str(FEBRL).unwrap();
        let err =
            RecordReader::new("rec_id,given_name\nr1,a\n".as_bytes(), Some(&mapping)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`street_number`") && msg.contains("`address`"),
            "{msg}"
        );
    }

    #[test]
    fn multi_valued_columns_stay_apart() {
        let mapping =
            Mapping::from_toml_str("[fields]\nrecord_id = \"id\"\nphone = [\"a\", \"b\"]\n")
                .unwrap();
        let mut reader =
            RecordReader::new("id,a,b\nr1,0707,0505;0101\n".as_bytes(), Some(&mapping)).unwrap();
        let (_, rec) = reader.next().unwrap().unwrap();
        assert_eq!(rec.phones, vec!["0707", "0505", "0101"]);
    }

    #[test]
    fn origins_name_the_column_of_each_value() {
        let mapping = Mapping::from_toml_str(
            "[fields]\nrecord_id = \"id\"\nemail = \"e\"\nphone = [\"a\", \"b\"]\n\
             date_of_birth = \"dob\"\n",
        )
        .unwrap();
        let csv = "id,dob,a,e,b\nr1,1950-51-01,,x@,0505;0101\nr2,,0707,,\n";
        let mut reader = RecordReader::new(csv.as_bytes(), Some(&mapping)).unwrap();
        let (_, first) = reader.next().unwrap().unwrap();
        let origin = reader.origin().clone();
        assert_eq!(origin.line, 2);
        assert_eq!(first.phones.len(), 2);
        assert_eq!(reader.column(&origin, Field::DateOfBirth, 0), Some(2));
        assert_eq!(reader.column(&origin, Field::Email, 0), Some(4));
        assert_eq!(reader.column(&origin, Field::Phone, 0), Some(5));
        assert_eq!(reader.column(&origin, Field::Phone, 1), Some(5));
        assert_eq!(reader.column(&origin, Field::Surname, 0), None);
        reader.next().unwrap().unwrap();
        let origin = reader.origin().clone();
        assert_eq!(reader.column(&origin, Field::Phone, 0), Some(3));
    }

    #[test]
    fn bad_rows_report_line_and_column() {
        let csv = "record_id,surname\nr1,a\n,b\nr3\n";
        let mut reader = RecordReader::new(csv.as_bytes(), None).unwrap();
        assert!(reader.next().unwrap().is_ok());
        let err = reader.next().unwrap().unwrap_err();
        assert_eq!((err.line, err.column), (3, Some(1)));
        let err = reader.next().unwrap().unwrap_err();
        assert_eq!((err.line, err.column), (4, Some(2)));
        assert!(reader.next().is_none());
    }

    #[test]
    fn identity_needs_record_id() {
        let err = RecordReader::new("id,surname\n".as_bytes(), None).unwrap_err();
        assert!(matches!(err, MappingError::NoRecordIdColumn));
    }
}

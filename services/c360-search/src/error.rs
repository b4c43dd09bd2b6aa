use c360_rpc::{ErrorKind, ServiceError};

/// Errors of the search service: a small closed set; its kinds map to gRPC
/// codes in `c360_rpc::status` (the edge converts). Messages name fields
/// and files, never personal values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: the field named and what is wrong (never its value).
    #[error("invalid {field}: {description}")]
    InvalidArgument { field: String, description: String },
    /// The index files could not be read or written.
    #[error("index: {0}")]
    Index(String),
    /// The index on disk was written with another schema (by an older
    /// version): it is rebuilt from the feed.
    #[error("index: written with another schema")]
    SchemaChanged,
    #[error("keys: {0}")]
    Crypto(#[from] c360_crypto::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The resolver (the source of golden records) failed or is absent.
    #[error("resolver: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.to_string(),
            description: description.into(),
        }
    }
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Error::InvalidArgument { field, description } => {
                ErrorKind::InvalidArgument { field, description }
            }
            Error::Unavailable(_) | Error::Crypto(c360_crypto::Error::Custody(_)) => {
                ErrorKind::Unavailable
            }
            Error::Index(_)
            | Error::SchemaChanged
            | Error::Crypto(_)
            | Error::Io(_)
            | Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<tantivy::TantivyError> for Error {
    fn from(e: tantivy::TantivyError) -> Self {
        // Tantivy errors name files, segments and schema fields, never
        // indexed values.
        Error::Index(e.to_string())
    }
}

use c360_rpc::{ErrorKind, ServiceError};

/// Errors of the resolver: a small closed set; its kinds map to gRPC codes
/// in `c360_rpc::status` (the edge converts). Messages name fields, numbers
/// and record ids, never personal values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: the field named and what is wrong (never its value).
    #[error("invalid {field}: {description}")]
    InvalidArgument { field: String, description: String },
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not do this (a record of a source system its token
    /// does not name).
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("storage: {0}")]
    Storage(#[from] c360_storage::Error),
    #[error("keys: {0}")]
    Crypto(#[from] c360_crypto::Error),
    #[error("internal: {0}")]
    Internal(String),
    /// A durable write failed after the in-memory state changed: the
    /// resolver refuses writes until restarted from disk.
    #[error("resolver is read-only after a failed write; restart it")]
    Poisoned,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.to_string(),
            description: description.into(),
        }
    }

    /// A record of `source_system`, which `caller`'s token does not name.
    pub fn forbidden_source(caller: &str, source_system: &str) -> Self {
        Error::PermissionDenied(format!(
            "caller {caller} may not write records of source system {source_system:?}"
        ))
    }
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Error::InvalidArgument { field, description } => {
                ErrorKind::InvalidArgument { field, description }
            }
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Error::FailedPrecondition(_) => ErrorKind::FailedPrecondition,
            // A write refused until restart, or the key custodian (the
            // vault) not answering: retry later.
            Error::Poisoned | Error::Crypto(c360_crypto::Error::Custody(_)) => {
                ErrorKind::Unavailable
            }
            Error::Storage(_) | Error::Crypto(_) | Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

use tonic::Code;

/// Errors of the resolver. A small closed set, mapped once to gRPC codes.
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

    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::NotFound(_) => Code::NotFound,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            // The key custodian (the vault) could not be reached.
            Error::Poisoned | Error::Crypto(c360_crypto::Error::Custody(_)) => Code::Unavailable,
            Error::Storage(_) | Error::Crypto(_) | Error::Internal(_) => Code::Internal,
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        use tonic_types::{ErrorDetails, StatusExt};
        match &err {
            Error::InvalidArgument { field, description } => {
                let details =
                    ErrorDetails::with_bad_request_violation(field.clone(), description.clone());
                tonic::Status::with_error_details(Code::InvalidArgument, err.to_string(), details)
            }
            _ => tonic::Status::new(err.code(), err.to_string()),
        }
    }
}

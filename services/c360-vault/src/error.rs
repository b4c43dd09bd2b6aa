use c360_rpc::{ErrorKind, ServiceError};

/// Errors of the vault. A small closed set; its kinds map to gRPC codes in
/// `c360_rpc::status` (the edge converts).
/// Messages name fields, numbers and purposes, never personal values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: the field named and what is wrong (never its value).
    #[error("invalid {field}: {description}")]
    InvalidArgument { field: String, description: String },
    #[error("{0} not found")]
    NotFound(String),
    /// Refused in the current state (legal hold, erased client).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The access policy or a missing consent forbids it (already logged).
    #[error("{0}")]
    PermissionDenied(String),
    #[error("storage: {0}")]
    Storage(#[from] c360_storage::Error),
    #[error("keys: {0}")]
    Crypto(#[from] c360_crypto::Error),
    /// Stored bytes that do not decode.
    #[error("corrupt vault data: {0}")]
    Corrupt(String),
    #[error("policy: {0}")]
    Policy(String),
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

    /// Names the field inside `prefix` (`fields[3].ref` + `record_id`);
    /// built only on the error path.
    pub fn within(self, prefix: impl FnOnce() -> String) -> Self {
        match self {
            Error::InvalidArgument { field, description } => Error::InvalidArgument {
                field: format!("{}.{field}", prefix()),
                description,
            },
            other => other,
        }
    }
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Error::InvalidArgument { field, description } => {
                ErrorKind::InvalidArgument { field, description }
            }
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::FailedPrecondition(_) => ErrorKind::FailedPrecondition,
            Error::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Error::Crypto(c360_crypto::Error::Custody(_)) => ErrorKind::Unavailable,
            Error::Storage(_)
            | Error::Crypto(_)
            | Error::Corrupt(_)
            | Error::Policy(_)
            | Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

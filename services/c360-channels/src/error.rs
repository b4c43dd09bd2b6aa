use c360_rpc::{ErrorKind, ServiceError};

/// Errors of the channels service: a small closed set; its kinds map to
/// gRPC codes in `c360_rpc::status` (the edge converts). Messages name
/// fields and ids, never personal values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: the field named and what is wrong (never its value).
    #[error("invalid {field}: {description}")]
    InvalidArgument { field: String, description: String },
    #[error("{0} not found")]
    NotFound(String),
    /// A peer (vault, resolver) is missing or did not answer.
    #[error("{0}")]
    Unavailable(String),
    #[error("storage: {0}")]
    Storage(#[from] c360_storage::Error),
    #[error("keys: {0}")]
    Crypto(#[from] c360_crypto::Error),
    /// The policy or configuration file is wrong (at open time).
    #[error("config: {0}")]
    Config(String),
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
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Unavailable(_) | Error::Crypto(c360_crypto::Error::Custody(_)) => {
                ErrorKind::Unavailable
            }
            Error::Config(_) => ErrorKind::FailedPrecondition,
            Error::Storage(_) | Error::Crypto(_) | Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

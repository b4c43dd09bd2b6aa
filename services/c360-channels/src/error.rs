use tonic::Code;

/// Errors of the channels service: a small closed set, mapped once to gRPC
/// codes. Messages name fields and ids, never personal values.
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

    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::NotFound(_) => Code::NotFound,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Config(_) => Code::FailedPrecondition,
            Error::Storage(_) | Error::Crypto(_) | Error::Internal(_) => Code::Internal,
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        match &err {
            Error::InvalidArgument { field, description } => {
                c360_rpc::invalid_argument(field, description.clone())
            }
            _ => tonic::Status::new(err.code(), err.to_string()),
        }
    }
}

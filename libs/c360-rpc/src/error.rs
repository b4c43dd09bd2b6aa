//! One mapping from what went wrong to a gRPC status, for every service.
//! A service's error type says its [`ErrorKind`] without naming tonic; its
//! gRPC edge turns the error into a status with [`status_of`].

/// What kind of failure an error is, as a caller must act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind<'a> {
    /// Bad input: INVALID_ARGUMENT with a `BadRequest` naming the field
    /// (never its value).
    InvalidArgument {
        field: &'a str,
        description: &'a str,
    },
    NotFound,
    /// Refused in the current state (legal hold, erased client, bad
    /// configuration).
    FailedPrecondition,
    /// The access policy or a missing consent forbids it.
    PermissionDenied,
    /// A peer or the key custodian did not answer (retry later); a custody
    /// failure is this, in every service.
    Unavailable,
    /// Storage, keys, corrupt data, a bug.
    Internal,
}

/// An error a service answers with: its message (naming fields, numbers,
/// purposes, never personal values) and its kind.
pub trait ServiceError: std::fmt::Display {
    fn kind(&self) -> ErrorKind<'_>;
}

/// The status of `kind` with `message`.
pub fn status(kind: ErrorKind<'_>, message: impl Into<String>) -> tonic::Status {
    use tonic::Code;
    let code = match kind {
        ErrorKind::InvalidArgument { field, description } => {
            return crate::invalid_argument(field, description);
        }
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Internal => Code::Internal,
    };
    tonic::Status::new(code, message)
}

/// The status of a service's error.
pub fn status_of(err: &impl ServiceError) -> tonic::Status {
    status(err.kind(), err.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn bad_input_names_the_field_and_other_kinds_keep_the_message() {
        let s = status(
            ErrorKind::InvalidArgument {
                field: "fields[2].value",
                description: "is longer than 4096 bytes",
            },
            "ignored",
        );
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        let br = s.get_details_bad_request().unwrap();
        assert_eq!(br.field_violations[0].field, "fields[2].value");
        let s = status(ErrorKind::Unavailable, "the vault is closed");
        assert_eq!(s.code(), tonic::Code::Unavailable);
        assert_eq!(s.message(), "the vault is closed");
    }
}

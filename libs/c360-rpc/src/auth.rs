use std::fmt;
use std::str::FromStr;

/// A caller's role. Each RPC names the roles it admits; `Admin` is admitted
/// everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Operates the platform: tokens, configuration, everything.
    Admin,
    /// Data steward: reviews, merges, splits, reads client records.
    Steward,
    /// Compliance officer: consent, access logs, erasure, exports.
    Compliance,
    /// A downstream application: lookups, consent checks, may-contact.
    App,
    /// A source system: pushes records (ingest).
    Source,
    /// Another c360 service calling a peer.
    Service,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Steward,
        Role::Compliance,
        Role::App,
        Role::Source,
        Role::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Steward => "steward",
            Role::Compliance => "compliance",
            Role::App => "app",
            Role::Source => "source",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?} (expected one of admin, steward, compliance, app, source, service)")
            })
    }
}

/// An authenticated caller: a stable identity (the token's name or the
/// certificate's subject, never the secret) and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub role: Role,
}

impl Caller {
    pub fn new(id: impl Into<String>, role: Role) -> Self {
        Caller {
            id: id.into(),
            role,
        }
    }
}

/// The caller of `request` if its role is one of `allowed` (or admin).
/// No caller: UNAUTHENTICATED. Another role: PERMISSION_DENIED.
pub fn authorize<T>(
    request: &tonic::Request<T>,
    allowed: &[Role],
) -> Result<Caller, tonic::Status> {
    let Some(caller) = request.extensions().get::<Caller>() else {
        return Err(tonic::Status::unauthenticated(
            "missing or invalid bearer token",
        ));
    };
    if caller.role == Role::Admin || allowed.contains(&caller.role) {
        Ok(caller.clone())
    } else {
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        Err(tonic::Status::permission_denied(format!(
            "role {} may not call this method (allowed: admin, {})",
            caller.role,
            names.join(", ")
        )))
    }
}

/// `request` with `caller` attached, as the authentication layer does (for
/// tests and in-process calls).
pub fn with_caller<T>(mut request: tonic::Request<T>, caller: Caller) -> tonic::Request<T> {
    request.extensions_mut().insert(caller);
    request
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn authorize_codes() {
        let none = tonic::Request::new(());
        assert_eq!(
            authorize(&none, &[Role::App]).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let app = with_caller(tonic::Request::new(()), Caller::new("a", Role::App));
        assert_eq!(
            authorize(&app, &[Role::App]).ok().map(|c| c.role),
            Some(Role::App)
        );
        assert_eq!(
            authorize(&app, &[Role::Steward]).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
        let admin = with_caller(tonic::Request::new(()), Caller::new("root", Role::Admin));
        assert!(authorize(&admin, &[Role::Steward]).is_ok());
    }
}

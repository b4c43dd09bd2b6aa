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

/// The source systems a caller may write records for (its token's
/// `sources=`). Reading roles have none; a source system's token names its
/// own; `*` (any) is for migrations and is best avoided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sources {
    #[default]
    None,
    Any,
    Only(std::collections::BTreeSet<String>),
}

impl Sources {
    /// Parses `a,b,c` or `*`. Names are 1 to 64 of `a-z A-Z 0-9 _ - . :`.
    pub fn parse(text: &str) -> Result<Sources, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Sources::Any);
        }
        let mut names = std::collections::BTreeSet::new();
        for name in text.split(',').map(str::trim) {
            let valid = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
            if !valid {
                return Err(format!(
                    "invalid source system name {name:?} (1 to 64 letters, digits, _ - . :)"
                ));
            }
            names.insert(name.to_string());
        }
        Ok(Sources::Only(names))
    }

    pub fn allows(&self, source_system: &str) -> bool {
        match self {
            Sources::None => false,
            Sources::Any => true,
            Sources::Only(names) => names.contains(source_system),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Sources::None)
    }
}

impl fmt::Display for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sources::None => f.write_str("none"),
            Sources::Any => f.write_str("*"),
            Sources::Only(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// A c360 service calling one of its peers. Some calls are for one peer
/// only: the resolver erases only when the vault asks (after its legal-hold
/// check), and only the resolver, which issues client numbers, has the
/// vault create data keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    Resolver,
    Vault,
    Search,
    Channels,
}

impl Peer {
    pub const ALL: [Peer; 4] = [Peer::Resolver, Peer::Vault, Peer::Search, Peer::Channels];

    pub fn as_str(self) -> &'static str {
        match self {
            Peer::Resolver => "resolver",
            Peer::Vault => "vault",
            Peer::Search => "search",
            Peer::Channels => "channels",
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Peer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Peer::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown peer {s:?} (expected one of resolver, vault, search, channels)")
            })
    }
}

/// An authenticated caller: a stable identity (the token's name or the
/// certificate's subject, never the secret), its role, the source systems
/// it may write records for, and, for a c360 service, which one it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub role: Role,
    pub sources: Sources,
    pub peer: Option<Peer>,
}

impl Caller {
    /// A caller that may write no source system's records.
    pub fn new(id: impl Into<String>, role: Role) -> Self {
        Caller {
            id: id.into(),
            role,
            sources: Sources::None,
            peer: None,
        }
    }

    /// A co-located c360 service calling a peer in the same process.
    pub fn peer(peer: Peer) -> Self {
        Caller {
            id: peer.as_str().to_string(),
            role: Role::Service,
            sources: Sources::None,
            peer: Some(peer),
        }
    }

    pub fn with_sources(mut self, sources: Sources) -> Self {
        self.sources = sources;
        self
    }

    pub fn with_peer(mut self, peer: Option<Peer>) -> Self {
        self.peer = peer;
        self
    }

    /// Whether this caller may store records of `source_system` (admin:
    /// any; others: the token's sources).
    pub fn may_write(&self, source_system: &str) -> bool {
        self.role == Role::Admin || self.sources.allows(source_system)
    }

    /// Whether this caller may store records of some source system.
    pub fn writes_records(&self) -> bool {
        self.role == Role::Admin || !self.sources.is_none()
    }

    /// PERMISSION_DENIED unless this caller may store `source_system`'s
    /// records. Source system names are not personal data.
    pub fn check_write(&self, source_system: &str) -> Result<(), tonic::Status> {
        if self.may_write(source_system) {
            return Ok(());
        }
        Err(tonic::Status::permission_denied(format!(
            "caller {} may not write records of source system {source_system:?} (its token allows: {})",
            self.id, self.sources
        )))
    }

    /// PERMISSION_DENIED unless this caller is the c360 service `peer`.
    pub fn check_peer(&self, peer: Peer, why: &str) -> Result<(), tonic::Status> {
        if self.role == Role::Service && self.peer == Some(peer) {
            return Ok(());
        }
        Err(tonic::Status::permission_denied(format!(
            "only the {peer} service may call this method ({why})"
        )))
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

/// Like [`authorize`], but an admin is admitted only if `allowed` names
/// it: for calls that disclose personal values in clear or hand out key
/// material, which operating the platform does not need.
pub fn authorize_only<T>(
    request: &tonic::Request<T>,
    allowed: &[Role],
) -> Result<Caller, tonic::Status> {
    let caller = authorize(request, allowed)?;
    if caller.role == Role::Admin && !allowed.contains(&Role::Admin) {
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        return Err(tonic::Status::permission_denied(format!(
            "role admin may not call this method (allowed: {})",
            names.join(", ")
        )));
    }
    Ok(caller)
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

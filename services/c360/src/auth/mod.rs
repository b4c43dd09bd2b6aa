//! Bearer-token authentication, per-caller rate limits and the per-RPC
//! span, as one tower layer in front of every service.
//!
//! Tokens are random (`c360_` + 43 base64url characters, 256 bits) and
//! stored only as SHA-256 hashes, one `name role sha256hex` line each: in
//! `<data_dir>/tokens` (written by `c360 token create` and by the first
//! start) and in an optional extra file (a mounted Kubernetes Secret). A
//! token may also come from `C360_BOOTSTRAP_ADMIN_TOKEN` (automation,
//! tests). There is no built-in secret: a store with no token at all gets
//! a fresh admin token on first start, printed once.
//!
//! The layer never rejects a call for lacking a token, so health checks and
//! reflection stay open; it attaches the [`Caller`] when the token is valid
//! and each c360 RPC then checks its roles (`c360_rpc::authorize`). A token
//! that is presented but unknown is rejected at once with UNAUTHENTICATED.

mod gate;
mod rate_limit;
mod tokens;

pub use gate::{Gate, GateLayer, GateService};
pub use rate_limit::RateLimiter;
pub use tokens::{
    BOOTSTRAP_ENV, Grants, MIN_TOKEN_CHARS, Secret, TOKENS_FILE_ENV, TokenStore, check_strength,
    create_token, generate_token, token_line,
};

#[cfg(test)]
mod tests;

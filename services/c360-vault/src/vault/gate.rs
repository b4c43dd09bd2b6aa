//! The policy-gated read every path returning values goes through: role ×
//! field × purpose, consent for a consent-based purpose, the access log's
//! outcome.

use super::*;

/// The access log's outcome of a read: "denied" (every field), "partial"
/// (some), "masked" (none denied, some masked) or "allowed".
pub(super) fn outcome(accesses: impl Iterator<Item = Access>) -> &'static str {
    let (mut n, mut denied, mut masked) = (0, 0, false);
    for a in accesses {
        n += 1;
        denied += usize::from(a == Access::Deny);
        masked |= a == Access::Masked;
    }
    if n > 0 && denied == n {
        "denied"
    } else if denied > 0 {
        "partial"
    } else if masked {
        "masked"
    } else {
        "allowed"
    }
}

impl Vault {
    /// Policy + consent for one (field, purpose) read by `role` on the
    /// client whose survivor is `survivor`; memoises consent per survivor.
    pub(super) fn decide(
        &self,
        role: Role,
        survivor: &str,
        field: &str,
        purpose: &str,
        consents: &mut HashMap<String, CheckOutcome>,
    ) -> Result<(Access, String, u64)> {
        let access = self.inner.policy.access(role, field, purpose);
        if access == Access::Deny {
            return Ok((
                Access::Deny,
                format!("denied by policy for role {role}, field {field}, purpose {purpose}"),
                0,
            ));
        }
        if !self.inner.policy.needs_consent(purpose) {
            return Ok((access, String::new(), 0));
        }
        if !consents.contains_key(survivor) {
            let c = self.check_consent(&CheckInput {
                client_number: survivor.to_string(),
                purpose: purpose.to_string(),
                channel: String::new(),
                at_ms: 0,
            })?;
            consents.insert(survivor.to_string(), c);
        }
        let c = &consents[survivor];
        if c.verdict.allowed {
            Ok((access, String::new(), c.verdict.deciding.unwrap_or(0)))
        } else {
            Ok((
                Access::Deny,
                format!(
                    "no valid consent for purpose {purpose}: {}",
                    c.verdict.reason
                ),
                0,
            ))
        }
    }

    pub(super) fn render(access: Access, field: &str, value: String) -> FieldResult {
        match access {
            Access::Clear => FieldResult::Clear(Plain(value)),
            Access::Masked => FieldResult::Masked(Plain(mask(field, &value))),
            Access::Deny => FieldResult::Error("denied".into()),
        }
    }

    pub(super) fn outcome_of(results: &[FieldResult]) -> &'static str {
        outcome(results.iter().map(|r| match r {
            FieldResult::Error(_) => Access::Deny,
            FieldResult::Masked(_) => Access::Masked,
            FieldResult::Clear(_) => Access::Clear,
        }))
    }
}

/// The reads of one request (decrypt, read fields, detokenize) under the
/// policy: each field is decided, then opened and rendered only when
/// allowed; why fields were refused and the first consent relied on are
/// kept for the access-log entry.
pub(super) struct Gate<'v> {
    vault: &'v Vault,
    role: Role,
    purpose: &'v str,
    consents: HashMap<String, CheckOutcome>,
    reasons: BTreeSet<String>,
    consent_seq: u64,
}

impl<'v> Gate<'v> {
    pub(super) fn new(vault: &'v Vault, role: Role, purpose: &'v str) -> Self {
        Gate {
            vault,
            role,
            purpose,
            consents: HashMap::new(),
            reasons: BTreeSet::new(),
            consent_seq: 0,
        }
    }

    /// One field of the client whose survivor is `survivor`: refused (and
    /// why), or opened with `open` and rendered clear or masked.
    pub(super) fn read(
        &mut self,
        survivor: &str,
        field: &str,
        open: impl FnOnce() -> std::result::Result<String, String>,
    ) -> Result<FieldResult> {
        let (access, reason, cseq) =
            self.vault
                .decide(self.role, survivor, field, self.purpose, &mut self.consents)?;
        if access == Access::Deny {
            return Ok(self.refuse(reason));
        }
        if self.consent_seq == 0 {
            self.consent_seq = cseq;
        }
        Ok(match open() {
            Ok(v) => Vault::render(access, field, v),
            Err(e) => self.refuse(e),
        })
    }

    /// A field that cannot be given, and why (the reason is logged).
    pub(super) fn refuse(&mut self, reason: String) -> FieldResult {
        self.reasons.insert(reason.clone());
        FieldResult::Error(reason)
    }

    /// Writes the access-log entry of these reads (one durable write).
    pub(super) fn log(
        self,
        caller: &Caller,
        operation: &str,
        clients: BTreeSet<String>,
        fields: BTreeSet<String>,
        results: &[FieldResult],
    ) -> Result<u64> {
        let vault = self.vault;
        let rec = self.record(
            caller,
            operation,
            clients.into_iter().collect(),
            fields.into_iter().collect(),
            Vault::outcome_of(results),
        );
        vault.write(|tx| tx.log(rec))
    }

    /// The access-log entry of these reads, `outcome` as
    /// [`Vault::outcome_of`] gives it.
    pub(super) fn record(
        self,
        caller: &Caller,
        operation: &str,
        client_numbers: Vec<String>,
        fields: Vec<String>,
        outcome: &str,
    ) -> AccessRecord {
        AccessRecord {
            sequence: 0,
            at_ms: now_ms(),
            actor: caller.id.clone(),
            role: caller.role.to_string(),
            operation: operation.into(),
            client_numbers,
            fields,
            purpose: self.purpose.to_string(),
            outcome: outcome.into(),
            reason: self.reasons.into_iter().collect::<Vec<_>>().join("; "),
            consent_sequence: self.consent_seq,
        }
    }
}

//! Values held elsewhere, disclosed under this vault's policy: the resolver
//! (a golden record, a client's records) and search (hits) ask here what
//! each field may be given to their caller for a purpose, so one policy
//! (role × field × purpose, and consent for a consent-based purpose) and
//! one access log cover every path that returns personal values.

use std::collections::{BTreeSet, HashMap};

use c360_rpc::{Caller, Role};

use super::{
    AccessRecord, Vault, check_name, check_number, is_erased, now_ms, outcome, survivor_of,
};
use crate::policy::Access;
use crate::{Error, Result};

/// Most clients one `authorize_reads` call covers.
pub const MAX_TARGETS: usize = 1000;

/// What may be disclosed of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadGrant {
    /// The number asked about.
    pub client_number: String,
    /// Each field asked about, in order, with its access.
    pub fields: Vec<(String, Access)>,
    /// The access-log entry of this disclosure.
    pub access_sequence: u64,
    /// Why fields were denied, if any were.
    pub reason: String,
}

impl Vault {
    /// The access `reader` may have to each field of each target for
    /// `purpose`, logged as `operation` (one access-log entry per client,
    /// allowed or not). An erased client, or one without a valid consent
    /// for a consent-based purpose, gets nothing.
    pub fn authorize_reads(
        &self,
        reader: &Caller,
        purpose: &str,
        operation: &str,
        targets: &[(String, Vec<String>)],
    ) -> Result<Vec<ReadGrant>> {
        check_name("purpose", purpose)?;
        check_name(
            "operation",
            &operation.replace('.', "_").to_ascii_lowercase(),
        )?;
        if targets.len() > MAX_TARGETS {
            return Err(Error::invalid(
                "targets",
                format!("at most {MAX_TARGETS} clients per call"),
            ));
        }
        for (i, (number, fields)) in targets.iter().enumerate() {
            check_number(&format!("targets[{i}].client_number"), number)?;
            self.check_batch_len(&format!("targets[{i}].fields"), fields.len())?;
            for (j, f) in fields.iter().enumerate() {
                check_name(&format!("targets[{i}].fields[{j}]"), f)?;
            }
        }
        let r = self.reads();
        let mut consents = HashMap::new();
        let mut decided = Vec::with_capacity(targets.len());
        for (number, fields) in targets {
            let survivor = survivor_of(&r, number)?;
            let erased = is_erased(&r, &survivor)?;
            let mut reasons = BTreeSet::new();
            let mut consent_sequence = 0;
            let mut out = Vec::with_capacity(fields.len());
            for field in fields {
                let (access, reason, cseq) = if erased {
                    (Access::Deny, "the client was erased".to_string(), 0)
                } else {
                    self.decide(reader.role, &survivor, field, purpose, &mut consents)?
                };
                if access == Access::Deny {
                    reasons.insert(reason);
                } else if consent_sequence == 0 {
                    consent_sequence = cseq;
                }
                out.push((field.clone(), access));
            }
            decided.push((number.clone(), survivor, out, reasons, consent_sequence));
        }
        let at_ms = now_ms();
        self.write(|tx| {
            let mut grants = Vec::with_capacity(decided.len());
            for (number, survivor, fields, reasons, consent_sequence) in &decided {
                let outcome = outcome(fields.iter().map(|(_, a)| *a));
                let reason = reasons.iter().cloned().collect::<Vec<_>>().join("; ");
                let sequence = tx.log(AccessRecord {
                    sequence: 0,
                    at_ms,
                    actor: reader.id.clone(),
                    role: reader.role.to_string(),
                    operation: operation.to_string(),
                    client_numbers: vec![survivor.clone()],
                    fields: fields.iter().map(|(f, _)| f.clone()).collect(),
                    purpose: purpose.to_string(),
                    outcome: outcome.into(),
                    reason: reason.clone(),
                    consent_sequence: *consent_sequence,
                })?;
                grants.push(ReadGrant {
                    client_number: number.clone(),
                    fields: fields.clone(),
                    access_sequence: sequence,
                    reason,
                });
            }
            Ok(grants)
        })
    }
}

/// The role a service reports for the caller it discloses to.
pub fn reader(actor: &str, role: &str) -> Result<Caller> {
    if actor.is_empty() {
        return Err(Error::invalid("actor", "is required"));
    }
    let role: Role = role
        .parse()
        .map_err(|e: String| Error::invalid("role", e))?;
    Ok(Caller::new(actor, role))
}

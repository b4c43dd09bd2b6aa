//! Tokens (values bound to a random token) and blind indexes (keyed
//! hashes of normalised values, looked up without decrypting).

use c360_standardise::blind::{blind_domain, normalise_for_index};

use super::*;

impl Vault {
    // --------------------------------------------------------- tokens

    pub(super) fn new_token(&self) -> Result<String> {
        let mut b = [0u8; 16];
        self.inner
            .rng
            .fill(&mut b)
            .map_err(|_| Error::Internal("random generator failed".into()))?;
        Ok(format!("tok_{}", URL_SAFE_NO_PAD.encode(b)))
    }

    pub fn tokenize(&self, fields: &[(FieldRef, Plain)]) -> Result<Vec<String>> {
        let prepared = self.check_fields_to_store(fields)?;
        self.write(|tx| {
            let mut created = HashMap::new();
            let mut tokens = Vec::with_capacity(prepared.len());
            for (r, v) in &prepared {
                let key = self.dek_for_write(tx, &mut created, &r.client_number)?;
                let token = self.new_token()?;
                let envelope = with_token_ctx(r, &token, |c| key.encrypt(c, v.0.as_bytes()))?;
                let value = pack(&[
                    r.client_number.as_bytes(),
                    r.record_id.as_bytes(),
                    r.field.as_bytes(),
                    &envelope,
                ]);
                tx.put(TOKENS, [b"t/", token.as_bytes()].concat(), value);
                tx.put(
                    TOKENS,
                    join(&[
                        &[b"c/", r.client_number.as_bytes()].concat(),
                        token.as_bytes(),
                    ]),
                    Vec::new(),
                );
                tokens.push(token);
            }
            Ok(tokens)
        })
    }

    pub fn detokenize(
        &self,
        caller: &Caller,
        purpose: &str,
        tokens: &[String],
    ) -> Result<Vec<FieldResult>> {
        check_name("purpose", purpose)?;
        self.check_batch_len("tokens", tokens.len())?;
        for (i, t) in tokens.iter().enumerate() {
            check_token(&format!("tokens[{i}]"), t, 64, |c| {
                c.is_ascii_alphanumeric() || c == '_' || c == '-'
            })?;
        }
        let r = self.reads();
        let mut gate = Gate::new(self, caller.role, purpose);
        let mut results = Vec::with_capacity(tokens.len());
        let mut clients = BTreeSet::new();
        let mut names = BTreeSet::new();
        for t in tokens {
            let Some(value) = r.get(TOKENS, &[b"t/", t.as_bytes()].concat())? else {
                results.push(gate.refuse("unknown or erased token".into()));
                continue;
            };
            let mut parts = unpack(&value)?.into_iter();
            let (Some(client), Some(record), Some(field), Some(envelope)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(Error::Corrupt("token value".into()));
            };
            let fr = FieldRef {
                client_number: utf8(client)?,
                record_id: utf8(record)?,
                field: utf8(field)?,
            };
            let survivor = survivor_of(&r, &fr.client_number)?;
            clients.insert(survivor.clone());
            names.insert(fr.field.clone());
            results.push(gate.read(&survivor, &fr.field, || {
                let opened = self.load_dek(&fr.client_number).and_then(|k| {
                    let k = k.ok_or_else(|| Error::NotFound("data key".into()))?;
                    Ok(with_token_ctx(&fr, t, |c| k.decrypt(c, &envelope))?)
                });
                opened
                    .ok()
                    .and_then(|p| String::from_utf8(p).ok())
                    .ok_or_else(|| "token value unreadable".to_string())
            })?);
        }
        gate.log(caller, "detokenize", clients, names, &results)?;
        Ok(results)
    }
}

impl Vault {
    // ----------------------------------------------------- blind index

    /// Clients holding `value` in `domain`, without decrypting. Logged.
    pub fn lookup_blind_index(
        &self,
        caller: &Caller,
        domain: &str,
        value: &Plain,
        purpose: &str,
    ) -> Result<Vec<String>> {
        check_name("purpose", purpose)?;
        if !self
            .inner
            .config
            .blind_index_fields
            .iter()
            .any(|f| blind_domain(f) == domain)
        {
            return Err(Error::invalid("domain", "is not an indexed domain"));
        }
        self.check_value("value", &value.0)?;
        let norm = normalise_for_index(domain, &value.0)
            .ok_or_else(|| Error::invalid("value", "is empty once normalised"))?;
        let access = self.inner.policy.access(caller.role, domain, purpose);
        let mut found = BTreeSet::new();
        let (outcome, reason) = if access == Access::Deny {
            (
                "denied",
                format!(
                    "denied by policy for role {}, field {domain}, purpose {purpose}",
                    caller.role
                ),
            )
        } else {
            let tag = self.inner.blind.tag(domain, norm.as_bytes());
            let prefix = join(&[domain.as_bytes(), &tag, b""]);
            let r = self.reads();
            for (k, _) in r.scan(BLIND, &prefix)? {
                let rest = &k[prefix.len()..];
                let number = rest.split(|b| *b == 0).next().unwrap_or_default();
                let number = utf8(number.to_vec())?;
                let survivor = survivor_of(&r, &number)?;
                if !is_erased(&r, &survivor)? {
                    found.insert(survivor);
                }
            }
            ("allowed", String::new())
        };
        let rec = AccessRecord {
            sequence: 0,
            at_ms: now_ms(),
            actor: caller.id.clone(),
            role: caller.role.to_string(),
            operation: "lookup".into(),
            client_numbers: found.iter().cloned().collect(),
            fields: vec![domain.to_string()],
            purpose: purpose.to_string(),
            outcome: outcome.into(),
            reason: reason.clone(),
            consent_sequence: 0,
        };
        let seq = self.write(|tx| tx.log(rec))?;
        if outcome == "denied" {
            return Err(Error::PermissionDenied(format!(
                "{reason} (access log entry {seq})"
            )));
        }
        Ok(found.into_iter().collect())
    }
}

/// A token's value is bound to the token itself: its context is (client,
/// `token:<token>`, field), so it cannot be moved to another token.
pub(super) fn with_token_ctx<T>(
    r: &FieldRef,
    token: &str,
    f: impl FnOnce(&FieldContext<'_>) -> T,
) -> T {
    let record = format!("token:{token}");
    f(&FieldContext {
        client: &r.client_number,
        record: &record,
        field: &r.field,
    })
}

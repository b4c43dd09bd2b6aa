//! Fields and encryption: values stored or sealed for other services, each
//! bound to its [`FieldRef`], read back under the policy.

use c360_standardise::blind::{blind_domain, normalise_for_index};

use super::*;

/// Result of ReadFields.
#[derive(Clone, Debug)]
pub struct ReadOutcome {
    pub client_number: String,
    pub fields: Vec<(FieldRef, FieldResult)>,
    pub access_sequence: u64,
    pub consent_sequence: u64,
}

impl Vault {
    // ----------------------------------------------------- encryption

    /// Encrypts values for other services, each bound to its FieldRef.
    pub fn encrypt(&self, fields: &[(FieldRef, Plain)]) -> Result<Vec<Vec<u8>>> {
        self.check_batch_len("fields", fields.len())?;
        for (i, (r, v)) in fields.iter().enumerate() {
            check_ref(i, r)?;
            self.check_value("value", &v.0)
                .map_err(|e| e.within(|| format!("fields[{i}]")))?;
        }
        let mut keys: HashMap<&str, Arc<DataKey>> = HashMap::new();
        let mut missing: BTreeSet<&str> = BTreeSet::new();
        for (r, _) in fields {
            let n = r.client_number.as_str();
            if keys.contains_key(n) || missing.contains(n) {
                continue;
            }
            match self.load_dek(n)? {
                Some(k) => {
                    keys.insert(n, k);
                }
                None => {
                    missing.insert(n);
                }
            }
        }
        if !missing.is_empty() {
            let created = self.write(|tx| {
                let mut created = HashMap::new();
                for n in &missing {
                    self.dek_for_write(tx, &mut created, n)?;
                }
                Ok(created)
            })?;
            for n in missing {
                if let Some(k) = created.get(n) {
                    keys.insert(n, k.clone());
                } else if let Some(k) = self.load_dek(n)? {
                    keys.insert(n, k);
                }
            }
        }
        fields
            .iter()
            .map(|(r, v)| {
                let key = keys
                    .get(r.client_number.as_str())
                    .ok_or_else(|| Error::Internal("data key vanished".into()))?;
                Ok(key.encrypt(&ctx(r), v.0.as_bytes())?)
            })
            .collect()
    }

    /// Opens one envelope (no policy, no log): the caller checked both.
    pub(super) fn open_envelope(
        &self,
        r: &FieldRef,
        envelope: &[u8],
    ) -> std::result::Result<String, String> {
        let (key_id, version) =
            envelope_key(envelope).map_err(|_| "malformed ciphertext".to_string())?;
        if version != DEK_VERSION {
            return Err("unknown data key version".into());
        }
        let key = match self.load_dek(&key_id) {
            Ok(Some(k)) => k,
            Ok(None) => return Err("data key destroyed (client erased) or unknown".into()),
            Err(e) => return Err(e.to_string()),
        };
        let plain = key
            .decrypt(&ctx(r), envelope)
            .map_err(|_| "ciphertext rejected: wrong key, wrong context or tampered".to_string())?;
        String::from_utf8(plain).map_err(|_| "value is not utf-8".to_string())
    }
}

impl Vault {
    /// Decrypts values sealed by `encrypt`, under the policy, logged.
    pub fn decrypt(
        &self,
        caller: &Caller,
        purpose: &str,
        fields: &[(FieldRef, Vec<u8>)],
    ) -> Result<Vec<FieldResult>> {
        check_name("purpose", purpose)?;
        self.check_batch_len("fields", fields.len())?;
        for (i, (r, _)) in fields.iter().enumerate() {
            check_ref(i, r)?;
        }
        let r = self.reads();
        let mut survivors: HashMap<&str, String> = HashMap::new();
        let mut gate = Gate::new(self, caller.role, purpose);
        let mut results = Vec::with_capacity(fields.len());
        for (fr, envelope) in fields {
            let survivor = match survivors.get(fr.client_number.as_str()) {
                Some(s) => s.clone(),
                None => {
                    let s = survivor_of(&r, &fr.client_number)?;
                    survivors.insert(&fr.client_number, s.clone());
                    s
                }
            };
            results.push(gate.read(&survivor, &fr.field, || self.open_envelope(fr, envelope))?);
        }
        let clients: BTreeSet<String> = survivors.into_values().collect();
        let names: BTreeSet<String> = fields.iter().map(|(r, _)| r.field.clone()).collect();
        gate.log(caller, "decrypt", clients, names, &results)?;
        Ok(results)
    }
}

impl Vault {
    // --------------------------------------------------------- fields

    /// Checks values to store; a field without a record belongs to
    /// [`PROFILE_RECORD`].
    pub(super) fn check_fields_to_store<'f>(
        &self,
        fields: &'f [(FieldRef, Plain)],
    ) -> Result<Vec<(FieldRef, &'f Plain)>> {
        self.check_batch_len("fields", fields.len())?;
        let mut prepared = Vec::with_capacity(fields.len());
        for (i, (r, v)) in fields.iter().enumerate() {
            let mut r = r.clone();
            if r.record_id.is_empty() {
                r.record_id = PROFILE_RECORD.into();
            }
            check_ref(i, &r)?;
            self.check_value("value", &v.0)
                .map_err(|e| e.within(|| format!("fields[{i}]")))?;
            prepared.push((r, v));
        }
        Ok(prepared)
    }

    /// Stores personal fields (replacing earlier values), maintaining the
    /// blind indexes. One durable write.
    pub fn put_fields(&self, fields: &[(FieldRef, Plain)]) -> Result<u32> {
        let prepared = self.check_fields_to_store(fields)?;
        let indexed: BTreeSet<&str> = self
            .inner
            .config
            .blind_index_fields
            .iter()
            .map(String::as_str)
            .collect();
        self.write(|tx| {
            let mut created = HashMap::new();
            for (r, v) in &prepared {
                let key = self.dek_for_write(tx, &mut created, &r.client_number)?;
                let envelope = key.encrypt(&ctx(r), v.0.as_bytes())?;
                let fkey = field_key(r);
                tx.put(FIELDS, fkey.clone(), envelope);
                if let Some(old) = tx.get(BLIND_REV, &fkey)? {
                    tx.delete(BLIND, old);
                    tx.delete(BLIND_REV, fkey.clone());
                }
                if indexed.contains(r.field.as_str()) {
                    let domain = blind_domain(&r.field);
                    if let Some(norm) = normalise_for_index(domain, &v.0) {
                        let tag = self.inner.blind.tag(domain, norm.as_bytes());
                        let bkey = join(&[
                            domain.as_bytes(),
                            &tag,
                            r.client_number.as_bytes(),
                            r.record_id.as_bytes(),
                        ]);
                        tx.put(BLIND, bkey.clone(), Vec::new());
                        tx.put(BLIND_REV, fkey, bkey);
                    }
                }
            }
            Ok(u32::try_from(prepared.len()).unwrap_or(u32::MAX))
        })
    }

    /// Every stored field of `numbers` (optionally one record, some names).
    pub(super) fn stored_fields(
        &self,
        r: &dyn Reads,
        numbers: &[String],
        record: &str,
        names: &BTreeSet<String>,
    ) -> Result<Vec<(FieldRef, Vec<u8>)>> {
        let mut out = Vec::new();
        for n in numbers {
            let prefix = if record.is_empty() {
                [n.as_bytes(), &[0]].concat()
            } else {
                join(&[n.as_bytes(), record.as_bytes(), b""])
            };
            for (k, v) in r.scan(FIELDS, &prefix)? {
                let fr = parse_field_key(&k)?;
                if names.is_empty() || names.contains(&fr.field) {
                    out.push((fr, v));
                }
            }
        }
        Ok(out)
    }

    /// Reads a client's fields for a purpose, under the policy, logged.
    pub fn read_fields(
        &self,
        caller: &Caller,
        number: &str,
        purpose: &str,
        names: &[String],
        record: &str,
    ) -> Result<ReadOutcome> {
        check_number("client_number", number)?;
        check_name("purpose", purpose)?;
        self.check_batch_len("fields", names.len())?;
        for (i, n) in names.iter().enumerate() {
            check_name(&format!("fields[{i}]"), n)?;
        }
        if !record.is_empty() {
            check_record("record_id", record)?;
        }
        let r = self.reads();
        let survivor = survivor_of(&r, number)?;
        if is_erased(&r, &survivor)? {
            return Err(Error::NotFound(format!("client {survivor} (erased)")));
        }
        let members = members_of(&r, &survivor)?;
        let wanted: BTreeSet<String> = names.iter().cloned().collect();
        let stored = self.stored_fields(&r, &members, record, &wanted)?;
        let mut gate = Gate::new(self, caller.role, purpose);
        let mut results = Vec::with_capacity(stored.len());
        for (fr, envelope) in &stored {
            let res = gate.read(&survivor, &fr.field, || self.open_envelope(fr, envelope))?;
            results.push((fr.clone(), res));
        }
        let plain_results: Vec<FieldResult> = results.iter().map(|(_, r)| r.clone()).collect();
        let outcome = Self::outcome_of(&plain_results);
        let logged_fields: BTreeSet<String> = if stored.is_empty() {
            wanted.clone()
        } else {
            stored.iter().map(|(r, _)| r.field.clone()).collect()
        };
        let rec = gate.record(
            caller,
            "read_fields",
            vec![survivor.clone()],
            logged_fields.into_iter().collect(),
            outcome,
        );
        let reason = rec.reason.clone();
        let consent_seq = rec.consent_sequence;
        let access_sequence = self.write(|tx| tx.log(rec))?;
        if outcome == "denied" {
            return Err(Error::PermissionDenied(format!(
                "{reason} (access log entry {access_sequence})"
            )));
        }
        Ok(ReadOutcome {
            client_number: survivor,
            fields: results,
            access_sequence,
            consent_sequence: consent_seq,
        })
    }
}

pub(super) fn field_key(r: &FieldRef) -> Vec<u8> {
    join(&[
        r.client_number.as_bytes(),
        r.record_id.as_bytes(),
        r.field.as_bytes(),
    ])
}

pub(super) fn parse_field_key(k: &[u8]) -> Result<FieldRef> {
    let mut parts = k.split(|b| *b == 0);
    let (Some(c), Some(r), Some(f), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Corrupt("field key".into()));
    };
    Ok(FieldRef {
        client_number: utf8(c.to_vec())?,
        record_id: utf8(r.to_vec())?,
        field: utf8(f.to_vec())?,
    })
}

pub(super) fn ctx(r: &FieldRef) -> FieldContext<'_> {
    FieldContext {
        client: &r.client_number,
        record: &r.record_id,
        field: &r.field,
    }
}

//! Subject access: everything held about a client, in one document.

use super::*;

impl Vault {
    // ---------------------------------------------------------- export

    /// Everything held about a client, as JSON (fields in clear). Logged.
    pub fn export_client(&self, caller: &Caller, number: &str) -> Result<(String, Vec<u8>)> {
        check_number("client_number", number)?;
        let r = self.reads();
        let survivor = survivor_of(&r, number)?;
        let members = members_of(&r, &survivor)?;
        let erased = is_erased(&r, &survivor)?;
        let stored = self.stored_fields(&r, &members, "", &BTreeSet::new())?;
        let mut fields = Vec::new();
        let mut names = BTreeSet::new();
        for (fr, envelope) in &stored {
            names.insert(fr.field.clone());
            let value = match self.open_envelope(fr, envelope) {
                Ok(v) => serde_json::Value::String(v),
                Err(e) => serde_json::json!({ "error": e }),
            };
            fields.push(serde_json::json!({
                "client_number": fr.client_number,
                "record_id": fr.record_id,
                "field": fr.field,
                "value": value,
            }));
        }
        let mut tokens = Vec::new();
        let mut blind = Vec::new();
        for m in &members {
            let tprefix = join(&[&[b"c/", m.as_bytes()].concat(), b""]);
            for (k, _) in r.scan(TOKENS, &tprefix)? {
                let token = utf8(k[tprefix.len()..].to_vec())?;
                let field = r
                    .get(TOKENS, &[b"t/", token.as_bytes()].concat())?
                    .map(|v| unpack(&v))
                    .transpose()?
                    .and_then(|p| p.get(2).cloned())
                    .map(utf8)
                    .transpose()?
                    .unwrap_or_default();
                tokens
                    .push(serde_json::json!({"token": token, "client_number": m, "field": field}));
            }
            for (k, bkey) in r.scan(BLIND_REV, &[m.as_bytes(), &[0]].concat())? {
                let fr = parse_field_key(&k)?;
                let domain = bkey.split(|b| *b == 0).next().unwrap_or_default();
                blind.push(serde_json::json!({
                    "domain": String::from_utf8_lossy(domain),
                    "client_number": fr.client_number,
                    "record_id": fr.record_id,
                    "field": fr.field,
                }));
            }
        }
        let consents = self.get_consents(&survivor)?;
        let holds = self.holds_of(&r, &members)?;
        let (access, _) = self.query_access_log(&AccessQuery {
            client_number: survivor.clone(),
            limit: 1000,
            ..AccessQuery::default()
        })?;
        let doc = serde_json::json!({
            "client_number": survivor,
            "member_numbers": members,
            "erased": erased,
            "fields": fields,
            "tokens": tokens,
            "blind_index": blind,
            "consents": {
                "current": consents.current.iter().map(|(p, c, o)| serde_json::json!({
                    "purpose": p,
                    "channel": c,
                    "allowed": o.verdict.allowed,
                    "reason": o.verdict.reason,
                    "deciding_sequence": o.verdict.deciding,
                })).collect::<Vec<_>>(),
                "history": consents.history.iter().map(Entry::to_json).collect::<Vec<_>>(),
            },
            "legal_holds": holds,
            "access_log": access,
        });
        let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?;
        let rec = AccessRecord {
            sequence: 0,
            at_ms: now_ms(),
            actor: caller.id.clone(),
            role: caller.role.to_string(),
            operation: "export_client".into(),
            client_numbers: vec![survivor.clone()],
            fields: names.into_iter().collect(),
            purpose: "access_request".into(),
            outcome: "allowed".into(),
            reason: String::new(),
            consent_sequence: 0,
        };
        self.write(|tx| tx.log(rec))?;
        Ok((survivor, bytes))
    }
}

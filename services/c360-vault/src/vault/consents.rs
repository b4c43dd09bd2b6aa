//! Consents: recording, checking (fail closed), the client's view, the
//! ledger's verification and export.

use super::*;

/// A consent to record.
#[derive(Clone, Debug, Default)]
pub struct ConsentInput {
    pub client_number: String,
    pub purpose: String,
    pub channel: String,
    /// 1 granted, 2 denied, 3 withdrawn (the proto numbers).
    pub decision: i32,
    pub lawful_basis: i32,
    pub evidence_ref: String,
    pub source_system: String,
    pub notice_version: String,
    pub captured_at_ms: i64,
    pub expires_at_ms: i64,
    /// The records the decision came with; empty: those the number stands
    /// for (see [`crate::consent`]).
    pub record_ids: Vec<String>,
}

/// A consent question.
#[derive(Clone, Debug, Default)]
pub struct CheckInput {
    pub client_number: String,
    pub purpose: String,
    pub channel: String,
    /// 0: now.
    pub at_ms: i64,
}

/// A consent answer.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// The survivor the question was answered for.
    pub client_number: String,
    pub verdict: Verdict,
    pub deciding: Option<Entry>,
}

/// A client's consents.
#[derive(Clone, Debug)]
pub struct ConsentsView {
    pub client_number: String,
    pub members: Vec<String>,
    pub current: Vec<(String, String, CheckOutcome)>,
    pub history: Vec<Entry>,
}

/// What VerifyLedger found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub ok: bool,
    pub checked: u64,
    pub first_bad: u64,
    pub problem: String,
    pub head: Hash,
}

/// Export formats of the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    JsonLines,
    Csv,
}

impl Vault {
    // -------------------------------------------------------- consents

    pub(super) fn validate_consent(
        &self,
        c: &ConsentInput,
        prefix: &str,
        now: i64,
    ) -> Result<Entry> {
        let f = |name: &str| format!("{prefix}{name}");
        check_number(&f("client_number"), &c.client_number)?;
        check_name(&f("purpose"), &c.purpose)?;
        let channel = normalise_channel(&f("channel"), &c.channel)?;
        let decision = u8::try_from(c.decision)
            .ok()
            .and_then(Decision::from_code)
            .filter(|d| *d != Decision::None)
            .ok_or_else(|| {
                Error::invalid(&f("decision"), "must be GRANTED, DENIED or WITHDRAWN")
            })?;
        let lawful_basis = match c.lawful_basis {
            // Unspecified: the decision is the client's consent.
            0 => 1,
            b @ 1..=6 => b as u8,
            _ => return Err(Error::invalid(&f("lawful_basis"), "is not a known basis")),
        };
        check_text(&f("evidence_ref"), &c.evidence_ref, false)?;
        check_text(&f("source_system"), &c.source_system, false)?;
        check_text(&f("notice_version"), &c.notice_version, false)?;
        let captured = if c.captured_at_ms == 0 {
            now
        } else {
            c.captured_at_ms
        };
        if captured < 0 || captured > now + 300_000 {
            return Err(Error::invalid(
                &f("captured_at_unix_ms"),
                "is negative or in the future",
            ));
        }
        if c.expires_at_ms != 0 && c.expires_at_ms <= captured {
            return Err(Error::invalid(
                &f("expires_at_unix_ms"),
                "is not after captured_at_unix_ms",
            ));
        }
        if c.record_ids.len() > MAX_CONSENT_RECORDS {
            return Err(Error::invalid(
                &f("record_ids"),
                format!("at most {MAX_CONSENT_RECORDS}"),
            ));
        }
        for (i, r) in c.record_ids.iter().enumerate() {
            check_record(&f(&format!("record_ids[{i}]")), r)?;
        }
        let mut e = Entry::blank(Kind::Consent, &c.client_number);
        e.purpose = c.purpose.clone();
        e.channel = channel;
        e.decision = decision;
        e.lawful_basis = lawful_basis;
        e.evidence_ref = c.evidence_ref.clone();
        e.source_system = c.source_system.clone();
        e.notice_version = c.notice_version.clone();
        e.captured_at_ms = captured;
        e.expires_at_ms = c.expires_at_ms;
        e.recorded_at_ms = now;
        let records: BTreeSet<&String> = c.record_ids.iter().collect();
        e.record_ids = records.into_iter().cloned().collect();
        Ok(e)
    }

    /// Records consents (one durable write for all of them).
    pub fn record_consents(&self, caller: &Caller, inputs: &[ConsentInput]) -> Result<Vec<Entry>> {
        self.check_batch_len("consents", inputs.len())?;
        let now = now_ms();
        let mut entries = Vec::with_capacity(inputs.len());
        for (i, c) in inputs.iter().enumerate() {
            let prefix = if inputs.len() == 1 {
                String::new()
            } else {
                format!("consents[{i}].")
            };
            let mut e = self.validate_consent(c, &prefix, now)?;
            e.actor = caller.id.clone();
            entries.push(e);
        }
        self.write(|tx| {
            let mut out = Vec::with_capacity(entries.len());
            let mut records_of: HashMap<String, Vec<String>> = HashMap::new();
            for e in entries {
                if is_erased(tx, &e.client_number)? {
                    return Err(Error::FailedPrecondition(format!(
                        "client {} was erased",
                        e.client_number
                    )));
                }
                let mut e = e;
                if e.record_ids.is_empty() {
                    e.record_ids = match records_of.get(&e.client_number) {
                        Some(r) => r.clone(),
                        None => {
                            let r: Vec<String> =
                                stood_for(tx, &e.client_number)?.into_iter().collect();
                            records_of.insert(e.client_number.clone(), r.clone());
                            r
                        }
                    };
                }
                out.push(tx.append(e));
            }
            Ok(out)
        })
    }

    pub fn record_consent(&self, caller: &Caller, input: &ConsentInput) -> Result<Entry> {
        let mut v = self.record_consents(caller, std::slice::from_ref(input))?;
        v.pop()
            .ok_or_else(|| Error::Internal("no entry recorded".into()))
    }

    pub(super) fn check_on(
        &self,
        r: &dyn Reads,
        c: &CheckInput,
        prefix: &str,
    ) -> Result<CheckOutcome> {
        let f = |name: &str| format!("{prefix}{name}");
        check_number(&f("client_number"), &c.client_number)?;
        check_name(&f("purpose"), &c.purpose)?;
        let channel = normalise_channel(&f("channel"), &c.channel)?;
        let at = if c.at_ms == 0 { now_ms() } else { c.at_ms };
        let survivor = survivor_of(r, &c.client_number)?;
        let members = members_of(r, &survivor)?;
        let entries = entries_of(r, &members)?;
        let verdict = ledger::evaluate(&entries, &c.purpose, &channel, at);
        let deciding = verdict
            .deciding
            .and_then(|s| entries.iter().find(|e| e.sequence == s).cloned());
        Ok(CheckOutcome {
            client_number: survivor,
            verdict,
            deciding,
        })
    }

    /// May this client be processed for this purpose on this channel at
    /// this time? Fails closed.
    pub fn check_consent(&self, c: &CheckInput) -> Result<CheckOutcome> {
        self.check_on(&self.reads(), c, "")
    }

    pub fn check_consents(&self, checks: &[CheckInput]) -> Result<Vec<CheckOutcome>> {
        self.check_batch_len("checks", checks.len())?;
        checks
            .iter()
            .enumerate()
            .map(|(i, c)| self.check_on(&self.reads(), c, &format!("checks[{i}].")))
            .collect()
    }

    pub fn get_consents(&self, number: &str) -> Result<ConsentsView> {
        check_number("client_number", number)?;
        let r = self.reads();
        let survivor = survivor_of(&r, number)?;
        let members = members_of(&r, &survivor)?;
        let history = entries_of(&r, &members)?;
        let now = now_ms();
        let current = ledger::current_state(&history, now)
            .into_iter()
            .map(|((p, c), verdict)| {
                let deciding = verdict
                    .deciding
                    .and_then(|s| history.iter().find(|e| e.sequence == s).cloned());
                let outcome = CheckOutcome {
                    client_number: survivor.clone(),
                    verdict,
                    deciding,
                };
                (p, c, outcome)
            })
            .collect();
        Ok(ConsentsView {
            client_number: survivor,
            members,
            current,
            history,
        })
    }

    /// Recomputes the whole chain.
    pub fn verify_ledger(&self) -> Result<VerifyReport> {
        let mut v = Verifier::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .inner
                .store
                .scan_prefix(LEDGER, b"", after.as_deref(), PAGE)?;
            for (k, value) in &page {
                let seq = match k.as_slice().try_into() {
                    Ok(a) => u64::from_be_bytes(a),
                    Err(_) => {
                        return Ok(bad(&v, v.checked() + 1, "undecodable key".into()));
                    }
                };
                if let Err(problem) = v.check(seq, value) {
                    return Ok(bad(&v, v.checked() + 1, problem));
                }
            }
            if page.len() < PAGE {
                break;
            }
            after = page.last().map(|(k, _)| k.clone());
        }
        return Ok(VerifyReport {
            ok: true,
            checked: v.checked(),
            first_bad: 0,
            problem: String::new(),
            head: v.head(),
        });

        fn bad(v: &Verifier, first_bad: u64, problem: String) -> VerifyReport {
            VerifyReport {
                ok: false,
                checked: v.checked(),
                first_bad,
                problem,
                head: ledger::GENESIS,
            }
        }
    }

    /// Writes the ledger (or one client's part of it) to `sink` in chunks
    /// of about `export_chunk_bytes`; stops early when `sink` returns false.
    pub fn export_consents(
        &self,
        format: ExportFormat,
        client: &str,
        from_seq: u64,
        mut sink: impl FnMut(Vec<u8>) -> bool,
    ) -> Result<()> {
        let chunk = self.inner.config.export_chunk_bytes.max(1024);
        let mut buf: Vec<u8> = Vec::with_capacity(chunk + 1024);
        if format == ExportFormat::Csv {
            buf.extend_from_slice(Entry::CSV_HEADER.as_bytes());
        }
        let mut emit = |e: &Entry, buf: &mut Vec<u8>| -> Result<bool> {
            match format {
                ExportFormat::JsonLines => {
                    serde_json::to_writer(&mut *buf, &e.to_json())
                        .map_err(|err| Error::Internal(err.to_string()))?;
                    buf.push(b'\n');
                }
                ExportFormat::Csv => buf.extend_from_slice(e.to_csv_row().as_bytes()),
            }
            if buf.len() >= chunk {
                return Ok(sink(std::mem::take(buf)));
            }
            Ok(true)
        };
        if client.is_empty() {
            let mut after: Option<Vec<u8>> = (from_seq > 1).then(|| seq_key(from_seq - 1).to_vec());
            loop {
                let page = self
                    .inner
                    .store
                    .scan_prefix(LEDGER, b"", after.as_deref(), PAGE)?;
                for (_, v) in &page {
                    let e = Entry::from_stored(v).map_err(Error::Corrupt)?;
                    if !emit(&e, &mut buf)? {
                        return Ok(());
                    }
                }
                if page.len() < PAGE {
                    break;
                }
                after = page.last().map(|(k, _)| k.clone());
            }
        } else {
            check_number("client_number", client)?;
            let r = self.reads();
            let survivor = survivor_of(&r, client)?;
            let members = members_of(&r, &survivor)?;
            for e in entries_of(&r, &members)? {
                if e.sequence >= from_seq && !emit(&e, &mut buf)? {
                    return Ok(());
                }
            }
        }
        if !buf.is_empty() {
            sink(buf);
        }
        Ok(())
    }
}

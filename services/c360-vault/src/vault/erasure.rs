//! Legal holds and erasure, and telling the resolver (through
//! [`Resolver`], which the edge implements) until it has erased too.

use std::future::Future;
use std::pin::Pin;

use super::*;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    pub client_number: String,
    pub basis: String,
    pub set_by: String,
    pub set_at_ms: i64,
    /// 0: until released.
    pub expires_at_ms: i64,
}

impl LegalHold {
    pub(super) fn active(&self, now: i64) -> bool {
        self.expires_at_ms == 0 || self.expires_at_ms > now
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ErasedRecord {
    survivor: String,
    at_ms: i64,
    ledger_sequence: u64,
}

/// What EraseClient did.
#[derive(Clone, Debug)]
pub struct EraseOutcome {
    pub client_number: String,
    pub erased_numbers: Vec<String>,
    pub fields_deleted: u32,
    pub tokens_deleted: u32,
    pub entry: Entry,
    pub resolver_notified: bool,
}

/// The resolver as the vault needs it: told to erase a client (it then
/// publishes CLIENT_ERASED), and asked whether client numbers were issued.
/// The domain owns this port; the edge implements it over gRPC
/// ([`crate::peers`]).
pub trait Resolver: Send + Sync {
    /// Asks the resolver to erase `number`: `true` once it has, or when it
    /// has nothing left to erase (a number it never issued, or one already
    /// erased there); `false` when it could not be told.
    fn erase<'a>(
        &'a self,
        number: &'a str,
        reason: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

    /// Who says whether a client number was issued (the edge checks
    /// before any write naming one).
    fn issuer(&self) -> std::sync::Arc<dyn c360_rpc::NumberIssuer>;
}

impl Vault {
    // ------------------------------------------------ holds, erasure

    pub fn set_legal_hold(
        &self,
        caller: &Caller,
        number: &str,
        basis: &str,
        expires_at_ms: i64,
        release: bool,
    ) -> Result<Option<LegalHold>> {
        check_number("client_number", number)?;
        if !release {
            check_text("basis", basis, true)?;
            // 0: until released. A hold that ends before it starts would
            // hold nothing.
            if expires_at_ms != 0 && expires_at_ms <= now_ms() {
                return Err(Error::invalid("expires_at_unix_ms", "is in the past"));
            }
        }
        self.write(|tx| {
            let survivor = survivor_of(tx, number)?;
            if release {
                tx.delete(HOLDS, survivor.into_bytes());
                return Ok(None);
            }
            if is_erased(tx, &survivor)? {
                return Err(Error::FailedPrecondition(format!(
                    "client {survivor} was erased"
                )));
            }
            let hold = LegalHold {
                client_number: survivor.clone(),
                basis: basis.to_string(),
                set_by: caller.id.clone(),
                set_at_ms: now_ms(),
                expires_at_ms,
            };
            tx.put(HOLDS, survivor.into_bytes(), json(&hold)?);
            Ok(Some(hold))
        })
    }

    pub(super) fn holds_of(&self, r: &dyn Reads, members: &[String]) -> Result<Vec<LegalHold>> {
        let mut out = Vec::new();
        for m in members {
            if let Some(v) = r.get(HOLDS, m.as_bytes())? {
                out.push(from_json(&v)?);
            }
        }
        Ok(out)
    }

    /// Destroys keys, fields, tokens and index entries of `survivor` and
    /// its members inside `tx`, and appends the erasure entry.
    pub(super) fn erase_in(
        &self,
        tx: &mut PendingWrite<'_>,
        survivor: &str,
        reason: &str,
        actor: &str,
    ) -> Result<EraseOutcome> {
        let members = members_of(tx, survivor)?;
        let now = now_ms();
        let mut fields_deleted = 0u32;
        let mut tokens_deleted = 0u32;
        for m in &members {
            tx.delete(KEYS, dek_key(m));
            tx.invalidate.push(m.clone());
            let prefix = [m.as_bytes(), &[0]].concat();
            for (k, _) in tx.scan(FIELDS, &prefix)? {
                tx.delete(FIELDS, k);
                fields_deleted += 1;
            }
            for (k, bkey) in tx.scan(BLIND_REV, &prefix)? {
                tx.delete(BLIND, bkey);
                tx.delete(BLIND_REV, k);
            }
            let tprefix = join(&[&[b"c/", m.as_bytes()].concat(), b""]);
            for (k, _) in tx.scan(TOKENS, &tprefix)? {
                let token = &k[tprefix.len()..];
                tx.delete(TOKENS, [b"t/", token].concat());
                tx.delete(TOKENS, k);
                tokens_deleted += 1;
            }
            tx.delete(HOLDS, m.clone().into_bytes());
        }
        let mut e = Entry::blank(Kind::Erasure, survivor);
        e.related_clients = members.iter().filter(|m| *m != survivor).cloned().collect();
        e.actor = actor.to_string();
        e.evidence_ref = reason.to_string();
        e.captured_at_ms = now;
        e.recorded_at_ms = now;
        let entry = tx.append(e);
        let record = json(&ErasedRecord {
            survivor: survivor.to_string(),
            at_ms: now,
            ledger_sequence: entry.sequence,
        })?;
        for m in &members {
            tx.put(ERASED, m.clone().into_bytes(), record.clone());
        }
        Ok(EraseOutcome {
            client_number: survivor.to_string(),
            erased_numbers: members,
            fields_deleted,
            tokens_deleted,
            entry,
            resolver_notified: false,
        })
    }

    /// Erases a client locally (refused under a legal hold) and records
    /// that the resolver must be told. Call [`Vault::notify_resolver`]
    /// afterwards (the gRPC adapter does).
    pub fn erase_client(
        &self,
        caller: &Caller,
        number: &str,
        reason: &str,
    ) -> Result<EraseOutcome> {
        check_number("client_number", number)?;
        check_text("reason", reason, false)?;
        let notify = self.inner.peers.resolver.is_some();
        self.write(|tx| {
            let survivor = survivor_of(tx, number)?;
            let members = members_of(tx, &survivor)?;
            let now = now_ms();
            if let Some(h) = self
                .holds_of(tx, &members)?
                .into_iter()
                .find(|h| h.active(now))
            {
                let until = if h.expires_at_ms == 0 {
                    "until released".to_string()
                } else {
                    format!("until {}", h.expires_at_ms)
                };
                return Err(Error::FailedPrecondition(format!(
                    "client {survivor} is under a legal hold ({}, set by {}, {until}): erasure refused",
                    h.basis, h.set_by
                )));
            }
            if let Some(v) = tx.get(ERASED, survivor.as_bytes())? {
                let rec: ErasedRecord = from_json(&v)?;
                return Err(Error::FailedPrecondition(format!(
                    "client {survivor} was already erased (ledger entry {})",
                    rec.ledger_sequence
                )));
            }
            let out = self.erase_in(tx, &survivor, reason, &caller.id)?;
            if notify {
                tx.put(
                    META,
                    [PENDING, survivor.as_bytes()].concat(),
                    reason.as_bytes().to_vec(),
                );
            }
            Ok(out)
        })
    }

    /// Tells the resolver to erase `survivor`; on success the pending
    /// marker goes. Returns whether the resolver has erased.
    pub async fn notify_resolver(&self, survivor: &str, reason: &str) -> bool {
        let Some(resolver) = self.inner.peers.resolver.clone() else {
            return false;
        };
        // Bounded: a hung resolver must not hold the EraseClient caller; the
        // erasure stays pending and is retried.
        let call = tokio::time::timeout(RESOLVER_TIMEOUT, resolver.erase(survivor, reason)).await;
        let done = matches!(call, Ok(true));
        if !done {
            tracing::warn!(client = %survivor, "resolver erasure pending; will retry");
            return false;
        }
        let vault = self.clone();
        let key = [PENDING, survivor.as_bytes()].concat();
        let cleared = tokio::task::spawn_blocking(move || {
            vault.write(|tx| {
                tx.delete(META, key);
                Ok(())
            })
        })
        .await;
        matches!(cleared, Ok(Ok(())))
    }

    /// Erasures not yet confirmed by the resolver: `(survivor, reason)`.
    pub fn pending_erasures(&self) -> Result<Vec<(String, String)>> {
        scan_all(self.inner.store.as_ref(), META, PENDING)?
            .into_iter()
            .map(|(k, v)| Ok((utf8(k[PENDING.len()..].to_vec())?, utf8(v)?)))
            .collect()
    }

    /// Retries every pending resolver erasure; returns how many remain.
    pub async fn retry_pending_erasures(&self) -> Result<usize> {
        let vault = self.clone();
        let pending = tokio::task::spawn_blocking(move || vault.pending_erasures())
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        let mut remaining = 0;
        for (survivor, reason) in pending {
            if !self.notify_resolver(&survivor, &reason).await {
                remaining += 1;
            }
        }
        Ok(remaining)
    }

    /// Starts (once) a background task retrying pending erasures, when a
    /// resolver is configured and a tokio runtime is running.
    pub(crate) fn start_erasure_retries(&self) {
        if self.inner.peers.resolver.is_none() {
            return;
        }
        let mut running = self
            .inner
            .retry_task
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        let every = Duration::from_secs(self.inner.config.erasure_retry_secs.max(1));
        let task = handle.spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let vault = Vault { inner };
                if let Err(e) = vault.retry_pending_erasures().await {
                    tracing::warn!(error = %e, "retrying pending erasures failed");
                }
                drop(vault);
                tokio::time::sleep(every).await;
            }
        });
        *running = Some(task);
    }

    /// The resolver this vault calls (erasures; whether a number was
    /// issued), if one is configured.
    pub fn resolver(&self) -> Option<Arc<dyn Resolver>> {
        self.inner.peers.resolver.clone()
    }

    /// Stops the background retry of erasures and waits until it is gone:
    /// while a retry runs it holds the vault, and with it the store's lock.
    pub async fn stop_background(&self) {
        let task = self
            .inner
            .retry_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }
}

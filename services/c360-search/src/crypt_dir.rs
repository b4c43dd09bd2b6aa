//! A tantivy [`Directory`] whose files are encrypted on disk.
//!
//! Tantivy writes every segment file once and never modifies it, so whole
//! files are encrypted as they are written and decrypted as a whole when
//! opened (memory-mapping is impossible on ciphertext). The two files it
//! rewrites (`meta.json`, `.managed.json`) go through `atomic_write`, which
//! encrypts too and renames a temporary file into place.
//!
//! # File format (version 1)
//!
//! ```text
//! "C360IX01"                      8-byte magic
//! chunk*                          u32 LE length || envelope
//! ```
//!
//! Each chunk holds up to [`CHUNK_BYTES`] of plaintext sealed by the index
//! [`DataKey`] (AES-256-GCM, random nonce) with the context (client =
//! `search-index`, record = `<file name>#<chunk number>`, field = `chunk`, or
//! `last` for the final one): a chunk moved to another file or position,
//! a truncated file or an extra chunk is rejected. Writers hold one chunk of
//! plaintext at a time; readers decrypt the whole file into memory, shared
//! through a cache of weak references while tantivy holds the file open.
//!
//! Locks are process-local (one process owns an index directory).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

use c360_crypto::{DataKey, FieldContext};
use tantivy::HasLen;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, OwnedBytes, TerminatingWrite,
    WatchCallback, WatchCallbackList, WatchHandle, WritePtr,
};

/// First bytes of every encrypted index file.
pub const MAGIC: &[u8; 8] = b"C360IX01";
/// Plaintext bytes per chunk.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Key id of the index data key (the envelope's "client").
pub const INDEX_KEY_ID: &str = "search-index";

const META_FILE: &str = "meta.json";

/// Encrypted directory over a folder. Cheap to clone (shared state).
#[derive(Clone)]
pub struct EncryptedDirectory {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    key: DataKey,
    /// Decrypted files that tantivy still holds open.
    open: Mutex<HashMap<PathBuf, Weak<DecryptedFile>>>,
    /// Bytes of decrypted files alive.
    decrypted_bytes: Arc<AtomicUsize>,
    /// Files being written (they "exist" for tantivy).
    writing: Mutex<HashSet<PathBuf>>,
    locks: Arc<(Mutex<HashSet<PathBuf>>, Condvar)>,
    watchers: WatchCallbackList,
}

impl fmt::Debug for EncryptedDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedDirectory")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl EncryptedDirectory {
    /// A directory over `root` (created if missing) sealed with `key`.
    pub fn open(root: &Path, key: DataKey) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(EncryptedDirectory {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                key,
                open: Mutex::new(HashMap::new()),
                decrypted_bytes: Arc::new(AtomicUsize::new(0)),
                writing: Mutex::new(HashSet::new()),
                locks: Arc::new((Mutex::new(HashSet::new()), Condvar::new())),
                watchers: WatchCallbackList::default(),
            }),
        })
    }

    /// Bytes of decrypted index files currently held in memory.
    pub fn decrypted_bytes(&self) -> usize {
        self.inner.decrypted_bytes.load(Ordering::Relaxed)
    }

    /// Bytes of (encrypted) files on disk.
    pub fn disk_bytes(&self) -> u64 {
        let Ok(entries) = std::fs::read_dir(&self.inner.root) else {
            return 0;
        };
        entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        self.inner.root.join(path)
    }

    /// Reads and decrypts a whole file.
    fn decrypt_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let full = self.resolve(path);
        let mut raw = Vec::new();
        File::open(&full)?.read_to_end(&mut raw)?;
        decrypt(&self.inner.key, &label(path), &raw)
    }
}

/// The name a file's chunks are bound to.
fn label(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn tampered(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("index file {what}"))
}

fn seal(key: &DataKey, label: &str, index: u64, last: bool, plain: &[u8]) -> io::Result<Vec<u8>> {
    let record = format!("{label}#{index}");
    let ctx = FieldContext {
        client: INDEX_KEY_ID,
        record: &record,
        field: if last { "last" } else { "chunk" },
    };
    let envelope = key
        .encrypt(&ctx, plain)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let len = u32::try_from(envelope.len()).map_err(|_| io::Error::other("chunk too large"))?;
    let mut out = Vec::with_capacity(4 + envelope.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&envelope);
    Ok(out)
}

/// Decrypts a file image (magic and chunks) sealed under `label`.
pub fn decrypt(key: &DataKey, label: &str, raw: &[u8]) -> io::Result<Vec<u8>> {
    let body = raw
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| tampered("has no c360 header"))?;
    // First pass: chunk boundaries, to size the output once.
    let mut chunks = Vec::new();
    let mut at = 0usize;
    while at < body.len() {
        let len_bytes: [u8; 4] = body
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| tampered("is truncated"))?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        let start = at + 4;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| tampered("is truncated"))?;
        chunks.push(start..end);
        at = end;
    }
    if chunks.is_empty() {
        return Err(tampered("is truncated"));
    }
    let overhead = 35 + INDEX_KEY_ID.len();
    let total: usize = chunks
        .iter()
        .map(|r| r.len().saturating_sub(overhead))
        .sum();
    let mut out = Vec::with_capacity(total);
    let last = chunks.len() - 1;
    for (index, range) in chunks.into_iter().enumerate() {
        let record = format!("{label}#{index}");
        let ctx = FieldContext {
            client: INDEX_KEY_ID,
            record: &record,
            field: if index == last { "last" } else { "chunk" },
        };
        let plain = key
            .decrypt(&ctx, &body[range])
            .map_err(|_| tampered("is truncated, tampered or sealed by another key"))?;
        out.extend_from_slice(&plain);
    }
    Ok(out)
}

/// A decrypted file held in memory while tantivy uses it.
struct DecryptedFile {
    bytes: OwnedBytes,
    live: Arc<AtomicUsize>,
}

impl Drop for DecryptedFile {
    fn drop(&mut self) {
        self.live.fetch_sub(self.bytes.len(), Ordering::Relaxed);
    }
}

impl fmt::Debug for DecryptedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DecryptedFile({} bytes)", self.bytes.len())
    }
}

impl HasLen for DecryptedFile {
    fn len(&self) -> usize {
        self.bytes.len()
    }
}

impl FileHandle for DecryptedFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.end > self.bytes.len() || range.start > range.end {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of an index file",
            ));
        }
        Ok(self.bytes.slice(range))
    }
}

/// Writes one file: plaintext is buffered up to one chunk, then sealed.
struct EncryptedWriter {
    dir: EncryptedDirectory,
    path: PathBuf,
    label: String,
    file: Option<BufWriter<File>>,
    buf: Vec<u8>,
    chunk: u64,
}

impl EncryptedWriter {
    fn flush_chunk(&mut self, last: bool) -> io::Result<()> {
        let sealed = seal(
            &self.dir.inner.key,
            &self.label,
            self.chunk,
            last,
            &self.buf,
        )?;
        self.buf.clear();
        self.chunk += 1;
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("index file already terminated"))?;
        file.write_all(&sealed)
    }
}

impl Write for EncryptedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            let room = CHUNK_BYTES - self.buf.len();
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.buf.extend_from_slice(now);
            rest = later;
            if self.buf.len() == CHUNK_BYTES {
                self.flush_chunk(false)?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Only whole chunks reach the disk; `terminate` seals the rest.
        Ok(())
    }
}

impl TerminatingWrite for EncryptedWriter {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        self.flush_chunk(true)?;
        if let Some(file) = self.file.take() {
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_data()?;
        }
        self.buf = Vec::new();
        self.dir.finish_writing(&self.path);
        Ok(())
    }
}

impl Drop for EncryptedWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.dir.finish_writing(&self.path);
        }
    }
}

impl EncryptedDirectory {
    fn finish_writing(&self, path: &Path) {
        lock(&self.inner.writing).remove(path);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn io_read_error(path: &Path, e: io::Error) -> OpenReadError {
    if e.kind() == io::ErrorKind::NotFound {
        OpenReadError::FileDoesNotExist(path.to_path_buf())
    } else {
        OpenReadError::IoError {
            io_error: Arc::new(e),
            filepath: path.to_path_buf(),
        }
    }
}

/// Held while a tantivy lock is taken; releases it on drop.
struct HeldLock {
    path: PathBuf,
    locks: Arc<(Mutex<HashSet<PathBuf>>, Condvar)>,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let (set, released) = &*self.locks;
        lock(set).remove(&self.path);
        released.notify_all();
    }
}

impl Directory for EncryptedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let mut open = lock(&self.inner.open);
        if let Some(file) = open.get(path).and_then(Weak::upgrade) {
            return Ok(file);
        }
        let plain = self
            .decrypt_file(path)
            .map_err(|e| io_read_error(path, e))?;
        self.inner
            .decrypted_bytes
            .fetch_add(plain.len(), Ordering::Relaxed);
        let file = Arc::new(DecryptedFile {
            bytes: OwnedBytes::new(plain),
            live: self.inner.decrypted_bytes.clone(),
        });
        open.retain(|_, w| w.strong_count() > 0);
        open.insert(path.to_path_buf(), Arc::downgrade(&file));
        Ok(file)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        lock(&self.inner.open).remove(path);
        std::fs::remove_file(self.resolve(path)).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                DeleteError::FileDoesNotExist(path.to_path_buf())
            } else {
                DeleteError::IoError {
                    io_error: Arc::new(e),
                    filepath: path.to_path_buf(),
                }
            }
        })
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        if lock(&self.inner.writing).contains(path) {
            return Ok(true);
        }
        Ok(self.resolve(path).exists())
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let io_error = |e: io::Error| OpenWriteError::IoError {
            io_error: Arc::new(e),
            filepath: path.to_path_buf(),
        };
        if !lock(&self.inner.writing).insert(path.to_path_buf()) {
            return Err(OpenWriteError::FileAlreadyExists(path.to_path_buf()));
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.resolve(path));
        let mut file = match file {
            Ok(f) => BufWriter::with_capacity(64 * 1024, f),
            Err(e) => {
                self.finish_writing(path);
                return Err(if e.kind() == io::ErrorKind::AlreadyExists {
                    OpenWriteError::FileAlreadyExists(path.to_path_buf())
                } else {
                    io_error(e)
                });
            }
        };
        if let Err(e) = file.write_all(MAGIC) {
            self.finish_writing(path);
            return Err(io_error(e));
        }
        let writer = EncryptedWriter {
            dir: self.clone(),
            path: path.to_path_buf(),
            label: label(path),
            file: Some(file),
            buf: Vec::new(),
            chunk: 0,
        };
        Ok(BufWriter::with_capacity(64 * 1024, Box::new(writer)))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.decrypt_file(path).map_err(|e| io_read_error(path, e))
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let label = label(path);
        let mut image = MAGIC.to_vec();
        image.extend_from_slice(&seal(&self.inner.key, &label, 0, true, data)?);
        let full = self.resolve(path);
        let tmp = full.with_extension("c360tmp");
        {
            let mut file = File::create(&tmp)?;
            file.write_all(&image)?;
            file.sync_data()?;
        }
        std::fs::rename(&tmp, &full)?;
        self.sync_directory()?;
        if path == Path::new(META_FILE) {
            drop(self.inner.watchers.broadcast());
        }
        Ok(())
    }

    fn sync_directory(&self) -> io::Result<()> {
        File::open(&self.inner.root)?.sync_all()
    }

    fn acquire_lock(&self, lock_spec: &Lock) -> Result<DirectoryLock, LockError> {
        let (set, released) = &*self.inner.locks;
        let mut held = lock(set);
        while held.contains(&lock_spec.filepath) {
            if !lock_spec.is_blocking {
                return Err(LockError::LockBusy);
            }
            held = released.wait(held).unwrap_or_else(|p| p.into_inner());
        }
        held.insert(lock_spec.filepath.clone());
        Ok(DirectoryLock::from(Box::new(HeldLock {
            path: lock_spec.filepath.clone(),
            locks: self.inner.locks.clone(),
        })))
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        Ok(self.inner.watchers.subscribe(watch_callback))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn dir() -> (tempfile::TempDir, EncryptedDirectory) {
        let tmp = tempfile::tempdir().unwrap();
        let key = DataKey::generate(INDEX_KEY_ID, 1).unwrap();
        let d = EncryptedDirectory::open(tmp.path(), key).unwrap();
        (tmp, d)
    }

    #[test]
    fn files_round_trip_across_chunks_and_are_not_plaintext() {
        let (tmp, d) = dir();
        let data: Vec<u8> = b"KOUASSI Konan +2250707123456 "
            .iter()
            .copied()
            .cycle()
            .take(CHUNK_BYTES * 2 + 123)
            .collect();
        let mut w = d.open_write(Path::new("seg.idx")).unwrap();
        w.write_all(&data).unwrap();
        w.terminate().unwrap();
        let read = d.open_read(Path::new("seg.idx")).unwrap();
        assert_eq!(read.read_bytes().unwrap().as_slice(), data.as_slice());
        assert_eq!(d.decrypted_bytes(), data.len());
        drop(read);
        assert_eq!(d.decrypted_bytes(), 0);
        let raw = std::fs::read(tmp.path().join("seg.idx")).unwrap();
        assert!(!raw.windows(7).any(|w| w == b"KOUASSI"));

        // Empty files work too.
        let w = d.open_write(Path::new("empty")).unwrap();
        w.terminate().unwrap();
        assert_eq!(d.open_read(Path::new("empty")).unwrap().len(), 0);
    }

    #[test]
    fn tampering_truncation_and_renaming_are_rejected() {
        let (tmp, d) = dir();
        let data = vec![7u8; CHUNK_BYTES + 10];
        let mut w = d.open_write(Path::new("a")).unwrap();
        w.write_all(&data).unwrap();
        w.terminate().unwrap();
        let raw = std::fs::read(tmp.path().join("a")).unwrap();

        // Drop the last chunk: the first one is not marked last.
        let first_len = u32::from_le_bytes(raw[8..12].try_into().unwrap()) as usize;
        std::fs::write(tmp.path().join("b"), &raw[..12 + first_len]).unwrap();
        assert!(d.open_read(Path::new("b")).is_err());
        // Same bytes under another name.
        std::fs::write(tmp.path().join("c"), &raw).unwrap();
        assert!(d.open_read(Path::new("c")).is_err());
        // One flipped bit.
        let mut flipped = raw.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        std::fs::remove_file(tmp.path().join("a")).unwrap();
        std::fs::write(tmp.path().join("a"), &flipped).unwrap();
        assert!(d.open_read(Path::new("a")).is_err());
    }

    #[test]
    fn atomic_files_and_locks() {
        let (tmp, d) = dir();
        d.atomic_write(Path::new("meta.json"), b"{\"payload\":\"x\"}")
            .unwrap();
        d.atomic_write(Path::new("meta.json"), b"{\"payload\":\"y\"}")
            .unwrap();
        assert_eq!(
            d.atomic_read(Path::new("meta.json")).unwrap(),
            b"{\"payload\":\"y\"}"
        );
        let raw = std::fs::read(tmp.path().join("meta.json")).unwrap();
        assert!(!raw.windows(7).any(|w| w == b"payload"));
        assert!(matches!(
            d.atomic_read(Path::new("nope")),
            Err(OpenReadError::FileDoesNotExist(_))
        ));

        let spec = Lock {
            filepath: PathBuf::from(".writer.lock"),
            is_blocking: false,
        };
        let held = d.acquire_lock(&spec).unwrap();
        assert!(matches!(d.acquire_lock(&spec), Err(LockError::LockBusy)));
        drop(held);
        assert!(d.acquire_lock(&spec).is_ok());
    }
}

//! An inverted index of blocking keys, for resolving one record at a time.

use rustc_hash::FxHashMap;

/// Blocking key → records holding it.
#[derive(Debug, Default, Clone)]
pub struct BlockIndex {
    postings: FxHashMap<u64, Vec<u32>>,
}

impl BlockIndex {
    pub fn insert(&mut self, record: u32, keys: &[u64]) {
        for &k in keys {
            self.postings.entry(k).or_default().push(record);
        }
    }

    pub fn remove(&mut self, record: u32, keys: &[u64]) {
        for k in keys {
            if let Some(list) = self.postings.get_mut(k) {
                list.retain(|&r| r != record);
                if list.is_empty() {
                    self.postings.remove(k);
                }
            }
        }
    }

    /// Records sharing at least one key, sorted and deduplicated. Keys held
    /// by more than `max_postings` records are hot and skipped (the batch
    /// pipeline pairs such blocks by sorted neighbourhood instead; this is
    /// the one difference between resolving one by one and in batch).
    pub fn candidates(&self, keys: &[u64], max_postings: usize) -> Vec<u32> {
        let lists = || {
            keys.iter()
                .filter_map(|k| self.postings.get(k))
                .filter(|l| l.len() <= max_postings)
        };
        let mut out = Vec::with_capacity(lists().map(Vec::len).sum());
        for list in lists() {
            out.extend_from_slice(list);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_and_hot_keys() {
        let mut idx = BlockIndex::default();
        idx.insert(1, &[10, 20]);
        idx.insert(2, &[20]);
        idx.insert(3, &[20, 30]);
        assert_eq!(idx.candidates(&[20], 10), vec![1, 2, 3]);
        assert_eq!(idx.candidates(&[20], 2), Vec::<u32>::new());
        assert_eq!(idx.candidates(&[10, 30], 2), vec![1, 3]);
        idx.remove(1, &[10, 20]);
        assert_eq!(idx.candidates(&[10, 20], 10), vec![2, 3]);
    }
}

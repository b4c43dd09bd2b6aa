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
    /// the one difference between resolving one by one and in batch). Keys
    /// of the kinds whose oversized blocks the batch drops (a name alone, a
    /// postcode, a landmark word) are skipped past `max_block_size`, as in
    /// batch: a common name alone would bring a crowd of namesakes to score.
    pub fn candidates(&self, keys: &[u64], max_postings: usize, max_block_size: usize) -> Vec<u32> {
        let lists = || {
            keys.iter().filter_map(|k| {
                let limit = if crate::blocking::dropped_when_oversized(*k) {
                    max_postings.min(max_block_size)
                } else {
                    max_postings
                };
                self.postings.get(k).filter(|l| l.len() <= limit)
            })
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

    /// A key of a kind the batch drops when oversized is answered only up
    /// to the batch's block size; other keys up to the hot-key limit.
    #[test]
    fn droppable_keys_stop_at_the_batch_block_size() {
        let droppable = 7 | crate::blocking::DROP_WHEN_OVERSIZED;
        let mut idx = BlockIndex::default();
        for r in 0..5 {
            idx.insert(r, &[droppable, 9]);
        }
        assert_eq!(idx.candidates(&[droppable], 160, 4), Vec::<u32>::new());
        assert_eq!(idx.candidates(&[droppable], 160, 5), vec![0, 1, 2, 3, 4]);
        assert_eq!(idx.candidates(&[9], 160, 4), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn insert_remove_and_hot_keys() {
        let mut idx = BlockIndex::default();
        idx.insert(1, &[10, 20]);
        idx.insert(2, &[20]);
        idx.insert(3, &[20, 30]);
        assert_eq!(idx.candidates(&[20], 10, 10), vec![1, 2, 3]);
        assert_eq!(idx.candidates(&[20], 2, 10), Vec::<u32>::new());
        assert_eq!(idx.candidates(&[10, 30], 2, 10), vec![1, 3]);
        idx.remove(1, &[10, 20]);
        assert_eq!(idx.candidates(&[10, 20], 10, 10), vec![2, 3]);
    }
}

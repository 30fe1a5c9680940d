//! A vector in fixed-size chunks shared copy-on-write between its clones.
//!
//! The ledger holds every journal twice at run time: in the sequencer's state and in the
//! committed replica reads come from, which starts as a clone of it. With the journals in shared
//! chunks, that clone copies pointers, not journals; a chunk is copied only when one side first
//! changes a journal in it (the newest chunks, and those holding journals still moving through
//! their statuses). Journals neither side has changed since the clone are held once.

use std::sync::Arc;

/// Items a chunk holds: a copy-on-write copies at most this many.
const CHUNK: usize = 1024;

#[derive(Clone, Debug)]
pub struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T: Clone> Chunked<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        (index < self.len).then(|| &self.chunks[index / CHUNK][index % CHUNK])
    }

    pub fn last(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    pub fn push(&mut self, item: T) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        Arc::make_mut(last).push(item);
        self.len += 1;
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }

    /// The first index in `range` whose item is not before the sought one (`before` is true of
    /// items before it), as `slice::partition_point` over that range.
    pub fn partition_point(&self, range: std::ops::Range<usize>, before: impl Fn(&T) -> bool) -> usize {
        let (mut low, mut high) = (range.start, range.end.min(self.len));
        while low < high {
            let middle = low + (high - low) / 2;
            if before(&self.chunks[middle / CHUNK][middle % CHUNK]) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }
}

/// Chunks moved out of a vector between two returns of its memory.
const SHRINK_EVERY: usize = 16;

impl<T: Clone> std::ops::Index<usize> for Chunked<T> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        self.get(index).unwrap_or_else(|| panic!("index {index} of {} items", self.len))
    }
}

impl<T: Clone> std::ops::IndexMut<usize> for Chunked<T> {
    /// The item at `index`, its chunk copied first if a clone shares it.
    fn index_mut(&mut self, index: usize) -> &mut T {
        assert!(index < self.len, "index {index} of {} items", self.len);
        &mut Arc::make_mut(&mut self.chunks[index / CHUNK])[index % CHUNK]
    }
}

impl<T: Clone> From<Vec<T>> for Chunked<T> {
    /// Moves the items into chunks from the back, giving the vector's memory back as they go,
    /// so that the items are never held twice (a loaded store's journals are most of its memory).
    fn from(mut items: Vec<T>) -> Chunked<T> {
        let len = items.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut end = len;
        while end > 0 {
            // Every chunk but the last is full.
            let start = if end == len && !len.is_multiple_of(CHUNK) { len - len % CHUNK } else { end - CHUNK };
            let mut chunk = Vec::with_capacity(CHUNK);
            chunk.extend(items.drain(start..));
            chunks.push(Arc::new(chunk));
            if chunks.len().is_multiple_of(SHRINK_EVERY) {
                items.shrink_to_fit();
            }
            end = start;
        }
        chunks.reverse();
        Chunked { chunks, len }
    }
}

impl<T: Clone + PartialEq> PartialEq for Chunked<T> {
    fn eq(&self, other: &Chunked<T>) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Clone + Eq> Eq for Chunked<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_chunks_until_one_side_writes() {
        let mut a: Chunked<u64> = (0..(3 * CHUNK as u64 + 5)).collect::<Vec<_>>().into();
        assert_eq!(a.len(), 3 * CHUNK + 5);
        assert_eq!(a.get(CHUNK + 7), Some(&(CHUNK as u64 + 7)));
        assert_eq!(a.get(a.len()), None);
        let b = a.clone();
        assert!(a.chunks.iter().zip(&b.chunks).all(|(x, y)| Arc::ptr_eq(x, y)), "a clone copies no item");
        a[CHUNK + 1] = 99;
        a.push(1_000_000);
        assert_eq!(b.get(CHUNK + 1), Some(&(CHUNK as u64 + 1)), "the clone does not see the write");
        assert_eq!(a.get(CHUNK + 1), Some(&99));
        assert_eq!((a.len(), b.len()), (b.len() + 1, 3 * CHUNK + 5));
        let shared: Vec<bool> = a.chunks.iter().zip(&b.chunks).map(|(x, y)| Arc::ptr_eq(x, y)).collect();
        assert_eq!(shared, vec![true, false, true, false], "only the chunks written to were copied");
        assert_ne!(a, b);
        assert_eq!(a.iter().next_back(), Some(&1_000_000));
        assert_eq!(a.last(), Some(&1_000_000));
        assert_eq!(b.partition_point(0..b.len(), |&x| x < 2000), 2000);
        assert_eq!(b.partition_point(10..20, |&x| x < 2000), 20);
        assert_eq!(Chunked::<u64>::default().last(), None);
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 40 * CHUNK + 3] {
            let items: Vec<usize> = (0..n).collect();
            let chunked = Chunked::from(items.clone());
            assert!(chunked.iter().copied().eq(items.iter().copied()), "{n} items keep their order");
            assert!(chunked.chunks.iter().rev().skip(1).all(|c| c.len() == CHUNK), "{n}: every chunk but the last is full");
        }
    }
}

//! Where time and new ids come from, outside the pure core.

use cashier_core::{IdSource, Timestamp};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The sequencer's source of time. Readings never go backwards.
pub trait Clock: Send + 'static {
    fn now(&mut self) -> Timestamp;
}

/// The system clock, held monotonic: a reading earlier than the last is replaced by the last.
#[derive(Debug, Default)]
pub struct SystemClock {
    last: i64,
}

impl SystemClock {
    /// A clock that never reads earlier than `floor` (the last committed event's time).
    pub fn after(floor: Timestamp) -> SystemClock {
        SystemClock { last: floor.0 }
    }
}

impl Clock for SystemClock {
    fn now(&mut self) -> Timestamp {
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
        self.last = self.last.max(micros);
        Timestamp(self.last)
    }
}

/// A clock that tests move by hand. Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn at(t: Timestamp) -> ManualClock {
        ManualClock { micros: Arc::new(AtomicI64::new(t.0)) }
    }

    pub fn advance(&self, micros: i64) {
        self.micros.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&mut self) -> Timestamp {
        Timestamp(self.micros.load(Ordering::SeqCst))
    }
}

/// Time-ordered UUIDs (version 7), strictly increasing as the core's `IdSource` requires:
/// 48 bits of milliseconds, the version, then a counter that starts at a random point each
/// millisecond and counts up within it.
#[derive(Debug)]
pub struct V7Ids {
    last: u128,
}

const VERSION: u128 = 0x7 << 76;
const VARIANT: u128 = 0b10 << 62;
/// The counter's bits: 12 above the variant, 62 below it.
const COUNTER_HIGH: u128 = 0xfff << 64;
const COUNTER_LOW: u128 = (1 << 62) - 1;

impl V7Ids {
    /// A source whose ids all exceed `floor` (the largest id already stored).
    pub fn after(floor: u128) -> V7Ids {
        V7Ids { last: floor }
    }

    fn compose(millis: u128, counter: u128) -> u128 {
        (millis << 80) | VERSION | ((counter << 2) & COUNTER_HIGH) | VARIANT | (counter & COUNTER_LOW)
    }

    fn counter_of(id: u128) -> u128 {
        ((id & COUNTER_HIGH) >> 2) | (id & COUNTER_LOW)
    }
}

impl IdSource for V7Ids {
    fn next_id(&mut self) -> u128 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()) & ((1 << 48) - 1);
        let last_millis = self.last >> 80;
        let id = if now > last_millis {
            // A fresh millisecond: start the counter at a random point in its lower half, so
            // that ids are hard to guess and the counter has room to count.
            V7Ids::compose(now, u128::from(rand::random::<u64>() >> 1))
        } else {
            // The same millisecond (or a clock that stepped back): count on from the last id.
            let counter = V7Ids::counter_of(self.last) + 1;
            if counter >> 74 != 0 {
                V7Ids::compose(last_millis + 1, 0)
            } else {
                V7Ids::compose(last_millis, counter)
            }
        };
        debug_assert!(id > self.last);
        self.last = id;
        id
    }
}

/// The ULID of an event: its time in milliseconds, then its sequence number. Monotonic because
/// both are, and unique because the sequence number is.
pub fn event_ulid(at: Timestamp, seq: u64) -> u128 {
    let millis = (at.0.max(0) / 1000) as u128 & ((1 << 48) - 1);
    (millis << 80) | u128::from(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_increase_and_carry_version_and_variant() {
        let mut ids = V7Ids::after(0);
        let mut last = 0;
        for _ in 0..10_000 {
            let id = ids.next_id();
            assert!(id > last);
            assert_eq!((id >> 76) & 0xf, 7, "version");
            assert_eq!((id >> 62) & 0b11, 0b10, "variant");
            last = id;
        }
        // After a floor from the future (a clock that stepped back), ids still increase.
        let future = V7Ids::compose(u128::from(u64::MAX >> 16), 5);
        let mut ids = V7Ids::after(future);
        assert!(ids.next_id() > future);
    }

    #[test]
    fn ulids_are_ordered_by_time_then_sequence() {
        assert!(event_ulid(Timestamp(2_000), 1) > event_ulid(Timestamp(1_000), 9));
        assert!(event_ulid(Timestamp(1_000), 2) > event_ulid(Timestamp(1_000), 1));
    }
}

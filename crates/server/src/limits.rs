//! Limits against abuse, per API key: requests per second (over it, 429 with the Broker API's
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` headers, which every
//! authenticated answer carries), and event streams open at once.
//!
//! Only requests whose key checked out are counted, so nobody can spend another's allowance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// A key's allowance in the current one-second window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// When the window ends: Unix seconds.
    pub reset: u64,
}

/// Where the authentication of a request leaves its key's quota, for the response's headers.
pub type QuotaSlot = Arc<OnceLock<Quota>>;

pub struct Limits {
    per_second: u32,
    streams_per_key: usize,
    /// Per key: the window (Unix second) and the requests counted in it.
    windows: Mutex<HashMap<String, (u64, u32)>>,
    streams: Mutex<HashMap<String, usize>>,
}

impl Limits {
    pub fn new(per_second: u32, streams_per_key: usize) -> Arc<Limits> {
        Arc::new(Limits { per_second, streams_per_key, windows: Mutex::default(), streams: Mutex::default() })
    }

    /// Counts a request of `key`: its quota, or `Err` with it when the window is spent.
    pub fn admit(&self, key: &str) -> Result<Quota, Quota> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = match windows.get_mut(key) {
            Some(window) => window,
            None => windows.entry(key.to_owned()).or_insert((now, 0)),
        };
        if window.0 != now {
            *window = (now, 0);
        }
        let quota = |used: u32| Quota { limit: self.per_second, remaining: self.per_second.saturating_sub(used), reset: now + 1 };
        if window.1 >= self.per_second {
            return Err(quota(window.1));
        }
        window.1 += 1;
        Ok(quota(window.1))
    }

    /// When `key` was last used (Unix seconds), since this process started.
    pub fn last_used(&self, key: &str) -> Option<u64> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner).get(key).map(|(second, _)| *second)
    }

    /// Opens an event stream for `key`, if it has fewer than its limit open; the stream is
    /// counted until the guard is dropped.
    pub fn open_stream(self: &Arc<Limits>, key: &str) -> Option<StreamGuard> {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let open = streams.entry(key.to_owned()).or_default();
        if *open >= self.streams_per_key {
            return None;
        }
        *open += 1;
        Some(StreamGuard { limits: self.clone(), key: key.to_owned() })
    }

    pub fn streams_per_key(&self) -> usize {
        self.streams_per_key
    }

    pub fn per_second(&self) -> u32 {
        self.per_second
    }
}

/// One open event stream of a key.
pub struct StreamGuard {
    limits: Arc<Limits>,
    key: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut streams = self.limits.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = streams.get_mut(&self.key) {
            *open = open.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_allowance_and_no_more() {
        let limits = Limits::new(3, 1);
        let first = limits.admit("A").unwrap();
        assert_eq!((first.limit, first.remaining), (3, 2));
        limits.admit("A").unwrap();
        assert_eq!(limits.admit("A").unwrap().remaining, 0);
        // The window may have turned over between calls; then the fourth is admitted afresh.
        if let Err(spent) = limits.admit("A") {
            assert_eq!(spent.remaining, 0);
        }
        assert!(limits.admit("B").is_ok(), "keys are counted apart");
        let stream = limits.open_stream("A").unwrap();
        assert!(limits.open_stream("A").is_none());
        drop(stream);
        assert!(limits.open_stream("A").is_some(), "a closed stream frees its place");
    }
}

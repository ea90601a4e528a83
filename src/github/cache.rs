//! Conditional requests: the ETag and body of GET answers, per installation, so that a repeated
//! GET carries `If-None-Match` and a `304 Not Modified` (which GitHub does not count against the
//! rate limit) is answered from here.
//!
//! Bounded by bytes per installation with least-recently-used eviction. The `lru` crate gives the
//! recency order; the byte budget is kept here (an entry weighs its URL + ETag + body). `lru`
//! rather than `moka`: eviction is then exact and synchronous (moka's admission policy may refuse
//! a new entry and evicts in the background), which makes the bound testable, and the cache is
//! touched only on the request path under a short lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub etag: String,
    pub body: Arc<str>,
}

impl Cached {
    fn weight(&self, key: &str) -> usize {
        key.len() + self.etag.len() + self.body.len() + 64
    }
}

/// One installation's cache.
struct Bounded {
    entries: lru::LruCache<String, Cached>,
    bytes: usize,
}

pub struct ConditionalCache {
    budget: usize,
    by_installation: Mutex<HashMap<String, Bounded>>,
}

impl ConditionalCache {
    /// `budget`: bytes per installation; 0 turns conditional requests off.
    pub fn new(budget: usize) -> ConditionalCache {
        ConditionalCache { budget, by_installation: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, installation: &str, url: &str) -> Option<Cached> {
        let mut map = self.by_installation.lock().unwrap_or_else(|e| e.into_inner());
        map.get_mut(installation)?.entries.get(url).cloned()
    }

    /// Stores an answer; evicts the least recently used until the installation is under budget.
    /// An answer larger than the whole budget is not stored.
    pub fn put(&self, installation: &str, url: &str, entry: Cached) {
        let w = entry.weight(url);
        if self.budget == 0 || w > self.budget {
            return;
        }
        let mut map = self.by_installation.lock().unwrap_or_else(|e| e.into_inner());
        let b = map
            .entry(installation.to_string())
            .or_insert_with(|| Bounded { entries: lru::LruCache::unbounded(), bytes: 0 });
        if let Some(old) = b.entries.put(url.to_string(), entry) {
            b.bytes -= old.weight(url);
        }
        b.bytes += w;
        while b.bytes > self.budget {
            match b.entries.pop_lru() {
                Some((k, v)) => b.bytes -= v.weight(&k),
                None => break,
            }
        }
    }

    pub fn remove(&self, installation: &str, url: &str) {
        let mut map = self.by_installation.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = map.get_mut(installation) {
            if let Some(old) = b.entries.pop(url) {
                b.bytes -= old.weight(url);
            }
        }
    }

    /// (entries, bytes) held for an installation.
    pub fn usage(&self, installation: &str) -> (usize, usize) {
        let map = self.by_installation.lock().unwrap_or_else(|e| e.into_inner());
        map.get(installation).map(|b| (b.entries.len(), b.bytes)).unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &str) -> Cached {
        Cached { etag: "W/\"e\"".into(), body: Arc::from(body) }
    }

    #[test]
    fn hit_miss_and_replace() {
        let c = ConditionalCache::new(10_000);
        assert_eq!(c.get("org", "/a"), None);
        c.put("org", "/a", entry("one"));
        assert_eq!(c.get("org", "/a").unwrap().body.as_ref(), "one");
        assert_eq!(c.get("other", "/a"), None, "installations do not share entries");
        c.put("org", "/a", entry("two"));
        assert_eq!(c.get("org", "/a").unwrap().body.as_ref(), "two");
        assert_eq!(c.usage("org").0, 1);
        c.remove("org", "/a");
        assert_eq!(c.usage("org"), (0, 0));
    }

    #[test]
    fn bounded_by_bytes_least_recently_used_first() {
        let body = "x".repeat(1000);
        let one = entry(&body).weight("/0");
        let c = ConditionalCache::new(one * 3);
        for i in 0..3 {
            c.put("org", &format!("/{i}"), entry(&body));
        }
        assert_eq!(c.usage("org").0, 3);
        c.get("org", "/0"); // /1 is now the least recently used
        c.put("org", "/3", entry(&body));
        assert!(c.get("org", "/1").is_none(), "evicted");
        assert!(c.get("org", "/0").is_some() && c.get("org", "/2").is_some() && c.get("org", "/3").is_some());
        assert!(c.usage("org").1 <= one * 3);
        // An answer bigger than the budget is not kept (and evicts nothing).
        c.put("org", "/big", entry(&"y".repeat(one * 4)));
        assert!(c.get("org", "/big").is_none());
        assert_eq!(c.usage("org").0, 3);
        // Budget 0: off.
        let off = ConditionalCache::new(0);
        off.put("org", "/a", entry("a"));
        assert_eq!(off.get("org", "/a"), None);
    }
}

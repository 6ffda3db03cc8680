//! API keys and POS definitions kept in memory for the sale, checked by the settings
//! epoch (`Store::settings_epoch`).
//!
//! A sale used to read its API key and its company's POS definitions before anything
//! else: two round trips a sale for rows that change a few times a year. Both are now
//! kept here, each labelled with the epoch read before it (or with it, in one
//! statement), and a sale trusts what it took from here only when the epoch its decline
//! counts bring (the same statement, so no round trip more) is still that label. Every
//! change to a key or a POS adds one to the epoch in its own transaction, so a revoked
//! key or a changed POS acts on the next sale of every instance, as when both were read
//! each time; when the label is old, the sale reads them again and uses what it read.
//!
//! Only the API's sale path takes keys from here; every other route reads its key from
//! the database as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sanalpos_store::PosRecord;

use crate::types::ApiCaller;

/// More entries than this and the cache starts over (keys and POS of many companies
/// are read again, nothing else happens).
const MOST_ENTRIES: usize = 10_000;

/// A key as the sale needs it: whose it is, and the hash to compare a presented key
/// with.
#[derive(Debug, Clone)]
pub(crate) struct KeptKey {
    pub(crate) caller: ApiCaller,
    pub(crate) key_hash: String,
}

#[derive(Default)]
struct Kept {
    /// The epoch every entry below was read after; `None` before the first.
    epoch: Option<i64>,
    /// Unrevoked keys by lookup prefix.
    keys: HashMap<String, KeptKey>,
    /// Each company's POS definitions, as `Store::list_pos` orders them.
    pos: HashMap<String, Arc<Vec<PosRecord>>>,
}

impl Kept {
    /// Whether an entry read after `label` may be kept: drops everything older when
    /// the label is newer.
    fn admits(&mut self, label: i64) -> bool {
        match self.epoch {
            Some(epoch) if epoch == label => self.keys.len() + self.pos.len() < MOST_ENTRIES,
            Some(epoch) if epoch > label => false,
            _ => {
                self.start_over(label);
                true
            }
        }
    }

    fn start_over(&mut self, epoch: i64) {
        self.epoch = Some(epoch);
        self.keys.clear();
        self.pos.clear();
    }
}

/// The kept keys and POS definitions of one instance.
#[derive(Default)]
pub(crate) struct SettingsCache {
    kept: Mutex<Kept>,
}

impl SettingsCache {
    /// A kept key and its label.
    pub(crate) fn key(&self, prefix: &str) -> Option<(KeptKey, i64)> {
        let kept = self.kept.lock().ok()?;
        Some((kept.keys.get(prefix)?.clone(), kept.epoch?))
    }

    /// A company's kept POS definitions and their label.
    pub(crate) fn pos(&self, company_id: &str) -> Option<(Arc<Vec<PosRecord>>, i64)> {
        let kept = self.kept.lock().ok()?;
        Some((kept.pos.get(company_id)?.clone(), kept.epoch?))
    }

    /// Keeps an unrevoked key read after the epoch was `label`.
    pub(crate) fn keep_key(&self, prefix: &str, key: KeptKey, label: i64) {
        if let Ok(mut kept) = self.kept.lock() {
            if kept.admits(label) {
                kept.keys.insert(prefix.to_owned(), key);
            }
        }
    }

    /// Keeps a company's POS definitions read after the epoch was `label`.
    pub(crate) fn keep_pos(&self, company_id: &str, all: Arc<Vec<PosRecord>>, label: i64) {
        if let Ok(mut kept) = self.kept.lock() {
            if kept.admits(label) {
                kept.pos.insert(company_id.to_owned(), all);
            }
        }
    }

    /// The epoch as a statement just read it: everything kept under another label goes.
    pub(crate) fn saw(&self, epoch: i64) {
        if let Ok(mut kept) = self.kept.lock() {
            if kept.epoch != Some(epoch) {
                kept.start_over(epoch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(company: &str) -> KeptKey {
        KeptKey {
            caller: ApiCaller {
                company_id: company.into(),
                key_id: format!("key_{company}"),
            },
            key_hash: "h".into(),
        }
    }

    #[test]
    fn entries_live_while_the_epoch_stays() {
        let cache = SettingsCache::default();
        assert!(cache.key("sk_a").is_none());
        cache.keep_key("sk_a", key("a"), 4);
        cache.keep_pos("a", Arc::new(Vec::new()), 4);
        assert_eq!(
            cache.key("sk_a").map(|(k, l)| (k.caller.company_id, l)),
            Some(("a".into(), 4))
        );
        assert_eq!(cache.pos("a").map(|(_, l)| l), Some(4));
        cache.saw(4);
        assert!(cache.key("sk_a").is_some());
        // A change anywhere: everything goes.
        cache.saw(5);
        assert!(cache.key("sk_a").is_none());
        assert!(cache.pos("a").is_none());
    }

    #[test]
    fn an_entry_read_before_a_newer_label_is_not_kept() {
        let cache = SettingsCache::default();
        cache.keep_key("sk_b", key("b"), 7);
        // Read after epoch 6 by a request that started before the change to 7.
        cache.keep_key("sk_a", key("a"), 6);
        assert!(cache.key("sk_a").is_none());
        assert!(cache.key("sk_b").is_some());
        // A newer label starts over.
        cache.keep_key("sk_c", key("c"), 8);
        assert!(cache.key("sk_b").is_none());
        assert_eq!(cache.key("sk_c").map(|(_, l)| l), Some(8));
    }

    #[test]
    fn a_full_cache_keeps_nothing_more_until_it_starts_over() {
        let cache = SettingsCache::default();
        for n in 0..MOST_ENTRIES {
            cache.keep_key(&format!("sk_{n}"), key("a"), 1);
        }
        cache.keep_key("sk_more", key("a"), 1);
        assert!(cache.key("sk_more").is_none());
        assert!(cache.key("sk_0").is_some());
        cache.saw(2);
        cache.keep_key("sk_more", key("a"), 2);
        assert!(cache.key("sk_more").is_some());
    }
}

//! The matching engine: groups every payment and every provider row into decision
//! units, key by key, with hash indexes and no nested loops over rows.
//!
//! Order of the keys, strongest first:
//! 1. the provider's reference: every sale row and every payment carrying reference R
//!    form one group (two rows or two payments there make it a duplicate);
//! 2. auth code + amount + date window, for what is left;
//! 3. our client reference, for what is left;
//! 4. amount + card last four + date window: only a proposal, never a match.
//!
//! Cancels and refunds join their sale's group afterwards (by the sale reference,
//! their own reference when the provider repeats the sale's, or the client reference).
//! Where a weak key offers several candidates the engine walks rows and candidates in
//! a canonical order, so shuffling the input changes nothing.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;

use sanalpos_core::{Kurus, ProviderRef};

use crate::classify::{classify, row_cmp};
use crate::model::{
    within, Class, Item, MatchKey, Money, Options, OurPayment, Reconciliation, Summary,
};
use crate::row::{ProviderRow, RowKind, RowState};

const NONE: u32 = u32::MAX;

/// A multimap from a key to input indexes, without one allocation per key: the first
/// index in a hash map, the rest chained through one array.
struct Chains<K> {
    head: HashMap<K, u32>,
    next: Vec<u32>,
}

impl<K: Hash + Eq> Chains<K> {
    /// For indexes below `len`, about `keys` distinct keys.
    fn new(len: usize, keys: usize) -> Chains<K> {
        Chains {
            head: HashMap::with_capacity(keys),
            next: vec![NONE; len],
        }
    }

    fn insert(&mut self, key: K, index: u32) {
        let slot = self.head.entry(key).or_insert(NONE);
        self.next[index as usize] = *slot;
        *slot = index;
    }

    fn get(&self, key: &K) -> ChainIter<'_> {
        ChainIter {
            next: &self.next,
            at: self.head.get(key).copied().unwrap_or(NONE),
        }
    }
}

struct ChainIter<'a> {
    next: &'a [u32],
    at: u32,
}

impl Iterator for ChainIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        (self.at != NONE).then(|| {
            let here = self.at;
            self.at = self.next[here as usize];
            here
        })
    }
}

/// A decision unit before classification.
#[derive(Default)]
pub(crate) struct Group {
    pub(crate) sales: Vec<u32>,
    pub(crate) reversals: Vec<u32>,
    pub(crate) payments: Vec<u32>,
    pub(crate) key: Option<MatchKey>,
    pub(crate) proposal: Option<u32>,
}

fn idx(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NONE)
}

/// Matches our payments of a period with the provider's rows and classifies every one
/// of them. Pure: the same input, in any order, gives the same result.
///
/// Items refer to payments and rows by their index in `ours` and `theirs`. Inputs of
/// more than `u32::MAX - 1` rows are not supported.
pub fn reconcile(ours: &[OurPayment], theirs: &[ProviderRow], options: &Options) -> Reconciliation {
    let mut groups: Vec<Group> = Vec::with_capacity(ours.len().max(theirs.len()));
    let mut payment_group = vec![NONE; ours.len()];

    // Key 1: the provider's reference.
    let mut pay_by_ref: Chains<&str> = Chains::new(ours.len(), ours.len());
    for (i, p) in ours.iter().enumerate() {
        if let Some(r) = &p.provider_ref {
            pay_by_ref.insert(r.as_str(), idx(i));
        }
    }
    let mut sale_by_ref: Chains<&str> = Chains::new(theirs.len(), theirs.len());
    let mut loose_rows: Vec<(u32, u32)> = Vec::new(); // (row, group or NONE)
    let mut reversals: Vec<u32> = Vec::new();
    for (i, row) in theirs.iter().enumerate() {
        match (&row.provider_ref, row.kind) {
            (_, kind) if kind.is_reversal() => reversals.push(idx(i)),
            (Some(r), _) => sale_by_ref.insert(r.as_str(), idx(i)),
            (None, _) => loose_rows.push((idx(i), NONE)),
        }
    }
    // Groups are made in row order, which keeps memory access close to sequential.
    let mut row_group = vec![NONE; theirs.len()];
    for (i, row) in theirs.iter().enumerate() {
        let Some(reference) = row
            .provider_ref
            .as_ref()
            .filter(|_| !row.kind.is_reversal())
        else {
            continue;
        };
        if row_group[i] != NONE {
            continue;
        }
        let g = idx(groups.len());
        let reference = reference.as_str();
        let sales: Vec<u32> = sale_by_ref.get(&reference).collect();
        let payments: Vec<u32> = pay_by_ref.get(&reference).collect();
        for s in &sales {
            row_group[*s as usize] = g;
        }
        for p in &payments {
            payment_group[*p as usize] = g;
        }
        if payments.is_empty() && sales.len() == 1 {
            loose_rows.push((sales[0], g));
        }
        let key = (!payments.is_empty()).then_some(MatchKey::ProviderRef);
        groups.push(Group {
            sales,
            payments,
            key,
            ..Group::default()
        });
    }
    // Payments sharing a reference no row has: still duplicates of each other.
    for (p, payment) in ours.iter().enumerate() {
        let Some(reference) = &payment.provider_ref else {
            continue;
        };
        if payment_group[p] != NONE {
            continue;
        }
        let payments: Vec<u32> = pay_by_ref.get(&reference.as_str()).collect();
        if payments.len() > 1 {
            let g = idx(groups.len());
            for p in &payments {
                payment_group[*p as usize] = g;
            }
            groups.push(Group {
                payments,
                ..Group::default()
            });
        }
    }

    // Keys 2 and 3, for rows and payments still alone.
    let loose_payments: Vec<u32> = (0..ours.len())
        .filter(|p| payment_group[*p] == NONE)
        .map(idx)
        .collect();
    let mut by_auth: Chains<(&str, Kurus)> = Chains::new(ours.len(), loose_payments.len());
    let mut by_client: Chains<&str> = Chains::new(ours.len(), loose_payments.len());
    for p in &loose_payments {
        let payment = &ours[*p as usize];
        if let Some(code) = &payment.auth_code {
            by_auth.insert((code.as_str(), payment.amount), *p);
        }
        if let Some(client) = &payment.client_ref {
            by_client.insert(client.as_str(), *p);
        }
    }
    loose_rows.sort_unstable_by(|a, b| row_cmp(&theirs[a.0 as usize], &theirs[b.0 as usize]));
    let free = |p: &u32, payment_group: &[u32]| payment_group[*p as usize] == NONE;
    let first_by_id = |a: &u32, b: &u32| ours[*a as usize].id.cmp(&ours[*b as usize].id);
    let mut row_only: Vec<u32> = Vec::new();
    for (r, g) in loose_rows {
        let row = &theirs[r as usize];
        let by_code = match (&row.auth_code, row.time) {
            (Some(code), Some(time)) => by_auth
                .get(&(code.as_str(), row.amount))
                .filter(|p| free(p, &payment_group))
                .filter(|p| {
                    within(
                        time.date(),
                        ours[*p as usize].business_date,
                        options.date_window_days,
                    )
                })
                .min_by(first_by_id)
                .map(|p| (p, MatchKey::AuthCode)),
            _ => None,
        };
        let found = by_code.or_else(|| {
            row.client_ref.as_deref().and_then(|client| {
                by_client
                    .get(&client)
                    .filter(|p| free(p, &payment_group))
                    .min_by(first_by_id)
                    .map(|p| (p, MatchKey::ClientRef))
            })
        });
        let g = if g == NONE {
            groups.push(Group {
                sales: vec![r],
                ..Group::default()
            });
            row_group[r as usize] = idx(groups.len() - 1);
            idx(groups.len() - 1)
        } else {
            g
        };
        match found {
            Some((p, key)) => {
                payment_group[p as usize] = g;
                groups[g as usize].payments.push(p);
                groups[g as usize].key = Some(key);
            }
            None => row_only.push(g),
        }
    }
    let mut alone: Chains<(Kurus, &str)> = Chains::new(ours.len(), loose_payments.len());
    for p in loose_payments {
        if payment_group[p as usize] == NONE {
            payment_group[p as usize] = idx(groups.len());
            groups.push(Group {
                payments: vec![p],
                ..Group::default()
            });
            let payment = &ours[p as usize];
            if let (Some(last4), false) =
                (&payment.last4, payment.status.money() == Money::NotCharged)
            {
                alone.insert((payment.amount, last4.as_str()), p);
            }
        }
    }

    // Key 4: a proposal for a person, never a match.
    for g in row_only {
        let group = &mut groups[g as usize];
        let row = &theirs[group.sales[0] as usize];
        if row.status != RowState::Success {
            continue;
        }
        if let (Some(pan), Some(time)) = (&row.masked_pan, row.time) {
            group.proposal = alone
                .get(&(row.amount, pan.last4()))
                .filter(|p| {
                    within(
                        time.date(),
                        ours[*p as usize].business_date,
                        options.date_window_days,
                    )
                })
                .min_by(first_by_id);
        }
    }

    let found = Found {
        pay_by_ref: &pay_by_ref,
        sale_by_ref: &sale_by_ref,
        payment_group: &payment_group,
        row_group: &row_group,
    };
    link_reversals(ours, theirs, &reversals, &found, &mut groups);
    finish(ours, theirs, groups, options)
}

/// The indexes the first pass built, reused to link cancels and refunds.
struct Found<'a> {
    pay_by_ref: &'a Chains<&'a str>,
    sale_by_ref: &'a Chains<&'a str>,
    payment_group: &'a [u32],
    row_group: &'a [u32],
}

/// Puts every cancel and refund row into its sale's group, or into a group of its own
/// when no sale is found on either side. Only the client references the reversals ask
/// for are indexed, so a day with few refunds costs little.
fn link_reversals(
    ours: &[OurPayment],
    theirs: &[ProviderRow],
    reversals: &[u32],
    found: &Found<'_>,
    groups: &mut Vec<Group>,
) {
    if reversals.is_empty() {
        return;
    }
    // Client reference to (sale row group, payment group): the smallest sale row
    // (sales we have first, then canonical order) or payment (by id) wins, so the
    // choice does not depend on input order.
    let mut wanted: HashMap<&str, (u32, u32)> = reversals
        .iter()
        .filter_map(|r| theirs[*r as usize].client_ref.as_deref())
        .map(|c| (c, (NONE, NONE)))
        .collect();
    for (i, row) in theirs.iter().enumerate() {
        let Some(slot) = row
            .client_ref
            .as_deref()
            .filter(|_| !row.kind.is_reversal())
            .and_then(|c| wanted.get_mut(c))
        else {
            continue;
        };
        let g = found.row_group[i];
        if slot.0 == NONE {
            slot.0 = g;
            continue;
        }
        let held = &groups[slot.0 as usize];
        let order = held
            .payments
            .is_empty()
            .cmp(&groups[g as usize].payments.is_empty())
            .reverse()
            .then_with(|| row_cmp(row, &theirs[held.sales[0] as usize]));
        if order == Ordering::Less {
            slot.0 = g;
        }
    }
    let mut best_payment: HashMap<&str, &str> = HashMap::new();
    for (p, payment) in ours.iter().enumerate() {
        let Some(client) = payment.client_ref.as_deref() else {
            continue;
        };
        let Some(slot) = wanted.get_mut(client) else {
            continue;
        };
        let best = best_payment.entry(client).or_insert(payment.id.as_str());
        if slot.1 == NONE || payment.id.as_str() <= *best {
            *best = payment.id.as_str();
            slot.1 = found.payment_group[p];
        }
    }
    for r in reversals {
        let row = &theirs[*r as usize];
        let by_ref = |reference: Option<&ProviderRef>| {
            let reference = reference?.as_str();
            let sale = found.sale_by_ref.get(&reference).next();
            match sale {
                Some(s) => Some(found.row_group[s as usize]),
                None => found
                    .pay_by_ref
                    .get(&reference)
                    .next()
                    .map(|p| found.payment_group[p as usize]),
            }
        };
        let by_client = row
            .client_ref
            .as_deref()
            .and_then(|c| wanted.get(c))
            .and_then(|(sale, pay)| [*sale, *pay].into_iter().find(|g| *g != NONE));
        let target = by_ref(row.sale_ref.as_ref())
            .or_else(|| by_ref(row.provider_ref.as_ref()))
            .or(by_client);
        match target {
            Some(g) => groups[g as usize].reversals.push(*r),
            None => groups.push(Group {
                reversals: vec![*r],
                ..Group::default()
            }),
        }
    }
}

/// Classifies every group, orders the items and sums the classes.
fn finish(
    ours: &[OurPayment],
    theirs: &[ProviderRow],
    groups: Vec<Group>,
    options: &Options,
) -> Reconciliation {
    let items: Vec<_> = groups
        .into_iter()
        .map(|g| classify(g, ours, theirs, options))
        .collect();
    // Sort by (class, first payment id, first row); the first 16 bytes of the id or the
    // reference ride in the key, so most comparisons never leave the key array.
    let full = |a: &Item, b: &Item| {
        a.class.cmp(&b.class).then_with(|| {
            let pa = a.payments.first().map(|p| ours[*p as usize].id.as_str());
            let pb = b.payments.first().map(|p| ours[*p as usize].id.as_str());
            pa.cmp(&pb)
                .then_with(|| match (a.rows.first(), b.rows.first()) {
                    (Some(x), Some(y)) => row_cmp(&theirs[*x as usize], &theirs[*y as usize]),
                    (x, y) => x.is_some().cmp(&y.is_some()),
                })
        })
    };
    let mut keys: Vec<(Class, bool, u128, u32)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let (has_payment, text) = match item.payments.first() {
                Some(p) => (true, ours[*p as usize].id.as_str()),
                None => (
                    false,
                    item.rows
                        .first()
                        .and_then(|r| theirs[*r as usize].provider_ref.as_ref())
                        .map_or("", |r| r.as_str()),
                ),
            };
            (item.class, has_payment, prefix(text), idx(i))
        })
        .collect();
    keys.sort_unstable_by(|a, b| {
        // `None < Some` for the payment id, as in `full`.
        (a.0, a.1, a.2)
            .cmp(&(b.0, b.1, b.2))
            .then_with(|| full(&items[a.3 as usize], &items[b.3 as usize]))
    });
    let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    let items: Vec<Item> = keys
        .iter()
        .filter_map(|k| slots[k.3 as usize].take())
        .collect();
    drop(slots);
    let mut summary = Summary::default();
    for item in &items {
        let t = summary.get_mut(item.class);
        t.count += 1;
        t.ours = t.ours + item.ours;
        t.theirs = t.theirs + item.theirs;
        t.ours_reversed = t.ours_reversed + item.ours_reversed;
        t.theirs_reversed = t.theirs_reversed + item.theirs_reversed;
        for flag in &item.flags {
            match flag {
                crate::model::Flag::Commission { .. } => t.commission_flags += 1,
                crate::model::Flag::ValueDate { .. } => t.value_date_flags += 1,
            }
        }
    }
    for class in Class::ALL {
        let t = summary.get_mut(class);
        t.difference.0 = i128::from(t.theirs.minor()) - i128::from(t.ours.minor());
    }
    Reconciliation { items, summary }
}

/// The first 16 bytes of a text, big-endian, zero-padded: compares like the text's
/// prefix (a shorter text sorts first when the prefixes tie, as with `str`, because the
/// full comparison then decides).
fn prefix(text: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let n = text.len().min(16);
    bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
    u128::from_be_bytes(bytes)
}

/// Whether a row's kind is a refund (full or partial).
pub(crate) fn is_refund(kind: RowKind) -> bool {
    matches!(kind, RowKind::Refund | RowKind::PartialRefund)
}

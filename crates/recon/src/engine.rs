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
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use sanalpos_core::{Kurus, ProviderRef};

use crate::classify::{check_pair, row_cmp, totals, verdict, Members};
use crate::model::{
    within, Class, Flag, Item, Last4, MatchKey, Money, Options, OurPayment, Reconciliation, Summary,
};
use crate::row::{ProviderRow, RowKind, RowState};

const NONE: u32 = u32::MAX;

/// Hash maps keyed by borrowed text: FxHash, not SipHash. The keys come from the
/// caller's own data, not from an attacker racing the table, and the engine hashes a
/// few million keys per run.
type Map<K, V> = HashMap<K, V, FxBuildHasher>;

fn map<K, V>(capacity: usize) -> Map<K, V> {
    Map::with_capacity_and_hasher(capacity, FxBuildHasher)
}

/// A text's hash as the engine's narrow arrays hold it, 4 bytes. The hash only finds
/// candidates: two texts are one key when their hashes are equal and then their texts
/// too, so a collision costs a comparison, never a wrong match.
fn text_hash(text: &str) -> u32 {
    let hash = FxBuildHasher.hash_one(text);
    ((hash >> 32) as u32 ^ hash as u32).max(1)
}

/// No text, in a narrow array of hashes (`text_hash` never gives it).
const NO_HASH: u32 = 0;

/// A narrow hash spread over the 64 bits a table takes: its low bits pick a slot, its
/// high ones are kept as a tag, and `TABLE_BIT` picks a table.
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Sale rows by their provider reference: tables of the first row index of each
/// reference, 4 bytes a slot, found by the reference's hash kept in a narrow array beside
/// the rows, and confirmed by the reference read from the row only when the two hashes are
/// equal (the rows are wide, and reading them is most of matching's time). References
/// are split between two tables by one bit of their hash, so that two threads fill them
/// at once.
struct SaleRefs<'a> {
    theirs: &'a [ProviderRow],
    hashes: &'a [u32],
    tables: [HashTable<u32>; 2],
}

/// The bit of a reference's hash that picks its table: neither among the low bits that
/// pick a slot nor among the high ones the table keeps as a tag.
const TABLE_BIT: u32 = 40;

impl<'a> SaleRefs<'a> {
    /// Both tables, filled in row order on two threads; and the sale rows that are not
    /// the first of their reference, each with that first row, in row order.
    fn build(theirs: &'a [ProviderRow], hashes: &'a [u32]) -> (SaleRefs<'a>, Vec<(u32, u32)>) {
        let fill = |part: usize, mut table: HashTable<u32>| {
            let mut repeated = Vec::new();
            for (i, hash) in hashes.iter().enumerate() {
                if *hash == NO_HASH || Self::table_of(*hash) != part {
                    continue;
                }
                let i = idx(i);
                let first = *table
                    .entry(
                        spread(*hash),
                        |r| {
                            hashes[*r as usize] == *hash
                                && Self::reference(theirs, *r) == Self::reference(theirs, i)
                        },
                        |r| spread(hashes[*r as usize]),
                    )
                    .or_insert(i)
                    .get();
                if first != i {
                    repeated.push((i, first));
                }
            }
            (table, repeated)
        };
        // Both made here rather than on their threads: a block that a spawned thread
        // makes comes from that thread's own heap, and stays resident there once freed.
        let table = || HashTable::with_capacity(hashes.len() / 2 + hashes.len() / 16);
        let (low, high) = (table(), table());
        let ((low, mut repeated), (high, repeated_high)) = std::thread::scope(|s| {
            let high = s.spawn(|| fill(1, high));
            (fill(0, low), join(high))
        });
        repeated.extend(repeated_high);
        repeated.sort_unstable();
        let refs = SaleRefs {
            theirs,
            hashes,
            tables: [low, high],
        };
        (refs, repeated)
    }

    fn table_of(hash: u32) -> usize {
        usize::from(spread(hash) >> TABLE_BIT & 1 == 1)
    }

    /// The reference of a row in the table (only rows with one get in).
    fn reference(theirs: &[ProviderRow], row: u32) -> &str {
        theirs[row as usize]
            .provider_ref
            .as_ref()
            .map_or("", |r| r.as_str())
    }

    /// The first sale row with `reference`, whose hash is `hash`, if any.
    fn get(&self, hash: u32, reference: &str) -> Option<u32> {
        self.tables[Self::table_of(hash)]
            .find(spread(hash), |r| {
                self.hashes[*r as usize] == hash && Self::reference(self.theirs, *r) == reference
            })
            .copied()
    }
}

/// What grouping needs of the provider's rows, read in one pass on two threads.
struct RowScan {
    /// Per row: the hash of a sale row's provider reference, or `NO_HASH`.
    sale: Vec<u32>,
    /// Per row: the hash of a sale row's client reference, or `NO_HASH`.
    client: Vec<u32>,
    /// Cancels and refunds, in row order.
    reversals: Vec<u32>,
    /// Sale rows without a provider reference, in row order.
    unreferenced: Vec<u32>,
}

fn scan_rows<H: Fn(&str) -> u32 + Sync>(theirs: &[ProviderRow], hash: &H) -> RowScan {
    let mut sale = vec![NO_HASH; theirs.len()];
    let mut client = vec![NO_HASH; theirs.len()];
    let part = |base: usize, rows: &[ProviderRow], sale: &mut [u32], client: &mut [u32]| {
        let (mut reversals, mut unreferenced) = (Vec::new(), Vec::new());
        for (k, row) in rows.iter().enumerate() {
            if row.kind.is_reversal() {
                reversals.push(idx(base + k));
                continue;
            }
            match &row.provider_ref {
                Some(reference) => sale[k] = hash(reference.as_str()),
                None => unreferenced.push(idx(base + k)),
            }
            if let Some(c) = &row.client_ref {
                client[k] = hash(c.as_str());
            }
        }
        (reversals, unreferenced)
    };
    let mid = theirs.len() / 2;
    let (sale_low, sale_high) = sale.split_at_mut(mid);
    let (client_low, client_high) = client.split_at_mut(mid);
    let ((mut reversals, mut unreferenced), (reversals_high, unreferenced_high)) =
        std::thread::scope(|s| {
            let high = s.spawn(|| part(mid, &theirs[mid..], sale_high, client_high));
            (part(0, &theirs[..mid], sale_low, client_low), join(high))
        });
    reversals.extend(reversals_high);
    unreferenced.extend(unreferenced_high);
    RowScan {
        sale,
        client,
        reversals,
        unreferenced,
    }
}

/// The client references that cancels and refunds ask for: each a slot holding the sale
/// row group and the payment group found for it (`NONE` until found).
struct Wanted<'a> {
    /// (hash, client reference, slot).
    table: HashTable<(u32, &'a str, u32)>,
    /// Per slot: (sale row group, payment group).
    slots: Vec<(u32, u32)>,
}

impl<'a> Wanted<'a> {
    fn new<H: Fn(&str) -> u32>(
        theirs: &'a [ProviderRow],
        reversals: &[u32],
        hash: &H,
    ) -> Wanted<'a> {
        let mut table = HashTable::with_capacity(reversals.len());
        let mut slots = Vec::new();
        for r in reversals {
            let Some(client) = theirs[*r as usize].client_ref.as_deref() else {
                continue;
            };
            let h = hash(client);
            table
                .entry(
                    spread(h),
                    |e: &(u32, &str, u32)| e.0 == h && e.1 == client,
                    |e| spread(e.0),
                )
                .or_insert_with(|| {
                    slots.push((NONE, NONE));
                    (h, client, idx(slots.len() - 1))
                });
        }
        Wanted { table, slots }
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The slot of a client reference whose hash is `hash`; `text` gives the reference,
    /// and is asked for only to confirm a hash.
    fn slot<'t>(&self, hash: u32, text: impl Fn() -> &'t str) -> Option<u32> {
        self.table
            .find(spread(hash), |e| e.0 == hash && e.1 == text())
            .map(|e| e.2)
    }
}

/// What grouping needs of our payments, read in one pass on two threads, besides the
/// first sale row of each payment's provider reference (written where its group goes).
struct PaymentScan {
    /// Payments with a provider reference that no sale row has, in payment order.
    unmatched: Vec<u32>,
    /// Payments with a client reference that a cancel or refund asks for, and its slot,
    /// in payment order.
    asking: Vec<(u32, u32)>,
}

/// Writes to `sale_row`, per payment, the first sale row with the payment's provider
/// reference, or leaves it.
fn scan_payments<H: Fn(&str) -> u32 + Sync>(
    ours: &[OurPayment],
    (sale_by_ref, sale_row): (&SaleRefs<'_>, &mut [u32]),
    wanted: &Wanted<'_>,
    hash: &H,
) -> PaymentScan {
    let part = |base: usize, pays: &[OurPayment], sale_row: &mut [u32]| {
        let (mut unmatched, mut asking) = (Vec::new(), Vec::new());
        for (k, payment) in pays.iter().enumerate() {
            if let Some(reference) = &payment.provider_ref {
                let reference = reference.as_str();
                match sale_by_ref.get(hash(reference), reference) {
                    Some(row) => sale_row[k] = row,
                    None => unmatched.push(idx(base + k)),
                }
            }
            if wanted.is_empty() {
                continue;
            }
            if let Some(client) = payment.client_ref.as_deref() {
                if let Some(slot) = wanted.slot(hash(client), || client) {
                    asking.push((idx(base + k), slot));
                }
            }
        }
        (unmatched, asking)
    };
    let mid = ours.len() / 2;
    let (low, high) = sale_row.split_at_mut(mid);
    let ((mut unmatched, mut asking), (unmatched_high, asking_high)) = std::thread::scope(|s| {
        let high = s.spawn(|| part(mid, &ours[mid..], high));
        (part(0, &ours[..mid], low), join(high))
    });
    unmatched.extend(unmatched_high);
    asking.extend(asking_high);
    PaymentScan { unmatched, asking }
}

/// A multimap from a key to input indexes, without one allocation per key: the last
/// insert of each key in a hash map, each insert linked to the one before it under the
/// same key. It takes room for what is inserted only (a few loose payments of a million),
/// not for every input index.
struct Chains<K> {
    head: Map<K, u32>,
    /// Per insert: the index inserted, and the insert before it under its key or `NONE`.
    links: Vec<(u32, u32)>,
}

impl<K: Hash + Eq> Chains<K> {
    /// For about `keys` inserts.
    fn new(keys: usize) -> Chains<K> {
        Chains {
            head: map(keys),
            links: Vec::with_capacity(keys),
        }
    }

    fn insert(&mut self, key: K, index: u32) {
        let last = self.head.entry(key).or_insert(NONE);
        self.links.push((index, *last));
        *last = idx(self.links.len() - 1);
    }

    /// The indexes under `key`, the last inserted first.
    fn get(&self, key: &K) -> ChainIter<'_> {
        ChainIter {
            links: &self.links,
            at: self.head.get(key).copied().unwrap_or(NONE),
        }
    }
}

struct ChainIter<'a> {
    links: &'a [(u32, u32)],
    at: u32,
}

impl Iterator for ChainIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        (self.at != NONE).then(|| {
            let (index, before) = self.links[self.at as usize];
            self.at = before;
            index
        })
    }
}

/// A decision unit while grouping. Members are not stored here: every payment and
/// every row knows its group (`payment_group`, `row_group`), and the members are
/// gathered once, in one array per side, when grouping is done.
#[derive(Clone, Copy)]
struct Group {
    /// A sale row of the group (the last one of its reference in input order), or
    /// `NONE`.
    first_sale: u32,
    /// Sale rows so far.
    sales: u32,
    /// Payments so far.
    payments: u32,
    /// A proposal for a person, or `NONE`.
    proposal: u32,
    key: Option<MatchKey>,
}

impl Group {
    const EMPTY: Group = Group {
        first_sale: NONE,
        sales: 0,
        payments: 0,
        proposal: NONE,
        key: None,
    };
}

fn idx(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NONE)
}

fn new_group(groups: &mut Vec<Group>, group: Group) -> u32 {
    groups.push(group);
    idx(groups.len() - 1)
}

/// Matches our payments of a period with the provider's rows and classifies every one
/// of them. Pure: the same input, in any order, gives the same result.
///
/// Items refer to payments and rows by their index in `ours` and `theirs`. Inputs of
/// more than `u32::MAX - 1` rows are not supported.
pub fn reconcile(ours: &[OurPayment], theirs: &[ProviderRow], options: &Options) -> Reconciliation {
    reconcile_hashed(ours, theirs, options, &text_hash)
}

/// [`reconcile`] with the hash its tables use given, so that a test can make every
/// reference collide with others and see the same result.
fn reconcile_hashed<H: Fn(&str) -> u32 + Sync>(
    ours: &[OurPayment],
    theirs: &[ProviderRow],
    options: &Options,
    hash: &H,
) -> Reconciliation {
    let mut groups: Vec<Group> = Vec::with_capacity(ours.len().max(theirs.len()) + 16);
    let mut payment_group = vec![NONE; ours.len()];
    let mut row_group = vec![NONE; theirs.len()];

    // Key 1: the provider's reference. Every sale row with reference R and every
    // payment with R form one group, made in row order. The rows and the payments are
    // read once each, on two threads, into narrow arrays of hashes; grouping then works
    // on those.
    let RowScan {
        sale,
        client,
        reversals,
        unreferenced,
    } = scan_rows(theirs, hash);
    let mut wanted = Wanted::new(theirs, &reversals, hash);
    let (sale_by_ref, repeated) = SaleRefs::build(theirs, &sale);
    let mut repeated = repeated.into_iter().peekable();
    // Sale rows whose client reference a cancel or refund asks for, and its slot.
    let mut asking_rows: Vec<(u32, u32)> = Vec::new();
    for (i, (sale_hash, client_hash)) in sale.iter().zip(&client).enumerate() {
        if *client_hash != NO_HASH && !wanted.is_empty() {
            let text = || theirs[i].client_ref.as_deref().unwrap_or("");
            if let Some(slot) = wanted.slot(*client_hash, text) {
                asking_rows.push((idx(i), slot));
            }
        }
        if *sale_hash == NO_HASH {
            continue;
        }
        let g = match repeated.next_if(|(row, _)| *row == idx(i)) {
            Some((_, first)) => row_group[first as usize],
            None => new_group(&mut groups, Group::EMPTY),
        };
        row_group[i] = g;
        let group = &mut groups[g as usize];
        group.first_sale = idx(i);
        group.sales += 1;
    }
    drop(client);
    // Payments: into the group of their reference's sale rows. Payments sharing a
    // reference no row has are still duplicates of each other; one alone stays loose.
    // The scan writes each payment's first sale row where its group goes, and the
    // group replaces it.
    let pays = scan_payments(ours, (&sale_by_ref, &mut payment_group), &wanted, hash);
    for slot in &mut payment_group {
        if *slot == NONE {
            continue;
        }
        let g = row_group[*slot as usize];
        *slot = g;
        let group = &mut groups[g as usize];
        group.payments += 1;
        group.key = Some(MatchKey::ProviderRef);
    }
    // Reference to (first payment, its group or NONE). Only these payments make groups
    // at this step, in payment order, so the groups are numbered as if the payments had
    // been taken one by one.
    let mut pay_only: Map<&str, (u32, u32)> = map(0);
    for p in pays.unmatched.iter().copied() {
        let Some(reference) = &ours[p as usize].provider_ref else {
            continue;
        };
        let slot = pay_only.entry(reference.as_str()).or_insert((p, NONE));
        if slot.0 == p {
            continue;
        }
        if slot.1 == NONE {
            slot.1 = new_group(&mut groups, Group::EMPTY);
            payment_group[slot.0 as usize] = slot.1;
            groups[slot.1 as usize].payments += 1;
        }
        payment_group[p as usize] = slot.1;
        groups[slot.1 as usize].payments += 1;
    }
    let mut loose_rows: Vec<(u32, u32)> = unreferenced.iter().map(|r| (*r, NONE)).collect();
    for (g, group) in groups.iter().enumerate() {
        if group.sales == 1 && group.payments == 0 {
            loose_rows.push((group.first_sale, idx(g)));
        }
    }

    // Keys 2 and 3, for rows and payments still alone.
    let loose_payments: Vec<u32> = (0..ours.len())
        .filter(|p| payment_group[*p] == NONE)
        .map(idx)
        .collect();
    let mut by_auth: Chains<(&str, Kurus)> = Chains::new(loose_payments.len());
    let mut by_client: Chains<&str> = Chains::new(loose_payments.len());
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
            let g = new_group(
                &mut groups,
                Group {
                    first_sale: r,
                    sales: 1,
                    ..Group::EMPTY
                },
            );
            row_group[r as usize] = g;
            g
        } else {
            g
        };
        match found {
            Some((p, key)) => {
                payment_group[p as usize] = g;
                groups[g as usize].payments += 1;
                groups[g as usize].key = Some(key);
            }
            None => row_only.push(g),
        }
    }
    drop((by_auth, by_client));
    let mut alone: Chains<(Kurus, Last4)> = Chains::new(loose_payments.len());
    for p in loose_payments {
        if payment_group[p as usize] == NONE {
            payment_group[p as usize] = new_group(
                &mut groups,
                Group {
                    payments: 1,
                    ..Group::EMPTY
                },
            );
            let payment = &ours[p as usize];
            if let (Some(last4), false) =
                (&payment.last4, payment.status.money() == Money::NotCharged)
            {
                alone.insert((payment.amount, *last4), p);
            }
        }
    }

    // Key 4: a proposal for a person, never a match.
    for g in row_only {
        let group = &mut groups[g as usize];
        let row = &theirs[group.first_sale as usize];
        if row.status != RowState::Success {
            continue;
        }
        if let (Some(last4), Some(time)) = (
            row.masked_pan
                .as_ref()
                .and_then(|pan| Last4::of(pan.last4())),
            row.time,
        ) {
            group.proposal = alone
                .get(&(row.amount, last4))
                .filter(|p| {
                    within(
                        time.date(),
                        ours[*p as usize].business_date,
                        options.date_window_days,
                    )
                })
                .min_by(first_by_id)
                .unwrap_or(NONE);
        }
    }
    drop(alone);

    let found = Found {
        pay_only: &pay_only,
        sale_by_ref: &sale_by_ref,
        payment_group: &payment_group,
        hash,
    };
    let asking = Asking {
        rows: &asking_rows,
        payments: &pays.asking,
    };
    link_reversals(
        ours,
        theirs,
        &reversals,
        (&mut wanted, asking),
        &found,
        &mut row_group,
        &mut groups,
    );
    drop((sale_by_ref, pay_only, wanted, pays, reversals));
    drop(sale);
    finish(ours, theirs, groups, payment_group, row_group, options)
}

/// The indexes the first pass built, reused to link cancels and refunds, and the hash
/// they were built with.
struct Found<'a, H> {
    pay_only: &'a Map<&'a str, (u32, u32)>,
    sale_by_ref: &'a SaleRefs<'a>,
    payment_group: &'a [u32],
    hash: &'a H,
}

/// The sale rows and the payments whose client reference a cancel or refund asks for,
/// each with its slot in [`Wanted`], in input order.
struct Asking<'a> {
    rows: &'a [(u32, u32)],
    payments: &'a [(u32, u32)],
}

/// Puts every cancel and refund row into its sale's group, or into a group of its own
/// when no sale is found on either side.
fn link_reversals<H: Fn(&str) -> u32>(
    ours: &[OurPayment],
    theirs: &[ProviderRow],
    reversals: &[u32],
    (wanted, asking): (&mut Wanted<'_>, Asking<'_>),
    found: &Found<'_, H>,
    row_group: &mut [u32],
    groups: &mut Vec<Group>,
) {
    let hash = found.hash;
    if reversals.is_empty() {
        return;
    }
    // For each client reference asked for: the smallest sale row (sales we have first,
    // then canonical order) and the payment with the smallest id win, so the choice does
    // not depend on input order.
    for (i, slot) in asking.rows {
        let row = &theirs[*i as usize];
        let g = row_group[*i as usize];
        let slot = &mut wanted.slots[*slot as usize];
        if slot.0 == NONE {
            slot.0 = g;
            continue;
        }
        let held = &groups[slot.0 as usize];
        let order = (held.payments == 0)
            .cmp(&(groups[g as usize].payments == 0))
            .reverse()
            .then_with(|| row_cmp(row, &theirs[held.first_sale as usize]));
        if order == Ordering::Less {
            slot.0 = g;
        }
    }
    let mut best_payment: Vec<Option<&str>> = vec![None; wanted.slots.len()];
    for (p, slot) in asking.payments {
        let id = ours[*p as usize].id.as_str();
        let best = best_payment[*slot as usize].get_or_insert(id);
        let slot = &mut wanted.slots[*slot as usize];
        if slot.1 == NONE || id <= *best {
            *best = id;
            slot.1 = found.payment_group[*p as usize];
        }
    }
    for r in reversals {
        let row = &theirs[*r as usize];
        let by_ref = |reference: Option<&ProviderRef>| {
            let reference = reference?.as_str();
            match found.sale_by_ref.get(hash(reference), reference) {
                Some(first) => Some(row_group[first as usize]),
                None => found
                    .pay_only
                    .get(reference)
                    .map(|(p, _)| found.payment_group[*p as usize]),
            }
        };
        let by_client = row
            .client_ref
            .as_deref()
            .and_then(|c| wanted.slot(hash(c), || c))
            .map(|slot| wanted.slots[slot as usize])
            .and_then(|(sale, pay)| [sale, pay].into_iter().find(|g| *g != NONE));
        let target = by_ref(row.sale_ref.as_deref())
            .or_else(|| by_ref(row.provider_ref.as_ref()))
            .or(by_client);
        row_group[*r as usize] = match target {
            Some(g) => g,
            None => new_group(groups, Group::EMPTY),
        };
    }
}

/// Members of every group, side by side: group `g`'s entries are
/// `members[start[g]..start[g + 1]]` (a counting sort by group).
struct Gathered {
    start: Vec<u32>,
    members: Vec<u32>,
}

impl Gathered {
    /// Room for the members of `groups` groups, `len` in all. Made by the thread that
    /// keeps it: a block that another thread makes comes from that thread's own heap, and
    /// stays resident there once freed, where this thread cannot reuse it.
    fn room(groups: usize, len: usize) -> Gathered {
        Gathered {
            start: vec![0; groups + 1],
            members: vec![0; len],
        }
    }

    /// A counting sort by group into the room, each group's members in input order. The
    /// members are placed from the last one back, each group's end moving down to its
    /// start, so that no third array of positions is needed.
    fn fill(mut self, group_of: &[u32]) -> Gathered {
        let groups = self.start.len() - 1;
        let start = &mut self.start;
        for g in group_of {
            start[*g as usize + 1] += 1;
        }
        // Now `start[g + 1]` is where group `g` ends.
        for g in 0..groups {
            start[g + 1] += start[g];
        }
        for (i, g) in group_of.iter().enumerate().rev() {
            let end = &mut start[*g as usize + 1];
            *end -= 1;
            self.members[*end as usize] = idx(i);
        }
        // Now `start[g + 1]` is where group `g` starts: one place down, and the total last.
        start.rotate_left(1);
        start[groups] = idx(group_of.len());
        self
    }

    fn range(&self, g: usize) -> std::ops::Range<usize> {
        self.start[g] as usize..self.start[g + 1] as usize
    }
}

/// Classifies every group, orders the items and sums the classes. Items are built
/// once, in their final order, straight into the result.
fn finish(
    ours: &[OurPayment],
    theirs: &[ProviderRow],
    groups: Vec<Group>,
    payment_group: Vec<u32>,
    row_group: Vec<u32>,
    options: &Options,
) -> Reconciliation {
    // What building an item needs of its group; the grouping arrays go before the
    // members are gathered and the items built, so they never sit beside the items.
    let mut picks: Vec<Pick> = groups
        .iter()
        .map(|g| Pick {
            proposal: g.proposal,
            key: g.key,
            flagged: false,
        })
        .collect();
    let group_count = groups.len();
    drop(groups);
    // The two sides' members, gathered on two threads.
    let (pays, rows) = (
        Gathered::room(group_count, payment_group.len()),
        Gathered::room(group_count, row_group.len()),
    );
    let (mut pays, mut rows) = std::thread::scope(|s| {
        let rows = s.spawn(|| rows.fill(&row_group));
        (pays.fill(&payment_group), join(rows))
    });
    drop((payment_group, row_group));
    // Canonical order inside each group: payments by id; sale rows, then cancels and
    // refunds, each in row order.
    let by_id = |a: &u32, b: &u32| ours[*a as usize].id.cmp(&ours[*b as usize].id);
    let by_row = |a: &u32, b: &u32| {
        let (x, y) = (&theirs[*a as usize], &theirs[*b as usize]);
        x.kind
            .is_reversal()
            .cmp(&y.kind.is_reversal())
            .then_with(|| row_cmp(x, y))
    };
    // The groups are judged in two halves on two threads (each half's members are
    // its own part of the member arrays), then put back together in group order.
    let mid = group_count / 2;
    let (pay_lo, pay_hi) = pays.members.split_at_mut(pays.start[mid] as usize);
    let (row_lo, row_hi) = rows.members.split_at_mut(rows.start[mid] as usize);
    // Judging a group also checks its pair against the commission table and adds its
    // amounts to the class totals, while its payments and rows are at hand: building
    // the items later then reads neither. The rare flags are kept apart, by group, and
    // the group's pick notes that it has some.
    let (picks_lo, picks_hi) = picks.split_at_mut(mid);
    let judge = |range: std::ops::Range<usize>,
                 (pay_members, row_members): (&mut [u32], &mut [u32]),
                 picks: &mut [Pick]| {
        let (pay_base, row_base) = (
            pays.start[range.start] as usize,
            rows.start[range.start] as usize,
        );
        let mut verdicts = Vec::with_capacity(range.len());
        let mut summary = Summary::default();
        let mut flagged: Vec<(u32, Box<[Flag]>)> = Vec::new();
        for (g, pick) in range.zip(picks) {
            let pr = pays.start[g] as usize - pay_base..pays.start[g + 1] as usize - pay_base;
            if pr.len() > 1 {
                pay_members[pr.clone()].sort_unstable_by(by_id);
            }
            let rr = rows.start[g] as usize - row_base..rows.start[g + 1] as usize - row_base;
            if rr.len() > 1 {
                row_members[rr.clone()].sort_unstable_by(by_row);
            }
            let m = Members::new(&pay_members[pr], &row_members[rr], theirs);
            let (class, reason) = verdict(&m, ours, theirs, options);
            let flags = check_pair(&m, class, ours, theirs);
            summary.add(class, &flags, totals(&m, ours, theirs));
            if !flags.is_empty() {
                pick.flagged = true;
                flagged.push((idx(g), flags));
            }
            verdicts.push((class, reason));
        }
        (verdicts, summary, flagged)
    };
    let ((mut verdicts, mut summary, mut flagged), (verdicts_hi, summary_hi, flagged_hi)) =
        std::thread::scope(|s| {
            let high = s.spawn(|| judge(mid..group_count, (pay_hi, row_hi), picks_hi));
            (judge(0..mid, (pay_lo, row_lo), picks_lo), join(high))
        });
    verdicts.extend(verdicts_hi);
    summary.merge(&summary_hi);
    flagged.extend(flagged_hi);
    // The sort keys, each class's array sized once from the verdicts (grown by
    // doubling, they would leave freed blocks behind that the items, built next, do not
    // fit in), then filled on two threads: each takes half of the groups, in group
    // order, into its own part of every class's array, the low half's part first, so the
    // arrays are what one pass in group order would fill.
    let mut counts = [[0usize; Class::ALL.len()]; 2];
    for (g, (class, _)) in verdicts.iter().enumerate() {
        counts[usize::from(g >= mid)][*class as usize] += 1;
    }
    let mut by_class: ClassKeys =
        std::array::from_fn(|c| vec![(false, 0, 0, 0); counts[0][c] + counts[1][c]]);
    let key = |g: usize| -> ClassKey {
        let (has_payment, text) = match pays.members[pays.range(g)].first() {
            Some(p) => (true, ours[*p as usize].id.as_str()),
            None => (
                false,
                rows.members[rows.range(g)]
                    .first()
                    .and_then(|r| theirs[*r as usize].provider_ref.as_ref())
                    .map_or("", |r| r.as_str()),
            ),
        };
        let (high, low) = prefix(text);
        (has_payment, high, low, idx(g))
    };
    let fill = |groups: std::ops::Range<usize>, mut parts: Vec<&mut [ClassKey]>| {
        let mut at = [0usize; Class::ALL.len()];
        for g in groups {
            let class = verdicts[g].0 as usize;
            parts[class][at[class]] = key(g);
            at[class] += 1;
        }
    };
    let (low, high): (Vec<&mut [ClassKey]>, Vec<&mut [ClassKey]>) = by_class
        .iter_mut()
        .zip(counts[0])
        .map(|(keys, n)| keys.split_at_mut(n))
        .unzip();
    std::thread::scope(|s| {
        let high = s.spawn(|| fill(mid..group_count, high));
        fill(0..mid, low);
        join(high);
    });
    // Sort by (class, first payment id, first row); the first 16 bytes of the id or the
    // reference ride in the key, so most comparisons never leave the key arrays.
    let full = |a: u32, b: u32| {
        let (pa, pb) = (pays.range(a as usize), pays.range(b as usize));
        let (ra, rb) = (rows.range(a as usize), rows.range(b as usize));
        let pa = pays.members[pa]
            .first()
            .map(|p| ours[*p as usize].id.as_str());
        let pb = pays.members[pb]
            .first()
            .map(|p| ours[*p as usize].id.as_str());
        pa.cmp(&pb).then_with(
            || match (rows.members[ra].first(), rows.members[rb].first()) {
                (Some(x), Some(y)) => row_cmp(&theirs[*x as usize], &theirs[*y as usize]),
                (x, y) => x.is_some().cmp(&y.is_some()),
            },
        )
    };
    // The class by bucket, then a stable sort inside each class: it finds the runs of
    // payments already in id order (our ids are usually made in order), which makes the
    // common case close to linear. `None < Some` for the payment id, as in `full`.
    let mut order: Vec<u32> = Vec::with_capacity(group_count);
    for mut keys in by_class {
        keys.sort_by(|a, b| {
            (a.0, a.1, a.2)
                .cmp(&(b.0, b.1, b.2))
                .then_with(|| full(a.3, b.3))
        });
        order.extend(keys.iter().map(|k| k.3));
    }
    // An item is put together from what judging left: its members, its verdict, its
    // pick and, rarely, its flags. No payment or row is read again.
    let build = |g: &u32| {
        let (pick, (class, reason)) = (picks[*g as usize], verdicts[*g as usize]);
        let g = *g as usize;
        let mut item = Item::new(
            class,
            reason,
            &pays.members[pays.range(g)],
            &rows.members[rows.range(g)],
        );
        item.key = pick.key;
        item.proposal =
            (pick.proposal != NONE && class == Class::ProviderOnly).then_some(pick.proposal);
        if pick.flagged {
            if let Ok(at) = flagged.binary_search_by_key(&idx(g), |(group, _)| *group) {
                item.flags = flagged[at].1.clone();
            }
        }
        item
    };
    // Built on two threads, a pair of pieces at a time: the first piece straight into
    // the result, the second beside it and then appended, so the order is kept and
    // only one piece (at most `ITEM_PIECE` items) is ever held apart.
    let piece = order.len().div_ceil(2).clamp(1, ITEM_PIECE);
    let mut items: Vec<Item> = Vec::with_capacity(order.len());
    for pair in order.chunks(2 * piece) {
        let (low, high) = pair.split_at(piece.min(pair.len()));
        let high = std::thread::scope(|s| {
            let high = s.spawn(|| high.iter().map(build).collect::<Vec<Item>>());
            items.extend(low.iter().map(build));
            join(high)
        });
        items.extend(high);
    }
    drop(order);
    for class in Class::ALL {
        let t = summary.get_mut(class);
        t.difference.0 = i128::from(t.theirs.minor()) - i128::from(t.ours.minor());
    }
    Reconciliation { items, summary }
}

/// What building a group's item needs of the group: 8 bytes instead of its 20.
#[derive(Clone, Copy)]
struct Pick {
    proposal: u32,
    key: Option<MatchKey>,
    /// The group's pair did not pass the commission table's checks (see `finish`).
    flagged: bool,
}

/// The most items one thread builds apart before they join the result.
const ITEM_PIECE: usize = 1 << 16;

/// Per class, in class order: (has a payment, first 16 bytes of the first payment id or
/// reference as two big-endian halves, group). Two `u64`s rather than one `u128`, which
/// is aligned to 16 bytes: an entry takes 24 bytes instead of 32, and a million of them
/// sit beside the members while they are sorted.
type ClassKeys = [Vec<ClassKey>; Class::ALL.len()];

/// One group's sort key in its class: see [`ClassKeys`].
type ClassKey = (bool, u64, u64, u32);

/// The result of a scoped thread; its panic goes on in the caller.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The first 16 bytes of a text, zero-padded, as two big-endian halves: the pair
/// compares like the text's prefix (a shorter text sorts first when the prefixes tie, as
/// with `str`, because the full comparison then decides).
fn prefix(text: &str) -> (u64, u64) {
    let mut bytes = [0u8; 16];
    let n = text.len().min(16);
    bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
    let whole = u128::from_be_bytes(bytes);
    ((whole >> 64) as u64, whole as u64)
}

/// Whether a row's kind is a refund (full or partial).
pub(crate) fn is_refund(kind: RowKind) -> bool {
    matches!(kind, RowKind::Refund | RowKind::PartialRefund)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::NaiveDate;
    use sanalpos_core::{AuthCode, Kurus, MaskedPan, ProviderRef};

    use super::{reconcile, reconcile_hashed, text_hash};
    use crate::model::{Last4, Options, OurPayment, PaymentStatus};
    use crate::row::{ProviderRow, RowKind, RowState};

    /// A small deterministic generator (an LCG): the cases are the same on every run.
    struct Draw(u64);

    impl Draw {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    /// Payments and rows drawn from a few references and client references, so that
    /// duplicates, payments without a sale row, loose rows, and cancels and refunds
    /// found by the sale's reference or by the client reference are all common.
    fn case(seed: u64) -> (Vec<OurPayment>, Vec<ProviderRow>) {
        let mut d = Draw(seed);
        let date = NaiveDate::from_ymd_opt(2025, 8, 29).unwrap();
        let reference = |n: u64| ProviderRef::parse(&format!("R{n}")).unwrap();
        let ours = (0..d.below(30))
            .map(|i| OurPayment {
                id: format!("p{i:02}").as_str().into(),
                provider_ref: (d.below(4) > 0).then(|| reference(d.below(8))),
                auth_code: Some(AuthCode::parse(&format!("A{}", d.below(5))).unwrap()),
                client_ref: Some(format!("c{}", d.below(6)).as_str().into()),
                status: PaymentStatus::Approved,
                amount: Kurus::from_minor(100 * (1 + d.below(3) as i64)).unwrap(),
                authorized_amount: None,
                refunded_amount: Kurus::ZERO,
                last4: Last4::of("7894"),
                business_date: date,
                expected: None,
            })
            .collect();
        let theirs = (0..d.below(30))
            .map(|i| {
                let kind = [
                    RowKind::Sale,
                    RowKind::Sale,
                    RowKind::Cancel,
                    RowKind::Refund,
                ][d.below(4) as usize];
                ProviderRow {
                    provider_ref: (d.below(4) > 0).then(|| reference(d.below(10))),
                    sale_ref: (kind.is_reversal() && d.below(2) == 0)
                        .then(|| Box::new(reference(d.below(8)))),
                    auth_code: Some(AuthCode::parse(&format!("A{}", d.below(5))).unwrap()),
                    client_ref: Some(format!("c{}", d.below(6)).as_str().into()),
                    kind,
                    status: [RowState::Success, RowState::Success, RowState::Error]
                        [d.below(3) as usize],
                    amount: Kurus::from_minor(100 * (1 + d.below(3) as i64)).unwrap(),
                    authorized_amount: None,
                    installments: Some(1),
                    masked_pan: MaskedPan::parse("454671******7894"),
                    time: date.and_hms_opt(12, 0, 0),
                    value_date: None,
                    commission: None,
                    currency: None,
                    line: std::num::NonZeroU32::new(u32::try_from(i).unwrap() + 2),
                }
            })
            .collect();
        (ours, theirs)
    }

    /// The hash only finds candidates: with every text colliding with every other, or
    /// with a few, the result is the one the real hash gives.
    #[test]
    fn colliding_hashes_change_nothing() {
        let options = Options::default();
        for seed in 0..400 {
            let (ours, theirs) = case(seed);
            let real = reconcile(&ours, &theirs, &options);
            let all = reconcile_hashed(&ours, &theirs, &options, &|_: &str| 1);
            assert_eq!(real, all, "seed {seed}: every text on one hash");
            let few = |text: &str| (text_hash(text) & 3).max(1);
            let some = reconcile_hashed(&ours, &theirs, &options, &few);
            assert_eq!(real, some, "seed {seed}: texts on three hashes");
        }
    }
}

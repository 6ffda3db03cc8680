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

use crate::classify::{build_item, row_cmp, totals, verdict, Members};
use crate::model::{
    within, Class, Item, Last4, MatchKey, Money, Options, OurPayment, Reconciliation, Summary,
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

/// Sale rows by their provider reference: a table of the first row index of each
/// reference, 4 bytes a slot, the reference read from the row (the group is then that
/// row's `row_group`). A map keyed by the borrowed text takes 24 bytes a slot: at a
/// million sale rows the table is 8 MiB instead of 48, and the million look-ups, which
/// land at random in it, miss the processor's cache far less often (key 1 is most of
/// matching's time).
struct SaleRefs<'a> {
    theirs: &'a [ProviderRow],
    table: HashTable<u32>,
}

impl<'a> SaleRefs<'a> {
    fn new(theirs: &'a [ProviderRow]) -> SaleRefs<'a> {
        SaleRefs {
            theirs,
            table: HashTable::with_capacity(theirs.len()),
        }
    }

    /// The reference of a row in the table (only rows with one get in).
    fn reference(theirs: &[ProviderRow], row: u32) -> &str {
        theirs[row as usize]
            .provider_ref
            .as_ref()
            .map_or("", |r| r.as_str())
    }

    fn hash(reference: &str) -> u64 {
        FxBuildHasher.hash_one(reference)
    }

    /// The first row with `reference`; `row` when it is the first.
    fn first_row(&mut self, reference: &str, row: u32) -> u32 {
        let theirs = self.theirs;
        *self
            .table
            .entry(
                Self::hash(reference),
                |r| Self::reference(theirs, *r) == reference,
                |r| Self::hash(Self::reference(theirs, *r)),
            )
            .or_insert(row)
            .get()
    }

    /// The first sale row with `reference`, if any.
    fn get(&self, reference: &str) -> Option<u32> {
        self.table
            .find(Self::hash(reference), |r| {
                Self::reference(self.theirs, *r) == reference
            })
            .copied()
    }
}

/// A multimap from a key to input indexes, without one allocation per key: the first
/// index in a hash map, the rest chained through one array.
struct Chains<K> {
    head: Map<K, u32>,
    next: Vec<u32>,
}

impl<K: Hash + Eq> Chains<K> {
    /// For indexes below `len`, about `keys` distinct keys.
    fn new(len: usize, keys: usize) -> Chains<K> {
        Chains {
            head: map(keys),
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
    let mut groups: Vec<Group> = Vec::with_capacity(ours.len().max(theirs.len()) + 16);
    let mut payment_group = vec![NONE; ours.len()];
    let mut row_group = vec![NONE; theirs.len()];

    // Key 1: the provider's reference. Every sale row with reference R and every
    // payment with R form one group, made in row order (memory access stays close to
    // sequential).
    let mut sale_by_ref = SaleRefs::new(theirs);
    let mut loose_rows: Vec<(u32, u32)> = Vec::new(); // (row, group or NONE)
    let mut reversals: Vec<u32> = Vec::new();
    for (i, row) in theirs.iter().enumerate() {
        if row.kind.is_reversal() {
            reversals.push(idx(i));
            continue;
        }
        let Some(reference) = &row.provider_ref else {
            loose_rows.push((idx(i), NONE));
            continue;
        };
        let first = sale_by_ref.first_row(reference.as_str(), idx(i));
        let g = if first == idx(i) {
            new_group(&mut groups, Group::EMPTY)
        } else {
            row_group[first as usize]
        };
        row_group[i] = g;
        let group = &mut groups[g as usize];
        group.first_sale = idx(i);
        group.sales += 1;
    }
    // Payments: into the group of their reference's sale rows. Payments sharing a
    // reference no row has are still duplicates of each other; one alone stays loose.
    // Reference to (first payment, its group or NONE).
    let mut pay_only: Map<&str, (u32, u32)> = map(0);
    for (p, payment) in ours.iter().enumerate() {
        let Some(reference) = &payment.provider_ref else {
            continue;
        };
        let reference = reference.as_str();
        if let Some(first) = sale_by_ref.get(reference) {
            let g = row_group[first as usize];
            payment_group[p] = g;
            let group = &mut groups[g as usize];
            group.payments += 1;
            group.key = Some(MatchKey::ProviderRef);
            continue;
        }
        let slot = pay_only.entry(reference).or_insert((idx(p), NONE));
        if slot.0 == idx(p) {
            continue;
        }
        if slot.1 == NONE {
            slot.1 = new_group(&mut groups, Group::EMPTY);
            payment_group[slot.0 as usize] = slot.1;
            groups[slot.1 as usize].payments += 1;
        }
        payment_group[p] = slot.1;
        groups[slot.1 as usize].payments += 1;
    }
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
    let mut alone: Chains<(Kurus, Last4)> = Chains::new(ours.len(), loose_payments.len());
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
    };
    link_reversals(
        ours,
        theirs,
        &reversals,
        &found,
        &mut row_group,
        &mut groups,
    );
    drop((sale_by_ref, pay_only, reversals));
    finish(ours, theirs, groups, payment_group, row_group, options)
}

/// The indexes the first pass built, reused to link cancels and refunds.
struct Found<'a> {
    pay_only: &'a Map<&'a str, (u32, u32)>,
    sale_by_ref: &'a SaleRefs<'a>,
    payment_group: &'a [u32],
}

/// Puts every cancel and refund row into its sale's group, or into a group of its own
/// when no sale is found on either side. Only the client references the reversals ask
/// for are indexed, so a day with few refunds costs little.
fn link_reversals(
    ours: &[OurPayment],
    theirs: &[ProviderRow],
    reversals: &[u32],
    found: &Found<'_>,
    row_group: &mut [u32],
    groups: &mut Vec<Group>,
) {
    if reversals.is_empty() {
        return;
    }
    // Client reference to (sale row group, payment group): the smallest sale row
    // (sales we have first, then canonical order) or payment (by id) wins, so the
    // choice does not depend on input order.
    let mut wanted: Map<&str, (u32, u32)> = map(reversals.len());
    for r in reversals {
        if let Some(c) = theirs[*r as usize].client_ref.as_deref() {
            wanted.insert(c, (NONE, NONE));
        }
    }
    for (i, row) in theirs.iter().enumerate() {
        let Some(slot) = row
            .client_ref
            .as_deref()
            .filter(|_| !row.kind.is_reversal())
            .and_then(|c| wanted.get_mut(c))
        else {
            continue;
        };
        let g = row_group[i];
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
    let mut best_payment: Map<&str, &str> = map(wanted.len());
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
            match found.sale_by_ref.get(reference) {
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
            .and_then(|c| wanted.get(c))
            .and_then(|(sale, pay)| [*sale, *pay].into_iter().find(|g| *g != NONE));
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
    fn new(groups: usize, group_of: &[u32]) -> Gathered {
        let mut start = vec![0u32; groups + 1];
        for g in group_of {
            start[*g as usize + 1] += 1;
        }
        for g in 0..groups {
            start[g + 1] += start[g];
        }
        let mut fill = start.clone();
        let mut members = vec![0u32; group_of.len()];
        for (i, g) in group_of.iter().enumerate() {
            let at = &mut fill[*g as usize];
            members[*at as usize] = idx(i);
            *at += 1;
        }
        Gathered { start, members }
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
    let picks: Vec<Pick> = groups
        .iter()
        .map(|g| Pick {
            proposal: g.proposal,
            key: g.key,
        })
        .collect();
    let group_count = groups.len();
    drop(groups);
    let mut pays = Gathered::new(group_count, &payment_group);
    drop(payment_group);
    let mut rows = Gathered::new(group_count, &row_group);
    drop(row_group);
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
    let judge =
        |range: std::ops::Range<usize>, pay_members: &mut [u32], row_members: &mut [u32]| {
            let (pay_base, row_base) = (
                pays.start[range.start] as usize,
                rows.start[range.start] as usize,
            );
            let mut verdicts = Vec::with_capacity(range.len());
            for g in range {
                let pr = pays.start[g] as usize - pay_base..pays.start[g + 1] as usize - pay_base;
                if pr.len() > 1 {
                    pay_members[pr.clone()].sort_unstable_by(by_id);
                }
                let rr = rows.start[g] as usize - row_base..rows.start[g + 1] as usize - row_base;
                if rr.len() > 1 {
                    row_members[rr.clone()].sort_unstable_by(by_row);
                }
                let m = Members::new(&pay_members[pr], &row_members[rr], theirs);
                verdicts.push(verdict(&m, ours, theirs, options));
            }
            verdicts
        };
    let (mut verdicts, high) = std::thread::scope(|s| {
        let high = s.spawn(|| judge(mid..group_count, pay_hi, row_hi));
        (judge(0..mid, pay_lo, row_lo), join(high))
    });
    verdicts.extend(high);
    // The sort keys, each class's array sized once from the verdicts: grown by
    // doubling (or on the judging threads) they would leave freed blocks behind that
    // the items, built next, do not fit in.
    let mut by_class: ClassKeys = Default::default();
    let mut counts = [0usize; Class::ALL.len()];
    for (class, _) in &verdicts {
        counts[*class as usize] += 1;
    }
    for (keys, count) in by_class.iter_mut().zip(counts) {
        keys.reserve_exact(count);
    }
    for (g, (class, _)) in verdicts.iter().enumerate() {
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
        by_class[*class as usize].push((has_payment, high, low, idx(g)));
    }
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
    // An item is built with its amounts added to the summary of the thread that built
    // it; the amounts are not kept in the item (`Item::totals` reads them again).
    let build = |g: &u32, summary: &mut Summary| {
        let pick = picks[*g as usize];
        let g = *g as usize;
        let m = Members::new(
            &pays.members[pays.range(g)],
            &rows.members[rows.range(g)],
            theirs,
        );
        let proposal = (pick.proposal != NONE).then_some(pick.proposal);
        let (class, reason) = verdicts[g];
        let item = build_item(&m, class, reason, pick.key, proposal, ours, theirs);
        summary.add(&item, totals(&m, ours, theirs));
        item
    };
    // Built on two threads, a pair of pieces at a time: the first piece straight into
    // the result, the second beside it and then appended, so the order is kept and
    // only one piece (at most `ITEM_PIECE` items) is ever held apart.
    let piece = order.len().div_ceil(2).clamp(1, ITEM_PIECE);
    let mut items: Vec<Item> = Vec::with_capacity(order.len());
    let mut summary = Summary::default();
    for pair in order.chunks(2 * piece) {
        let (low, high) = pair.split_at(piece.min(pair.len()));
        let (high, high_summary) = std::thread::scope(|s| {
            let high = s.spawn(|| {
                let mut summary = Summary::default();
                let items: Vec<Item> = high.iter().map(|g| build(g, &mut summary)).collect();
                (items, summary)
            });
            items.extend(low.iter().map(|g| build(g, &mut summary)));
            join(high)
        });
        items.extend(high);
        summary.merge(&high_summary);
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
}

/// The most items one thread builds apart before they join the result.
const ITEM_PIECE: usize = 1 << 16;

/// Per class, in class order: (has a payment, first 16 bytes of the first payment id or
/// reference as two big-endian halves, group). Two `u64`s rather than one `u128`, which
/// is aligned to 16 bytes: an entry takes 24 bytes instead of 32, and a million of them
/// sit beside the members while they are sorted.
type ClassKeys = [Vec<(bool, u64, u64, u32)>; Class::ALL.len()];

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

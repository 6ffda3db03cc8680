//! What the engine takes from our side and what it gives back.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use sanalpos_core::time::istanbul;
use sanalpos_core::{AuthCode, Kurus, ProviderRef};

use crate::row::ProviderRow;

/// Our status of a payment (the service's payment statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Sent, answer not yet in.
    Processing,
    /// Waiting for the cardholder's 3D authentication.
    Pending3ds,
    /// Approved.
    Approved,
    /// The bank said no.
    Declined,
    /// Technical error, provably no charge.
    Failed,
    /// We cannot tell whether the card was charged.
    Unknown,
    /// Cancelled (voided) on its business day.
    Cancelled,
    /// Part of it refunded.
    PartiallyRefunded,
    /// All of it refunded.
    Refunded,
    /// 3D never finished.
    Expired,
}

impl PaymentStatus {
    /// What the status says about money, the only thing compared with the provider.
    pub(crate) fn money(self) -> Money {
        match self {
            PaymentStatus::Approved
            | PaymentStatus::PartiallyRefunded
            | PaymentStatus::Refunded => Money::Charged { cancelled: false },
            PaymentStatus::Cancelled => Money::Charged { cancelled: true },
            PaymentStatus::Declined | PaymentStatus::Failed | PaymentStatus::Expired => {
                Money::NotCharged
            }
            PaymentStatus::Processing | PaymentStatus::Pending3ds | PaymentStatus::Unknown => {
                Money::Uncertain
            }
        }
    }
}

/// A status reduced to what it says about money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Money {
    /// The card was charged (and possibly cancelled since).
    Charged { cancelled: bool },
    /// No money moved.
    NotCharged,
    /// We cannot tell yet.
    Uncertain,
}

/// What the POS's installment table promises for a payment: the engine checks the
/// provider's commission and value date against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// Commission the merchant pays, basis points of the authorized amount.
    pub commission_bp: u32,
    /// Days from the business date to the value date.
    pub value_days: u16,
}

/// One of our payments, as the engine needs it and nothing more: a run holds a period's
/// payments at once (144 bytes each, no heap block when the texts are short).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OurPayment {
    /// Our id; unique. Items name payments by their index in the input, proposals by
    /// this id.
    pub id: CompactString,
    /// The provider's reference from the approval.
    pub provider_ref: Option<ProviderRef>,
    /// The bank's authorization code.
    pub auth_code: Option<AuthCode>,
    /// The sale attempt's `clientRefCode`.
    pub client_ref: Option<CompactString>,
    /// Our status of the payment, as read for the run.
    pub status: PaymentStatus,
    /// The amount asked for.
    pub amount: Kurus,
    /// What the cardholder was charged, when approved.
    pub authorized_amount: Option<Kurus>,
    /// Refunded so far.
    pub refunded_amount: Kurus,
    /// The card's last four digits.
    pub last4: Option<Last4>,
    /// The business day it belongs to.
    pub business_date: NaiveDate,
    /// The installment table's promise for its installment count, when the POS has one.
    pub expected: Option<Expected>,
}

/// A card's last four digits, held in four bytes (the engine's proposals key on them).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Last4([u8; 4]);

impl Last4 {
    /// The last four characters of a card number, plain or masked
    /// (`454671******7894`), when they are digits.
    pub fn of(card: &str) -> Option<Last4> {
        let tail = card.as_bytes().last_chunk::<4>()?;
        tail.iter().all(u8::is_ascii_digit).then_some(Last4(*tail))
    }

    /// The four digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits get in (`of`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for Last4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Last4({})", self.as_str())
    }
}

/// Written as the four-digit text.
impl Serialize for Last4 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Read from a text of exactly four digits.
impl<'de> Deserialize<'de> for Last4 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = CompactString::deserialize(deserializer)?;
        Last4::of(&text)
            .filter(|_| text.len() == 4)
            .ok_or_else(|| serde::de::Error::custom("last four must be four digits"))
    }
}

/// How the engine works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// How far apart (in days) the provider's transaction date and our business date
    /// may be for the auth-code key and for proposals.
    pub date_window_days: u16,
    /// The period reconciled, first and last business day. A payment outside it is only
    /// there because a cancel or refund of the period points at it: its missing sale
    /// row is then expected, not an exception. `None` treats every payment as inside.
    pub period: Option<(NaiveDate, NaiveDate)>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            date_window_days: 1,
            period: None,
        }
    }
}

/// The class of an item. Every payment and every provider row ends in exactly one
/// item, and so in exactly one class.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReconClass)]
pub enum Class {
    /// Both sides agree (including "no money moved on either side").
    Matched,
    /// Same transaction, different amounts.
    AmountMismatch,
    /// Same transaction, different outcome (approved here, cancelled there, …).
    StatusMismatch,
    /// In the provider's records, missing here.
    ProviderOnly,
    /// Here, missing in the provider's records.
    SystemOnly,
    /// Two provider rows with one reference, or two of our payments claiming one.
    Duplicate,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 6] = [
        Class::Matched,
        Class::AmountMismatch,
        Class::StatusMismatch,
        Class::ProviderOnly,
        Class::SystemOnly,
        Class::Duplicate,
    ];

    /// The class's name as it is stored and as the API writes it (`provider_only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Matched => "matched",
            Class::AmountMismatch => "amount_mismatch",
            Class::StatusMismatch => "status_mismatch",
            Class::ProviderOnly => "provider_only",
            Class::SystemOnly => "system_only",
            Class::Duplicate => "duplicate",
        }
    }

    /// The class of a name written by [`Class::as_str`]; `None` for any other text.
    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// The key that tied a payment to a provider row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The provider's reference.
    ProviderRef,
    /// Auth code, amount and a date window.
    AuthCode,
    /// Our client reference.
    ClientRef,
}

/// Why an item is in its class, for the person who resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Both sides agree on status and amounts.
    Agreed,
    /// No money moved on either side (declined, failed, expired here; refused or never
    /// finished there, or absent): nothing to do.
    NothingMoved,
    /// A payment outside the period whose cancels and refunds in the period agree.
    ReversalsAgree,
    /// The amounts differ.
    AmountDiffers,
    /// The authorized amounts (with surcharge) differ.
    AuthorizedAmountDiffers,
    /// Charged there, not charged here.
    ChargedThereOnly,
    /// Charged here, refused or unfinished there.
    ChargedHereOnly,
    /// Unknown or in progress here; the provider has the answer.
    UncertainHere,
    /// Cancelled on one side only.
    CancelDiffers,
    /// The refunded totals differ.
    RefundDiffers,
    /// A sale the provider has and we do not.
    MissingHere,
    /// A cancel or refund whose sale is found on neither side.
    ReversalWithoutSale,
    /// A payment the provider has no record of.
    MissingThere,
    /// Several provider sale rows with one reference.
    DuplicateRows,
    /// Several of our payments with one provider reference.
    DuplicatePayments,
    /// The same cancel or refund reported twice.
    DuplicateReversals,
}

/// A check against the POS's installment table that did not hold. Flags ride on items
/// and never change their class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schema(as = ReconFlag)]
pub enum Flag {
    /// The provider kept a different commission.
    Commission {
        /// What the table promises.
        expected: Kurus,
        /// What the provider reports.
        actual: Kurus,
    },
    /// The money arrives on another day.
    ValueDate {
        /// What the table promises, `YYYY-MM-DD`.
        #[schema(value_type = String, format = Date)]
        expected: NaiveDate,
        /// What the provider reports, `YYYY-MM-DD`.
        #[schema(value_type = String, format = Date)]
        actual: NaiveDate,
    },
}

/// Input indexes of one item: its payments, then its provider rows. Four are held
/// inline (most items have one payment and one or two rows), so a million items cost
/// no heap block each.
type Indexes = smallvec::SmallVec<[u32; 4]>;

/// One decision unit: a sale (ours and/or theirs) with its cancels and refunds.
///
/// Kept small (56 bytes, no heap block in the usual case) because a run holds one per
/// sale: both sides' indexes share one inline vector ([`Item::payments`],
/// [`Item::rows`]), the proposal is an index like the others, the flags are a boxed
/// slice that costs nothing when empty, and the amounts are read from the inputs when
/// asked for ([`Item::totals`]) rather than held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Where the item belongs (matched, a mismatch, one-sided, duplicate).
    pub class: Class,
    /// Why it is in its class, in the engine's words; the pages turn it into text.
    pub reason: Reason,
    /// The key that tied the two sides, when both are present.
    pub key: Option<MatchKey>,
    /// How many of `members` are payments (they come first).
    payment_count: u32,
    /// Indexes into `ours`, then into `theirs`.
    members: Indexes,
    /// For a sale found only at the provider: the index into `ours` of a payment with
    /// the same amount and card last four digits in the date window, for a person to
    /// confirm.
    pub proposal: Option<u32>,
    /// Commission and value date checks that did not hold.
    pub flags: Box<[Flag]>,
}

/// An item's amounts on each side, read from its payments and rows
/// ([`Item::totals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Our amount: the payments' amounts.
    pub ours: Kurus,
    /// Their amount: the sale rows' amounts.
    pub theirs: Kurus,
    /// What we refunded (a cancel counts the whole amount).
    pub ours_reversed: Kurus,
    /// What they cancelled or refunded (successful reversal rows).
    pub theirs_reversed: Kurus,
}

impl Item {
    /// An item of these payments and rows; the other fields start empty (no key,
    /// proposal or flags, zero amounts).
    pub(crate) fn new(class: Class, reason: Reason, payments: &[u32], rows: &[u32]) -> Item {
        let len = payments.len() + rows.len();
        // The usual item fits inline: filled in one go, without the vector's growth checks.
        let members = if len <= 4 {
            let mut inline = [0u32; 4];
            inline[..payments.len()].copy_from_slice(payments);
            inline[payments.len()..len].copy_from_slice(rows);
            Indexes::from_buf_and_len(inline, len)
        } else {
            payments.iter().chain(rows).copied().collect()
        };
        Item {
            class,
            reason,
            key: None,
            payment_count: u32::try_from(payments.len()).unwrap_or(u32::MAX),
            members,
            proposal: None,
            flags: Box::default(),
        }
    }

    /// The item's amounts, read from the payments and rows it was made of (`ours` and
    /// `theirs` as given to [`crate::reconcile`]). Not held in the item: a run holds a
    /// million items, and the amounts are a sum over the few inputs each one names.
    pub fn totals(&self, ours: &[OurPayment], theirs: &[ProviderRow]) -> Totals {
        let members = crate::classify::Members::new(self.payments(), self.rows(), theirs);
        crate::classify::totals(&members, ours, theirs)
    }

    /// Indexes into `ours`, sorted by payment id.
    pub fn payments(&self) -> &[u32] {
        &self.members[..self.payment_count as usize]
    }

    /// Indexes into `theirs` (sale rows first, then cancels and refunds).
    pub fn rows(&self) -> &[u32] {
        &self.members[self.payment_count as usize..]
    }
}

/// Written as it reads: the payments and the rows as two arrays (the amounts are not
/// held: [`Item::totals`]).
impl Serialize for Item {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Item", 7)?;
        s.serialize_field("class", &self.class)?;
        s.serialize_field("reason", &self.reason)?;
        s.serialize_field("key", &self.key)?;
        s.serialize_field("payments", self.payments())?;
        s.serialize_field("rows", self.rows())?;
        s.serialize_field("proposal", &self.proposal)?;
        s.serialize_field("flags", &self.flags)?;
        s.end()
    }
}

/// A signed amount, for differences: `"-12.50"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Difference(pub i128);

impl<'de> Deserialize<'de> for Difference {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let amount = Kurus::parse(digits).map_err(serde::de::Error::custom)?;
        let minor = i128::from(amount.minor());
        Ok(Difference(if negative { -minor } else { minor }))
    }
}

/// In the API's description: a signed decimal string with two places.
impl utoipa::PartialSchema for Difference {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        #[allow(deprecated)]
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A signed amount: a decimal string with two places."))
            .pattern(Some(r"^-?\d+\.\d{2}$"))
            .example(Some("-12.50".into()))
            .into()
    }
}

impl utoipa::ToSchema for Difference {
    fn name() -> std::borrow::Cow<'static, str> {
        "SignedAmount".into()
    }
}

impl Serialize for Difference {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        serializer.collect_str(&format_args!("{sign}{}.{:02}", abs / 100, abs % 100))
    }
}

/// Count and exact totals of one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClassTotals {
    /// Items of the class (a matched pair is one item).
    pub count: u64,
    /// Sum of our amounts.
    pub ours: Kurus,
    /// Sum of their sale amounts.
    pub theirs: Kurus,
    /// `theirs - ours`.
    pub difference: Difference,
    /// Sum of what we refunded or cancelled.
    pub ours_reversed: Kurus,
    /// Sum of what they refunded or cancelled.
    pub theirs_reversed: Kurus,
    /// Items with a commission flag.
    pub commission_flags: u64,
    /// Items with a value date flag.
    pub value_date_flags: u64,
}

/// Counts and totals per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReconTotals)]
pub struct Summary {
    /// Both sides agree.
    pub matched: ClassTotals,
    /// Paired, but the amounts differ.
    pub amount_mismatch: ClassTotals,
    /// Paired, but the outcomes differ (approved here, cancelled there, …).
    pub status_mismatch: ClassTotals,
    /// In the provider's records, not in ours.
    pub provider_only: ClassTotals,
    /// In our records, not in the provider's.
    pub system_only: ClassTotals,
    /// One reference claimed twice: by provider rows, by our payments, or by a
    /// reported cancel or refund.
    pub duplicate: ClassTotals,
}

impl Summary {
    /// The totals of one class.
    pub fn get(&self, class: Class) -> &ClassTotals {
        match class {
            Class::Matched => &self.matched,
            Class::AmountMismatch => &self.amount_mismatch,
            Class::StatusMismatch => &self.status_mismatch,
            Class::ProviderOnly => &self.provider_only,
            Class::SystemOnly => &self.system_only,
            Class::Duplicate => &self.duplicate,
        }
    }

    /// Counts `item` in its class with its amounts and flags (the difference is set
    /// once all are in).
    pub(crate) fn add(&mut self, class: Class, flags: &[Flag], amounts: Totals) {
        let t = self.get_mut(class);
        t.count += 1;
        t.ours = t.ours + amounts.ours;
        t.theirs = t.theirs + amounts.theirs;
        t.ours_reversed = t.ours_reversed + amounts.ours_reversed;
        t.theirs_reversed = t.theirs_reversed + amounts.theirs_reversed;
        for flag in flags {
            match flag {
                Flag::Commission { .. } => t.commission_flags += 1,
                Flag::ValueDate { .. } => t.value_date_flags += 1,
            }
        }
    }

    /// Adds another summary's counts and amounts, class by class.
    pub(crate) fn merge(&mut self, other: &Summary) {
        for class in Class::ALL {
            let (t, o) = (self.get_mut(class), other.get(class));
            t.count += o.count;
            t.ours = t.ours + o.ours;
            t.theirs = t.theirs + o.theirs;
            t.ours_reversed = t.ours_reversed + o.ours_reversed;
            t.theirs_reversed = t.theirs_reversed + o.theirs_reversed;
            t.commission_flags += o.commission_flags;
            t.value_date_flags += o.value_date_flags;
        }
    }

    pub(crate) fn get_mut(&mut self, class: Class) -> &mut ClassTotals {
        match class {
            Class::Matched => &mut self.matched,
            Class::AmountMismatch => &mut self.amount_mismatch,
            Class::StatusMismatch => &mut self.status_mismatch,
            Class::ProviderOnly => &mut self.provider_only,
            Class::SystemOnly => &mut self.system_only,
            Class::Duplicate => &mut self.duplicate,
        }
    }
}

/// The result of a run: items in a stable order (class, then payment id, then the
/// provider's reference) and the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// Every item.
    pub items: Vec<Item>,
    /// Counts and totals per class.
    pub summary: Summary,
}

/// Istanbul local time of an instant: what provider times are in.
pub fn istanbul_local(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.with_timezone(&istanbul()).naive_local()
}

/// The business day of an instant: its Istanbul calendar date. 23:59 and 00:01 Istanbul
/// time are on different business days even though both are the same UTC date.
pub fn business_date(instant: DateTime<Utc>) -> NaiveDate {
    istanbul_local(instant).date()
}

/// Whether two days are at most `window` days apart.
pub(crate) fn within(a: NaiveDate, b: NaiveDate, window: u16) -> bool {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    lo.checked_add_days(Days::new(u64::from(window)))
        .is_none_or(|limit| hi <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run holds one item per sale: growing it costs a megabyte per 10,000 rows of
    /// statement, so a field added here should be a deliberate choice.
    #[test]
    fn an_item_stays_small() {
        assert!(
            std::mem::size_of::<Item>() <= 56,
            "{}",
            std::mem::size_of::<Item>()
        );
    }

    /// The same for payments: a run holds all of a period's.
    #[test]
    fn a_payment_stays_small() {
        let size = std::mem::size_of::<OurPayment>();
        assert!(size <= 144, "{size}");
    }

    #[test]
    fn last_four_digits_of_a_card() {
        let digits = |card: &str| Last4::of(card).map(|l| l.as_str().to_owned());
        assert_eq!(digits("454671******7894").as_deref(), Some("7894"));
        assert_eq!(digits("7894").as_deref(), Some("7894"));
        assert_eq!(digits("789"), None);
        assert_eq!(digits("4546******78X4"), None);
        let json = serde_json::to_string(&Last4::of("1234")).unwrap_or_default();
        assert_eq!(json, "\"1234\"");
        assert!(serde_json::from_str::<Last4>("\"12345\"").is_err());
        assert_eq!(
            serde_json::from_str::<Last4>("\"0042\"").ok(),
            Last4::of("0042")
        );
    }
}

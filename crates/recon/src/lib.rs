//! Reconciliation (mutabakat): the provider's view of a period against ours.
//!
//! Two halves, both pure (no files, database or network: the caller brings bytes, or a
//! reader, and rows). [`parse_statement`] reads a bank statement (CSV in UTF-8 or
//! Windows-1254, any of `;`, `,`, tab or `|`, or the first sheet of an XLSX workbook;
//! Turkish numbers and dates) through a column-mapping [`Profile`] into
//! [`ProviderRow`]s, the same type the report API's rows convert to
//! ([`read_statement_from`] reads a large file from a reader a block at a time).
//! [`reconcile`] matches those rows with our payments, strongest key first (provider
//! reference; auth code, amount and date window; client reference; amount and card last
//! four only as a proposal for a person), folds cancels and refunds into their sale, and
//! puts every payment and every row into exactly one [`Item`] of one [`Class`], with
//! commission and value-date checks as [`Flag`]s and exact totals per class in the
//! [`Summary`]. It uses hash indexes and one pass over each side, so a year of a large
//! merchant's transactions reconciles in seconds.

mod classify;
mod engine;
mod model;
mod profile;
mod row;
mod statement;
mod xlsx;

/// Short text held inline (up to 24 bytes without a heap block): the payment ids, client
/// references and last four digits of a million rows cost no allocation each.
pub use compact_str::CompactString;
pub use engine::reconcile;
pub use model::{
    business_date, istanbul_local, Class, ClassTotals, Difference, Expected, Flag, Item, Last4,
    MatchKey, Options, OurPayment, PaymentStatus, Reason, Reconciliation, Summary, Totals,
};
pub use profile::{Column, Field, NumberStyle, Profile, TR_DATE, TR_DATE_TIME};
pub use row::{ProviderRow, RowError, RowKind, RowState};
pub use statement::{
    decode, detect_delimiter, parse_statement, read_statement, read_statement_from, BadRow,
    ExpectedValue, ImportError, RowProblem, Statement,
};

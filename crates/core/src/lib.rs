//! Domain types that every sanalpos crate speaks.
//!
//! Everything here is built through a `parse` that can fail, so a value of one of these
//! types is known to be well formed wherever it travels: money is integer kuruş
//! ([`Kurus`]), never a float; a [`CardNumber`] has passed the Luhn check and can only be
//! printed masked; a [`Cvv`] cannot be printed at all. The bank response-code catalogue
//! ([`bank_code`]) turns the provider's ISO 8583 style codes into the Turkish and English
//! texts finance staff read.

pub mod bank_code;
pub mod card;
pub mod clock;
pub mod currency;
pub mod fields;
pub mod lang;
pub mod money;
pub mod refs;
pub mod report;
pub mod secret;
pub mod time;

pub use bank_code::{BankCode, Message};
pub use card::{CardBrand, CardError, CardNumber, Cvv, Expiry, MaskedPan};
pub use clock::Clock;
pub use currency::Currency;
pub use fields::{CustomerRef, OrderRef, ReturnUrl, TextError, UrlError};
pub use lang::Lang;
pub use money::{Kurus, MoneyError};
pub use refs::{AuthCode, ClientRef, ProviderRef, RefError};
pub use report::{ReportRow, RowStatus, TransactionKind};
pub use secret::Secret;

//! Talking to virtual POS providers.
//!
//! [`Gateway`] is what any virtual POS protocol offers (non-3D sale, 3D start and finish,
//! cancel, refund, inquiry, report, installments, commission table), and [`Outcome`] is
//! the one normalized answer every protocol maps to: approved, declined (with the bank's
//! code and reason), failed (provably not charged) or unknown (we cannot tell whether the
//! card was charged). Connectors are stateless and never decide business state: an
//! unclear answer is `unknown`, and only an explicit, verified answer is final.
//!
//! One protocol is one module with four small parts: request mapping, answer mapping,
//! signing and codec. [`nkolay`] is the first; a bank on a known protocol is
//! configuration, not code.

mod gateway;
pub mod nkolay;
mod scrub;
mod types;

pub use gateway::{Gateway, GatewayError};
pub use scrub::scrub_card_numbers;
pub use types::*;

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
//!
//! How a second protocol fits without touching the trait: NestPay (EST/Payten, see the
//! project's protocol notes) signs a 3D form that the browser posts straight to the bank,
//! so its `start_3d` returns that form as [`ThreeDStart::Redirect`] without a server call;
//! its `finish_3d` verifies the bank's postback and then makes the server-side `Auth`
//! call; `cancel` is a `Void` and `refund` a `Credit` by order id ([`CancelRequest`] and
//! [`RefundRequest`] carry our [`ClientRef`](sanalpos_core::ClientRef) for that);
//! `inquiry` is `OrderInquiry`; `report` and `installments` return
//! [`GatewayError::Unsupported`] or read the POS definition's own table.

pub mod garanti;
mod gateway;
pub mod nestpay;
pub mod nkolay;
pub mod posnet;
pub mod protocol;
mod scrub;
mod transport;
mod types;

pub use gateway::{Gateway, GatewayError};
pub use protocol::{protocol, Protocol, ProtocolInfo, Settings, PROTOCOLS};
pub use scrub::scrub_card_numbers;
pub use types::*;

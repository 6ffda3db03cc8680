//! The NestPay client against its golden vectors, its recorded answers, and a tiny
//! in-test bank on loopback that answers with those recorded answers verbatim.
//!
//! The full client-against-simulator tests live beside the simulator; these pin the
//! protocol facts: hashes, exact request bytes, answer mapping, callback judging, and
//! what each call sends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "nestpay/answers.rs"]
mod answers;
#[path = "nestpay/callbacks.rs"]
mod callbacks;
#[path = "nestpay/calls.rs"]
mod calls;
#[path = "nestpay/helpers.rs"]
mod helpers;
#[path = "nestpay/vectors.rs"]
mod vectors;

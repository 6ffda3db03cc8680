//! The gateway's integration tests, in one binary: the N Kolay client against the
//! simulator over real HTTP, and the NestPay client against its vectors and recorded
//! answers.

mod helpers;
mod nestpay;
mod reports;
mod reversals;
mod sales;
mod three_d;

//! The gateway's integration tests, in one binary: the N Kolay client against the
//! simulator over real HTTP, the NestPay and Garanti
//! clients against their vectors and recorded answers.

mod garanti;
mod helpers;
mod nestpay;
mod nkolay_card_storage;
mod nkolay_pre_auth;
mod posnet;
mod reports;
mod reversals;
mod sales;
mod three_d;

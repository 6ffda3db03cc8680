//! The payment service's integration tests, in one binary: one module per area, each
//! against the simulator and on both engines.

mod breaker;
mod end_of_day;
mod garanti;
mod helpers;
mod nestpay;
mod payments;
mod posnet;
mod provider_restart;
mod recovery;
mod reports;
mod reversals;
mod statements;
mod stored_cards;
mod upgrade;

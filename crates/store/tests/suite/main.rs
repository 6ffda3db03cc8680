//! The store's integration tests, in one binary: one module per area, on both engines.

mod audit;
mod helpers;
mod outbox;
mod store;

//! The reconciliation engine's integration tests, in one binary: one module per area.

mod engine;
mod helpers;
mod properties;
mod statement;
mod statement_formats;

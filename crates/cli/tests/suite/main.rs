//! The `sanalpos` binary's integration tests, in one binary: the commands, the crash
//! tests and the short crash soaks.

mod audit;
mod cli;
mod crash;
mod recon;
mod soak;

//! The `sanalpos` binary's integration tests, in one binary: the commands, the crash
//! tests and the short crash soaks, the demo's bank POS, and the demo shop in a real
//! browser.

mod audit;
mod cli;
mod crash;
mod demo;
mod recon;
mod shop_browser;
mod soak;

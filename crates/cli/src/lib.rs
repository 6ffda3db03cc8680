//! The library half of the `sanalpos` binary: the parts the subcommands and the
//! integration tests share: [`demo`], the service beside the providers' simulators with
//! seeded companies and the demo shop, and [`soak`], the crash and load soaks that prove
//! what the service survives.

pub mod demo;
pub mod soak;

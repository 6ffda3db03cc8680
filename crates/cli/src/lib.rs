//! The library half of the `sanalpos` binary: the parts the subcommands and the
//! integration tests share. Today that is [`soak`], the crash and load soaks that prove
//! what the service survives.

pub mod soak;

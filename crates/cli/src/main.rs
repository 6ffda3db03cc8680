//! `sanalpos`: one binary for the service, the provider simulator and the tools a
//! merchant reaches for. Each subcommand is a thin call into the library crates.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Virtual POS collections for companies that run an ERP.
#[derive(Debug, Parser)]
#[command(name = "sanalpos", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the N Kolay provider simulator alone.
    Sim(commands::sim::SimArgs),
    /// N Kolay tools: verify a callback, show how a request hash is built.
    #[command(subcommand)]
    Nkolay(commands::nkolay::NkolayCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => commands::sim::run(args),
        Command::Nkolay(command) => commands::nkolay::run(command),
    }
}

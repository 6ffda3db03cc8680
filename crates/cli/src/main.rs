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
    /// The service and the provider simulator, seeded with two demo companies.
    Demo(commands::serve::DemoArgs),
    /// The service (configuration file, SANALPOS_* environment, flags).
    Serve(commands::serve::ServeArgs),
    /// A provider simulator alone: N Kolay, or a bank POS with --protocol nestpay|garanti|posnet.
    Sim(commands::sim::SimArgs),
    /// N Kolay tools: verify a callback, show how a request hash is built.
    #[command(subcommand)]
    Nkolay(commands::nkolay::NkolayCommand),
    /// NestPay tools: verify a 3D callback's HASH, show how a ver3 hash is built.
    #[command(subcommand)]
    Nestpay(commands::nestpay::NestpayCommand),
    /// Garanti BBVA tools: verify a 3D callback's hash, show how HashData or
    /// secure3dhash is built.
    #[command(subcommand)]
    Garanti(commands::garanti::GarantiCommand),
    /// Yapı Kredi PosNet tools: show how a request MAC is built, verify the bank's 3D
    /// resolve answer.
    #[command(subcommand)]
    Posnet(commands::posnet::PosnetCommand),
    /// The audit chain.
    #[command(subcommand)]
    Audit(commands::admin::AuditCommand),
    /// Companies: create the first one on an empty database, list them.
    #[command(subcommand)]
    Company(commands::org::CompanyCommand),
    /// Back-office users: create the first admin, set a forgotten password.
    #[command(subcommand)]
    User(commands::org::UserCommand),
    /// API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(commands::admin::ApiKeyCommand),
    /// Reconciliation: pull the provider's report, import a statement, show a run.
    #[command(subcommand)]
    Recon(commands::recon::ReconCommand),
    /// Load benchmarks against the built-in simulator.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Soaks: crash and restart under load, steady load (see RELIABILITY.md).
    #[command(subcommand)]
    Soak(commands::soak::SoakCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => commands::serve::demo(args),
        Command::Serve(args) => commands::serve::serve(args),
        Command::Sim(args) => commands::sim::run(args),
        Command::Nkolay(command) => commands::nkolay::run(command),
        Command::Nestpay(command) => commands::nestpay::run(command),
        Command::Garanti(command) => commands::garanti::run(command),
        Command::Posnet(command) => commands::posnet::run(command),
        Command::Audit(command) => commands::admin::audit(command),
        Command::Company(command) => commands::org::company(command),
        Command::User(command) => commands::org::user(command),
        Command::ApiKey(command) => commands::admin::api_key(command),
        Command::Recon(command) => commands::recon::run(command),
        Command::Bench(command) => commands::bench::run(command),
        Command::Soak(command) => commands::soak::run(command),
    }
}

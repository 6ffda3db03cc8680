//! `sanalpos posnet ...`: the tools a merchant reaches for when Yapı Kredi answers
//! `E216 Mac Doğrulama hatalı` or a 3D result looks wrong.
//!
//! `mac` shows how the request MAC of `oosResolveMerchantData`/`oosTranData` is built:
//! `firstHash` = Base64(SHA-256(ENCKEY;tid)), then Base64(SHA-256(XID;amount;currency;
//! mid;firstHash)), the key masked, and compares it with one given. `verify-callback`
//! reads the bank's `oosResolveMerchantData` answer (the browser's callback itself is not
//! signed for the merchant: its packets prove nothing until the bank resolves them) and
//! checks its MAC, which binds `mdStatus`, and, when given, that it names our XID,
//! amount and currency.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sanalpos_gateway::posnet::callback::{judge_resolve, Ours, Verdict};
use sanalpos_gateway::posnet::mac::{first_hash, request_mac, same};
use sanalpos_gateway::posnet::order;
use sanalpos_gateway::posnet::xml::PosnetResponse;
use sanalpos_gateway::Outcome;

/// The `posnet` subcommands.
#[derive(Debug, Subcommand)]
pub enum PosnetCommand {
    /// Print how a request MAC is built (key masked) and the MAC; compare with --mac.
    Mac(MacArgs),
    /// Read the bank's oosResolveMerchantData answer (XML) on stdin and check its MAC.
    /// Prints `valid` (with mdStatus) or `invalid: <reason>`; exits 0 or 1.
    VerifyCallback(VerifyArgs),
}

/// The merchant's keys.
#[derive(Debug, Args)]
pub struct Keys {
    /// The encryption key (ENCKEY) as the bank gave it.
    #[arg(long, env = "SANALPOS_POSNET_ENC_KEY", hide_env_values = true)]
    enc_key: String,
    /// The terminal (tid).
    #[arg(long)]
    tid: String,
    /// The merchant number (mid).
    #[arg(long)]
    mid: String,
}

/// Options of `mac`.
#[derive(Debug, Args)]
pub struct MacArgs {
    #[command(flatten)]
    keys: Keys,
    /// The XID (20 characters), or an order id to pad to it.
    #[arg(long)]
    xid: String,
    /// The amount in kuruş (`175` = 1.75).
    #[arg(long)]
    amount: String,
    /// `TL`, `US` or `EU`.
    #[arg(long, default_value = "TL")]
    currency: String,
    /// A MAC to compare with.
    #[arg(long)]
    mac: Option<String>,
}

/// Options of `verify-callback`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    keys: Keys,
    /// Our XID (or order id), to check the answer is about our order.
    #[arg(long)]
    xid: Option<String>,
    /// Our amount in kuruş.
    #[arg(long)]
    amount: Option<String>,
    /// Our currency letters.
    #[arg(long)]
    currency: Option<String>,
}

/// Runs a `posnet` subcommand.
pub fn run(command: PosnetCommand) -> ExitCode {
    match command {
        PosnetCommand::Mac(args) => mac(&args),
        PosnetCommand::VerifyCallback(args) => verify(&args),
    }
}

fn masked(key: &str) -> String {
    sanalpos_core::Secret::new(key.to_owned()).masked()
}

fn mac(args: &MacArgs) -> ExitCode {
    let xid = order::xid(args.xid.trim());
    let first = first_hash(&args.keys.enc_key, &args.keys.tid);
    let mac = request_mac(&xid, &args.amount, &args.currency, &args.keys.mid, &first);
    println!(
        "firstHash = Base64(SHA-256(\"{};{}\"))",
        masked(&args.keys.enc_key),
        args.keys.tid
    );
    println!("          = {first}");
    println!(
        "MAC       = Base64(SHA-256(\"{xid};{};{};{};{first}\"))",
        args.amount, args.currency, args.keys.mid
    );
    println!("          = {mac}");
    match &args.mac {
        Some(given) if same(&mac, given.trim()) => {
            println!("matches the given MAC");
            ExitCode::SUCCESS
        }
        Some(_) => {
            println!("does NOT match the given MAC: check ENCKEY, tid, mid, the 20-character XID and the amount in kuruş");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

fn verify(args: &VerifyArgs) -> ExitCode {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("error: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    let answer = match PosnetResponse::parse(&bytes) {
        Ok(answer) => answer,
        Err(e) => {
            println!("invalid: {e}");
            return ExitCode::FAILURE;
        }
    };
    let field = |name: &str| {
        answer
            .get(&format!("oosResolveMerchantDataResponse/{name}"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let xid = args
        .xid
        .as_deref()
        .map(|x| order::xid(x.trim()))
        .unwrap_or_else(|| field("xid"));
    let amount = args.amount.clone().unwrap_or_else(|| field("amount"));
    let currency = args.currency.clone().unwrap_or_else(|| field("currency"));
    let first = first_hash(&args.keys.enc_key, &args.keys.tid);
    let ours = Ours {
        xid: &xid,
        amount: &amount,
        currency: &currency,
        mid: &args.keys.mid,
        first_hash: &first,
        allow_half_secure: true,
    };
    match judge_resolve(&answer, ours) {
        Verdict::Charge => {
            println!("valid: mdStatus {}", field("mdStatus"));
            ExitCode::SUCCESS
        }
        Verdict::Final(Outcome::Declined(d)) => {
            println!("valid, not authenticated: {}", d.provider_text);
            ExitCode::SUCCESS
        }
        Verdict::Final(Outcome::Unknown(reason)) => {
            println!("invalid: {reason}");
            ExitCode::FAILURE
        }
        Verdict::Final(other) => {
            println!("invalid: {}", other.kind());
            ExitCode::FAILURE
        }
    }
}

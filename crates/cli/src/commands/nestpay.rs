//! `sanalpos nestpay ...`: the tools a merchant reaches for when a NestPay bank says
//! "hash mismatch" or a 3D callback looks wrong.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sanalpos_gateway::nestpay::signing::{
    given_hash, hash_ver3, hashes_equal, legacy_hash_params, legacy_request_hash, ver3_order,
    ver3_plaintext_masked, verify_legacy_callback, verify_ver3, SignatureError,
    LEGACY_REQUEST_FIELDS,
};

/// The `nestpay` subcommands.
#[derive(Debug, Subcommand)]
pub enum NestpayCommand {
    /// Read a form-encoded 3D callback on stdin and check its HASH (ver3; the legacy
    /// HASHPARAMS scheme when the callback uses it). Prints `valid` or
    /// `invalid: <reason>`; exits 0 or 1.
    VerifyCallback(StoreKeyArgs),
    /// Read form-encoded 3D form fields on stdin; print the ver3 plaintext (store key
    /// masked) and the hash. A `hash` field in the input is compared with it.
    Hash(HashArgs),
}

/// The store key option.
#[derive(Debug, Args)]
pub struct StoreKeyArgs {
    /// The store key (storeKey) from the bank's merchant panel.
    #[arg(long, env = "SANALPOS_NESTPAY_STORE_KEY", hide_env_values = true)]
    store_key: String,
}

/// Options of `hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    #[command(flatten)]
    key: StoreKeyArgs,
    /// Also print the legacy (pre-ver3) SHA-1 request hash.
    #[arg(long)]
    legacy: bool,
}

/// Runs a `nestpay` subcommand.
pub fn run(command: NestpayCommand) -> ExitCode {
    match command {
        NestpayCommand::VerifyCallback(args) => verify_callback(&args),
        NestpayCommand::Hash(args) => hash(&args),
    }
}

/// The form fields on stdin, in the order posted.
fn read_form() -> Result<Vec<(String, String)>, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        "stdin is not UTF-8 (a form posted in ISO-8859-9 must be converted first)".to_owned()
    })?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(text.trim())
        .map_err(|_| "stdin is not form-encoded".to_owned())
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn verify_callback(args: &StoreKeyArgs) -> ExitCode {
    let fields = match read_form() {
        Ok(fields) => fields,
        Err(reason) => {
            println!("invalid: {reason}");
            return ExitCode::FAILURE;
        }
    };
    match value(&fields, "mdStatus") {
        Some("1") => {}
        Some(md_status) => eprintln!(
            "note: mdStatus is {md_status:?}: only 1 is a full authentication; in the 3d \
             model a failed callback charged nothing, whatever its hash"
        ),
        None => eprintln!("note: no mdStatus: the payment was refused before 3D"),
    }
    let ver3 = value(&fields, "hashAlgorithm") == Some("ver3");
    let legacy = !ver3 && !legacy_hash_params(&fields).is_empty();
    let result = if legacy {
        eprintln!("checking the legacy SHA-1 scheme over HASHPARAMS");
        verify_legacy_callback(&fields, &args.store_key)
    } else {
        verify_ver3(&fields, &args.store_key)
    };
    match result {
        Ok(()) => {
            println!("valid");
            ExitCode::SUCCESS
        }
        Err(SignatureError::Missing) => {
            println!("invalid: no HASH field");
            ExitCode::FAILURE
        }
        Err(SignatureError::Mismatch) if legacy => {
            println!(
                "invalid: HASH does not match the HASHPARAMS fields and the store key \
                 (check the store key and that no field was changed)"
            );
            ExitCode::FAILURE
        }
        Err(SignatureError::Mismatch) => {
            eprintln!("hashed:  {}", ver3_plaintext_masked(&fields));
            println!(
                "invalid: HASH does not match the ver3 hash of the other fields (check the \
                 store key and that every field arrived exactly as posted)"
            );
            ExitCode::FAILURE
        }
    }
}

fn hash(args: &HashArgs) -> ExitCode {
    let fields = match read_form() {
        Ok(fields) => fields,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let order = ver3_order(&fields);
    let computed = hash_ver3(&fields, &args.key.store_key);
    println!("order:  {}|storeKey", order.join("|"));
    println!("hashed: {}", ver3_plaintext_masked(&fields));
    println!("hash:   {computed}");
    if args.legacy {
        let missing: Vec<&str> = LEGACY_REQUEST_FIELDS
            .iter()
            .copied()
            .filter(|name| value(&fields, name).is_none())
            .collect();
        if !missing.is_empty() {
            eprintln!("note: {} absent from the legacy hash", missing.join(", "));
        }
        println!(
            "legacy: {}",
            legacy_request_hash(&fields, &args.key.store_key)
        );
    }
    if let Some(given) = given_hash(&fields) {
        let same = hashes_equal(&computed, given);
        println!(
            "given:  {given} ({})",
            if same { "matches" } else { "DOES NOT match" }
        );
        if !same {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

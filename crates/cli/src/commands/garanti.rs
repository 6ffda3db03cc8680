//! `sanalpos garanti ...`: the tools a merchant reaches for when Garanti BBVA says
//! "hash hatalı" or a 3D callback looks wrong.
//!
//! `verify-callback` checks a 3D callback's `hash` over the fields its `hashparams`
//! names (SHA-512 for `apiversion` 512, Base64 SHA-1 for the legacy ones), refusing a
//! `hashparams` that leaves out a field that must be signed. `hash` shows how a
//! request's `HashData` (a `GVPSRequest` on stdin) or a 3D form's `secure3dhash` (form
//! fields on stdin) is built from its fields and the password, and compares it with
//! the one given.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sanalpos_gateway::garanti::signing::{
    form_hash, hash_data, hash_data_preimage, hash_params, padded_terminal, security_data,
    verify_callback, FormInputs, HashInputs, HashVersion, SignatureError, REQUIRED_HASH_PARAMS,
    REQUIRED_PAY_PARAMS,
};
use sanalpos_gateway::garanti::xml::parse_tree;
use sanalpos_gateway::scrub_card_numbers;

/// The `garanti` subcommands.
#[derive(Debug, Subcommand)]
pub enum GarantiCommand {
    /// Read a form-encoded 3D callback on stdin and check its `hash`. Prints `valid` or
    /// `invalid: <reason>`; exits 0 or 1.
    VerifyCallback(StoreKeyArgs),
    /// Read a GVPSRequest (XML) or the form-encoded 3D form on stdin; print what its
    /// HashData or secure3dhash covers (secrets masked) and the hash. A hash in the
    /// input is compared with it.
    Hash(HashArgs),
}

/// The store key option.
#[derive(Debug, Args)]
pub struct StoreKeyArgs {
    /// The 3D store key from the bank's merchant panel.
    #[arg(long, env = "SANALPOS_GARANTI_STORE_KEY", hide_env_values = true)]
    store_key: String,
}

/// Options of `hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// The password of the user the request names (PROVAUT; PROVRFN for void and
    /// refund). The 3D form is signed with the PROVAUT password.
    #[arg(long, env = "SANALPOS_GARANTI_PASSWORD", hide_env_values = true)]
    password: String,
    /// The 3D store key (needed for a 3D form only).
    #[arg(long, env = "SANALPOS_GARANTI_STORE_KEY", hide_env_values = true)]
    store_key: Option<String>,
}

/// Runs a `garanti` subcommand.
pub fn run(command: GarantiCommand) -> ExitCode {
    match command {
        GarantiCommand::VerifyCallback(args) => verify(&args),
        GarantiCommand::Hash(args) => hash(&args),
    }
}

fn read_stdin() -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "stdin is not UTF-8".to_owned())
}

fn read_form(text: &str) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(text.trim())
        .map_err(|_| "stdin is not form-encoded".to_owned())
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

fn verify(args: &StoreKeyArgs) -> ExitCode {
    let fields = match read_stdin().and_then(|t| read_form(&t)) {
        Ok(fields) => fields,
        Err(reason) => {
            println!("invalid: {reason}");
            return ExitCode::FAILURE;
        }
    };
    match value(&fields, "mdstatus") {
        "1" => {}
        "" => eprintln!("note: no mdstatus: the payment was refused before 3D"),
        other => eprintln!(
            "note: mdstatus is {other:?}: only 1 is a full authentication; in the 3D model a \
             failed callback charged nothing, whatever its hash"
        ),
    }
    // No apiversion at all: the current generation, which our forms ask for.
    let version = match value(&fields, "apiversion") {
        "" => HashVersion::V512,
        other => HashVersion::of(other),
    };
    if version == HashVersion::Legacy {
        eprintln!(
            "checking the legacy scheme (apiversion {:?}): Base64 SHA-1",
            value(&fields, "apiversion")
        );
    }
    let pay = value(&fields, "secure3dsecuritylevel").eq_ignore_ascii_case("3D_PAY");
    match verify_callback(version, &fields, &args.store_key, pay) {
        Ok(()) => {
            println!("valid");
            ExitCode::SUCCESS
        }
        Err(SignatureError::MissingHash) => {
            println!("invalid: no hash field (an error callback carries none: it proves nothing)");
            ExitCode::FAILURE
        }
        Err(SignatureError::WeakParams) => {
            let mut required: Vec<&str> = REQUIRED_HASH_PARAMS.to_vec();
            if pay {
                required.extend(REQUIRED_PAY_PARAMS);
            }
            println!(
                "invalid: hashparams must name {} (it names {:?})",
                required.join(", "),
                value(&fields, "hashparams")
            );
            ExitCode::FAILURE
        }
        Err(SignatureError::Mismatch) => {
            let params = hash_params(value(&fields, "hashparams"));
            eprintln!("hashed:  {} + store key", params.join(" + "));
            println!(
                "invalid: hash does not match the hashparams fields and the store key (check \
                 the store key and that every field arrived exactly as posted)"
            );
            ExitCode::FAILURE
        }
    }
}

/// Compares a computed hash with the one given; prints both.
fn compare(computed: &str, given: &str) -> ExitCode {
    println!("hash:   {computed}");
    if given.is_empty() {
        return ExitCode::SUCCESS;
    }
    let same = computed.eq_ignore_ascii_case(given.trim());
    println!(
        "given:  {} ({})",
        given.trim(),
        if same { "matches" } else { "DOES NOT match" }
    );
    if same {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn hash(args: &HashArgs) -> ExitCode {
    let text = match read_stdin() {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if text.trim_start().starts_with('<') {
        request_hash(args, &text)
    } else {
        match read_form(&text) {
            Ok(fields) => form(args, &fields),
            Err(e) => {
                eprintln!("error: {e} (nor a GVPSRequest)");
                ExitCode::FAILURE
            }
        }
    }
}

fn request_hash(args: &HashArgs, text: &str) -> ExitCode {
    let root = match parse_tree(text) {
        Ok(root) if root.name == "GVPSRequest" => root,
        _ => {
            eprintln!("error: stdin is not a GVPSRequest document");
            return ExitCode::FAILURE;
        }
    };
    let get = |path: &str| root.get(path).unwrap_or_default().trim();
    let version = HashVersion::of(get("Version"));
    let terminal = get("Terminal/ID");
    let inputs = HashInputs {
        order_id: get("Order/OrderID"),
        terminal_id: terminal,
        card_number: get("Card/Number"),
        amount: get("Transaction/Amount"),
        currency: get("Transaction/CurrencyCode"),
    };
    let security = security_data(&args.password, terminal);
    println!(
        "user:     {} (the password must be this user's: PROVRFN signs void and refund, PROVAUT the rest)",
        get("Terminal/ProvUserID")
    );
    println!(
        "security: SHA-1(password + {}) = {security}",
        padded_terminal(terminal)
    );
    // The card number is shown masked whatever it is (a test number may fail Luhn).
    let card = inputs.card_number;
    let masked_card = if card.len() >= 10 {
        format!(
            "{}{}{}",
            &card[..6],
            "*".repeat(card.len() - 10),
            &card[card.len() - 4..]
        )
    } else {
        "*".repeat(card.len())
    };
    let shown = hash_data_preimage(
        version,
        &HashInputs {
            card_number: &masked_card,
            ..inputs
        },
        "<SecurityData>",
    );
    println!(
        "hashed:   {} ({})",
        scrub_card_numbers(&shown),
        match version {
            HashVersion::V512 =>
                "Version 512: SHA-512, OrderID + ID + card + Amount + CurrencyCode + SecurityData",
            HashVersion::Legacy =>
                "legacy Version: SHA-1, OrderID + ID + card + Amount + SecurityData",
        }
    );
    compare(
        &hash_data(version, &inputs, &security),
        get("Terminal/HashData"),
    )
}

fn form(args: &HashArgs, fields: &[(String, String)]) -> ExitCode {
    let Some(store_key) = args.store_key.as_deref() else {
        eprintln!("error: a 3D form's hash needs --store-key");
        return ExitCode::FAILURE;
    };
    let v = |name: &str| value(fields, name);
    let version = HashVersion::of(v("apiversion"));
    let inputs = FormInputs {
        terminal_id: v("terminalid"),
        order_id: v("orderid"),
        amount: v("txnamount"),
        currency: v("txncurrencycode"),
        success_url: v("successurl"),
        error_url: v("errorurl"),
        txn_type: v("txntype"),
        installments: v("txninstallmentcount"),
    };
    let security = security_data(&args.password, inputs.terminal_id);
    let order = match version {
        HashVersion::V512 => "terminalid + orderid + txnamount + txncurrencycode + successurl + errorurl + txntype + txninstallmentcount + storekey + SecurityData (SHA-512)",
        HashVersion::Legacy => "terminalid + orderid + txnamount + successurl + errorurl + txntype + txninstallmentcount + storekey + SecurityData (SHA-1, no currency)",
    };
    println!("order:  {order}");
    compare(
        &form_hash(version, &inputs, store_key, &security),
        v("secure3dhash"),
    )
}

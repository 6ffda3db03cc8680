//! `sanalpos nkolay ...`: the tools a merchant reaches for when "hash mismatch" strikes.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sanalpos_gateway::nkolay::signing::{
    hash_v2, hashed_text_masked, hashes_equal, verify_answer, AnswerHashVariant, SignatureError,
    SignedRequest,
};

/// The `nkolay` subcommands.
#[derive(Debug, Subcommand)]
pub enum NkolayCommand {
    /// Read a form-encoded N Kolay answer or 3D postback on stdin and check its
    /// hashDataV2 (both variants: with and without CURRENCY_CODE). Prints `valid` or
    /// `invalid: <reason>`; exits 0 or 1.
    VerifyCallback(VerifyArgs),
    /// Print the exact text that is hashed for a request (secret masked) and its
    /// hashDatav2.
    Hash(HashArgs),
}

/// Options of `verify-callback`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The merchant secret key (merchantSecretKey).
    #[arg(long, env = "SANALPOS_NKOLAY_SECRET_KEY", hide_env_values = true)]
    secret_key: String,
}

/// Options of `hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Which request: payment, cancel-refund, payment-list, pf-transaction-report-list,
    /// merchant-information, pre-auth-capture, pre-auth-release, pre-auth-list,
    /// card-list, card-delete (not card-register: its hash covers the card number and
    /// CVV, which this tool would print).
    #[arg(value_parser = parse_request)]
    request: SignedRequest,
    /// The merchant secret key (merchantSecretKey).
    #[arg(long, env = "SANALPOS_NKOLAY_SECRET_KEY", hide_env_values = true)]
    secret_key: String,
    /// A field as NAME=VALUE (repeat); fields not given hash as empty.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// Read the request's fields as a form-encoded body from stdin instead (a
    /// `hashDatav2` in it is compared with the computed one).
    #[arg(long)]
    stdin: bool,
}

fn parse_request(name: &str) -> Result<SignedRequest, String> {
    SignedRequest::from_name(name).ok_or_else(|| {
        let names: Vec<_> = SignedRequest::ALL.iter().map(|r| r.name()).collect();
        format!("unknown request; one of: {}", names.join(", "))
    })
}

/// Runs a `nkolay` subcommand.
pub fn run(command: NkolayCommand) -> ExitCode {
    match command {
        NkolayCommand::VerifyCallback(args) => verify_callback(&args),
        NkolayCommand::Hash(args) => hash(args),
    }
}

fn read_stdin() -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "stdin is not UTF-8".to_owned())
}

/// Form pairs from a form-encoded body, or from a flat JSON object (an API answer).
fn parse_fields(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    if text.starts_with('{') {
        let answer = sanalpos_gateway::nkolay::codec::Answer::parse(text)
            .map_err(|_| "stdin is neither form-encoded nor a JSON answer".to_owned())?;
        let mut fields = Vec::new();
        for key in [
            "MERCHANT_NO",
            "REFERENCE_CODE",
            "AUTH_CODE",
            "RESPONSE_CODE",
            "USE_3D",
            "RND",
            "INSTALLMENT",
            "AUTHORIZATION_AMOUNT",
            "CURRENCY_CODE",
            "hashDataV2",
        ] {
            if let Some(value) = answer.text(key) {
                fields.push((key.to_owned(), value));
            }
        }
        return Ok(fields);
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(text)
        .map_err(|_| "stdin is not form-encoded".to_owned())
}

fn verify_callback(args: &VerifyArgs) -> ExitCode {
    let fields = match read_stdin().and_then(|text| parse_fields(&text)) {
        Ok(fields) => fields,
        Err(reason) => {
            println!("invalid: {reason}");
            return ExitCode::FAILURE;
        }
    };
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match verify_answer(get, &args.secret_key) {
        Ok(variant) => {
            println!("valid");
            let which = match variant {
                AnswerHashVariant::WithCurrency => "with CURRENCY_CODE",
                AnswerHashVariant::WithoutCurrency => "without CURRENCY_CODE",
            };
            eprintln!("hashDataV2 verified ({which})");
            ExitCode::SUCCESS
        }
        Err(SignatureError::Missing) => {
            println!("invalid: no hashDataV2 field");
            ExitCode::FAILURE
        }
        Err(SignatureError::Mismatch) => {
            println!(
                "invalid: hashDataV2 does not match (checked with and without CURRENCY_CODE; \
                 check the secret key and that no field was changed)"
            );
            ExitCode::FAILURE
        }
    }
}

fn hash(args: HashArgs) -> ExitCode {
    let pairs: Result<Vec<(String, String)>, String> = if args.stdin {
        read_stdin().and_then(|text| {
            serde_urlencoded::from_str(text.trim()).map_err(|_| "stdin is not form-encoded".into())
        })
    } else {
        args.fields
            .iter()
            .map(|f| {
                f.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| format!("--field {f:?} is not NAME=VALUE"))
            })
            .collect()
    };
    let pairs = match pairs {
        Ok(pairs) => pairs,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let names = args.request.fields();
    for (name, _) in &pairs {
        if name != "hashDatav2" && !names.contains(&name.as_str()) {
            eprintln!("note: {name} is not part of this request's hash");
        }
    }
    let values: Vec<&str> = names
        .iter()
        .map(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        })
        .collect();
    for (name, value) in names.iter().zip(&values) {
        if value.is_empty() {
            eprintln!("note: {name} is empty (its slot stays: a||c)");
        }
    }
    let hash = hash_v2(&values, &args.secret_key);
    println!("order:      {}|merchantSecretKey", names.join("|"));
    println!("hashed:     {}", hashed_text_masked(&values));
    println!("hashDatav2: {hash}");
    if let Some((_, given)) = pairs.iter().find(|(k, _)| k == "hashDatav2") {
        let same = hashes_equal(&hash, given);
        println!(
            "given:      {given} ({})",
            if same { "matches" } else { "DOES NOT match" }
        );
        if !same {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

//! Recording sales in the ledger and building the signed completed-sale answer, shared
//! by the payment endpoint, the ACS postback, CompletePayment and panel sales.

use chrono::{DateTime, Days, FixedOffset};
use rand::Rng;
use sanalpos_core::{BankCode, Currency, Kurus, MaskedPan};
use serde_json::{Map, Value};

use crate::cards::{BinInfo, Outcome};
use crate::clock;
use crate::config::MerchantConfig;
use crate::hash;
use crate::state::{State, Transaction, TxKind, TxStatus};
use crate::tariff::{Pricing, TariffLine};

/// `ERROR_CODE` of a failed 3D authentication (wrong SMS code).
pub const CODE_3D_FAILED: &str = "3D0001";
/// `ERROR_CODE` of a 3D authentication the cardholder cancelled.
pub const CODE_3D_CANCELLED: &str = "3D0002";

/// Everything about a new sale except its outcome.
pub struct NewSale {
    /// The merchant number whose ledger gets the row.
    pub merchant_no: String,
    /// The merchant's reference (may be empty for panel sales).
    pub client_ref: String,
    /// SALES or PRESALES.
    pub kind: TxKind,
    /// The amounts under the tariff line.
    pub pricing: Pricing,
    /// The tariff line of the installment count.
    pub line: TariffLine,
    /// The currency the request named; the pricing is in it.
    pub currency: Currency,
    /// The masked card.
    pub masked_pan: MaskedPan,
    /// The cardholder name.
    pub card_holder: String,
    /// What the BIN table knows of the card.
    pub bin: Option<BinInfo>,
    /// Through 3D Secure.
    pub is_3d: bool,
    /// The merchant's description.
    pub description: String,
    /// Keyed in on the panel.
    pub panel: bool,
}

/// Records a sale as `NEW` (no outcome yet) on the merchant's open business day and
/// returns its ledger index. Apply the outcome with [`apply_outcome`].
pub fn record_sale(state: &mut State, sale: NewSale, now: DateTime<FixedOffset>) -> usize {
    let business_day = state.open_day(&sale.merchant_no, now.date_naive());
    let valor_date = business_day
        .checked_add_days(Days::new(u64::from(sale.line.valor_days)))
        .unwrap_or(business_day);
    let reference_code = state.new_reference();
    let bin = sale.bin;
    state.insert(Transaction {
        seq: 0,
        merchant_no: sale.merchant_no,
        reference_code,
        sale_reference_code: None,
        client_ref: sale.client_ref,
        kind: sale.kind,
        status: TxStatus::New,
        auth_code: String::new(),
        amount: sale.pricing.amount,
        authorization_amount: sale.pricing.authorization,
        surcharge: sale.pricing.surcharge,
        commission: sale.pricing.commission,
        commission_rate_bp: sale.line.commission_bp,
        surcharge_rate_bp: sale.line.surcharge_bp,
        installments: sale.line.installments,
        currency: sale.currency,
        masked_pan: sale.masked_pan,
        card_holder: sale.card_holder,
        card_bank_code: bin.map(|b| b.bank_code.to_owned()).unwrap_or_default(),
        card_bank_name: bin.map(|b| b.bank_name.to_owned()).unwrap_or_default(),
        program: bin.map(|b| b.program.code.to_owned()).unwrap_or_default(),
        is_3d: sale.is_3d,
        description: sale.description,
        bank_code: String::new(),
        bank_result: String::new(),
        created_at: now,
        business_day,
        valor_date,
        panel: sale.panel,
        pre_approved: false,
        cancelled: false,
        returned_amount: Kurus::ZERO,
    })
}

/// Applies the bank's outcome to a recorded sale. An approval gets an auth code and
/// becomes SUCCESS when `complete`, else stays NEW as pre-approved (AutoComplete off).
/// A decline becomes ERROR and collects no commission.
pub fn apply_outcome(state: &mut State, index: usize, outcome: &Outcome, complete: bool) {
    match outcome {
        Outcome::Approve => {
            let auth = state.new_auth_code();
            let tx = &mut state.txs[index];
            tx.auth_code = auth;
            tx.bank_code = "00".into();
            tx.bank_result = "00 - Onaylandı".into();
            if complete {
                tx.status = TxStatus::Success;
            } else {
                tx.pre_approved = true;
            }
        }
        Outcome::Decline(code) => {
            let tx = &mut state.txs[index];
            tx.status = TxStatus::Error;
            tx.bank_code = (*code).to_owned();
            tx.bank_result = format!("{code} - {}", decline_text(code));
            tx.commission = Kurus::ZERO;
        }
    }
}

/// Marks a 3D sale failed (wrong code or cancelled) with the provider's own code.
pub fn apply_3d_failure(tx: &mut Transaction, code: &str, text: &str) {
    tx.status = TxStatus::Error;
    tx.bank_code = code.to_owned();
    tx.bank_result = text.to_owned();
    tx.commission = Kurus::ZERO;
}

/// The catalogue's Turkish text of a bank code.
pub fn decline_text(code: &str) -> String {
    BankCode::parse(code)
        .map(|c| c.message().tr)
        .unwrap_or_else(|| format!("Banka kodu {code}: işlem onaylanmadı"))
}

/// The text of a 3D failure code.
pub fn failure_text(code: &str) -> &'static str {
    if code == CODE_3D_CANCELLED {
        "İşlem kullanıcı tarafından iptal edildi"
    } else {
        "3D doğrulama başarısız"
    }
}

/// The provider's own `RND` of an answer: the time and a random suffix.
fn fresh_rnd(now: &DateTime<FixedOffset>) -> String {
    format!(
        "{}{:06}",
        clock::fmt_rnd(now),
        rand::rng().random_range(0..1_000_000u32)
    )
}

/// The fields of a completed-sale answer (approved, declined or 3D-failed), in the
/// provider's order, ending with `hashDataV2` signed with `secret` over
/// `MERCHANT_NO|REFERENCE_CODE|AUTH_CODE|RESPONSE_CODE|USE_3D|RND|INSTALLMENT|`
/// `AUTHORIZATION_AMOUNT|CURRENCY_CODE`. Without `include_currency` the
/// `CURRENCY_CODE` field is left out of both the fields and the hash.
///
/// Declines deliberately vary where the bank code sits, as the real service does: code
/// 05 comes as a single digit `ERROR_CODE` `5`, code 12 only inside `RESPONSE_DATA`,
/// every other code as `ERROR_CODE` `NN` and `BANK_RESULT` `NN - text`.
pub fn sale_fields(
    merchant: &MerchantConfig,
    tx: &Transaction,
    include_currency: bool,
    secret: &str,
) -> Vec<(&'static str, String)> {
    let now = clock::now();
    let approved = tx.status == TxStatus::Success || tx.pre_approved;
    let (response_code, response_data, error_code, bank_result) = if approved {
        (
            "2",
            "İşlem başarılı".to_owned(),
            String::new(),
            tx.bank_result.clone(),
        )
    } else if tx.bank_code.starts_with("3D") {
        (
            "0",
            failure_text(&tx.bank_code).to_owned(),
            tx.bank_code.clone(),
            String::new(),
        )
    } else {
        match tx.bank_code.as_str() {
            "05" => ("0", decline_text("05"), "5".to_owned(), String::new()),
            "12" => (
                "0",
                format!("{} (Banka kodu: 12)", decline_text("12")),
                String::new(),
                String::new(),
            ),
            code => (
                "0",
                decline_text(code),
                code.to_owned(),
                tx.bank_result.clone(),
            ),
        }
    };
    let use_3d = if tx.is_3d { "true" } else { "false" };
    let rnd = fresh_rnd(&now);
    let installment = tx.installments.to_string();
    let authorization = tx.authorization_amount.to_string();
    let currency = tx.currency.numeric().to_string();
    let mut signed: Vec<&str> = vec![
        &merchant.merchant_no,
        &tx.reference_code,
        &tx.auth_code,
        response_code,
        use_3d,
        &rnd,
        &installment,
        &authorization,
    ];
    if include_currency {
        signed.push(&currency);
    }
    let hash = hash::hash_v2(&signed, secret);
    let mut fields = vec![
        ("RESPONSE_CODE", response_code.to_owned()),
        ("RESPONSE_DATA", response_data),
        ("USE_3D", use_3d.to_owned()),
        ("MERCHANT_NO", merchant.merchant_no.clone()),
        ("AUTH_CODE", tx.auth_code.clone()),
        ("REFERENCE_CODE", tx.reference_code.clone()),
        ("CLIENT_REFERENCE_CODE", tx.client_ref.clone()),
        ("AUTHORIZATION_AMOUNT", authorization),
        ("TRANSACTION_AMOUNT", tx.amount.to_string()),
        ("INSTALLMENT", installment),
        ("RND", rnd),
        ("TIMESTAMP", now.format("%Y-%m-%d %H:%M:%S").to_string()),
        ("COMMISION", tx.commission.to_string()),
        (
            "COMMISION_RATE",
            crate::tariff::fmt_rate(tx.commission_rate_bp),
        ),
    ];
    if include_currency {
        fields.push(("CURRENCY_CODE", currency));
    }
    fields.push(("ERROR_CODE", error_code));
    fields.push(("BANK_RESULT", bank_result));
    fields.push(("hashDataV2", hash));
    fields
}

/// The fields as a flat JSON object of strings.
pub fn fields_to_json(fields: &[(&'static str, String)]) -> Value {
    let map: Map<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    Value::Object(map)
}

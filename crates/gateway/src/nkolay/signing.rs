//! N Kolay's `hashDatav2`: Base64(SHA-512(fields joined with `|`, then `|secret`)).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// The signed fields of each request, in hash order (the secret key comes last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedRequest {
    /// `/Vpos/v1/Payment`, `/Vpos/Payment/Payment` and the hosted page `/Vpos`.
    Payment,
    /// `/Vpos/v1/CancelRefundPayment` (with `sx-cancel`).
    CancelRefund,
    /// `/Vpos/Payment/PaymentList` (with `sx-list`).
    PaymentList,
    /// `/Vpos/Payment/PfTransactionReportList` (with `sx-list`).
    PfTransactionReportList,
    /// `/Vpos/Payment/GetMerchandInformation`.
    MerchantInformation,
    /// `/Vpos/Payment/PreAuthorizationAprove`: capture of a pre-authorisation.
    PreAuthCapture,
    /// `/Vpos/Payment/PreAuthorizationCancel`: release of a pre-authorisation.
    PreAuthRelease,
    /// `/Vpos/Payment/PreAuthorizationList` (with `sx-list`; the end date comes first).
    PreAuthList,
    /// `/Vpos/Payment/CardStorageCardRegister`: a card into the vault.
    CardRegister,
    /// `/Vpos/Payment/CardStorageCardList`: a customer's stored cards.
    CardList,
    /// `/Vpos/Payment/CardStorageCardDelete`: one stored card out of the vault.
    CardDelete,
}

impl SignedRequest {
    /// Every signed request the tools may name. [`SignedRequest::CardRegister`] is left
    /// out on purpose: its hashed text holds a card number and CVV, which a tool that
    /// prints what it hashes must never be handed.
    pub const ALL: [SignedRequest; 10] = [
        SignedRequest::Payment,
        SignedRequest::CancelRefund,
        SignedRequest::PaymentList,
        SignedRequest::PfTransactionReportList,
        SignedRequest::MerchantInformation,
        SignedRequest::PreAuthCapture,
        SignedRequest::PreAuthRelease,
        SignedRequest::PreAuthList,
        SignedRequest::CardList,
        SignedRequest::CardDelete,
    ];

    /// The form field names that go into the hash, in order.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            SignedRequest::Payment => &[
                "sx",
                "clientRefCode",
                "amount",
                "successUrl",
                "failUrl",
                "rnd",
                "customerKey",
            ],
            SignedRequest::CancelRefund => &["sx", "referenceCode", "type", "amount", "trxDate"],
            SignedRequest::PaymentList => &["sx", "startDate", "endDate", "clientRefCode"],
            SignedRequest::PfTransactionReportList => &[
                "sx",
                "startDate",
                "endDate",
                "clientReferenceCode",
                "referenceCode",
            ],
            SignedRequest::MerchantInformation => &["sx", "date"],
            SignedRequest::PreAuthCapture => &["sx", "trxDate", "amount", "referenceCode"],
            SignedRequest::PreAuthRelease => &[
                "sx",
                "trxDate",
                "amount",
                "referenceCode",
                "transactionType",
            ],
            SignedRequest::PreAuthList => &["sx", "endDate", "startDate"],
            SignedRequest::CardRegister => &["sx", "cardNumber", "cvv"],
            SignedRequest::CardList => &["sx", "customerKey"],
            SignedRequest::CardDelete => &["sx", "customerKey", "tranId", "token"],
        }
    }

    /// The name used on the command line (`payment`, `cancel-refund`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SignedRequest::Payment => "payment",
            SignedRequest::CancelRefund => "cancel-refund",
            SignedRequest::PaymentList => "payment-list",
            SignedRequest::PfTransactionReportList => "pf-transaction-report-list",
            SignedRequest::MerchantInformation => "merchant-information",
            SignedRequest::PreAuthCapture => "pre-auth-capture",
            SignedRequest::PreAuthRelease => "pre-auth-release",
            SignedRequest::PreAuthList => "pre-auth-list",
            SignedRequest::CardRegister => "card-register",
            SignedRequest::CardList => "card-list",
            SignedRequest::CardDelete => "card-delete",
        }
    }

    /// The inverse of [`SignedRequest::name`].
    pub fn from_name(name: &str) -> Option<SignedRequest> {
        SignedRequest::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// The answer fields covered by `hashDataV2`, in order, with `CURRENCY_CODE`.
pub const ANSWER_FIELDS: [&str; 9] = [
    "MERCHANT_NO",
    "REFERENCE_CODE",
    "AUTH_CODE",
    "RESPONSE_CODE",
    "USE_3D",
    "RND",
    "INSTALLMENT",
    "AUTHORIZATION_AMOUNT",
    "CURRENCY_CODE",
];

/// `hashDatav2` of the values, in the order given.
pub fn hash_v2<S: AsRef<str>>(values: &[S], secret_key: &str) -> String {
    let mut hasher = Sha512::new();
    for value in values {
        hasher.update(value.as_ref().as_bytes());
        hasher.update(b"|");
    }
    hasher.update(secret_key.as_bytes());
    STANDARD.encode(hasher.finalize())
}

/// The exact text that is hashed, with the secret shown as `***`: what a merchant
/// compares when the provider says "hashData error".
pub fn hashed_text_masked<S: AsRef<str>>(values: &[S]) -> String {
    let mut text: String = values
        .iter()
        .map(|v| v.as_ref())
        .collect::<Vec<_>>()
        .join("|");
    text.push_str("|***");
    text
}

/// Compares two hashes in constant time (with respect to their content).
pub fn hashes_equal(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.trim().as_bytes()).into()
}

/// Which answer-hash variant verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerHashVariant {
    /// The documented list, ending in `CURRENCY_CODE`.
    WithCurrency,
    /// The official PHP plugin's list, without `CURRENCY_CODE`.
    WithoutCurrency,
}

/// Why an answer's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `hashDataV2` field.
    #[error("the answer carries no hashDataV2")]
    Missing,
    /// Neither variant matches.
    #[error("hashDataV2 does not match (checked with and without CURRENCY_CODE)")]
    Mismatch,
}

/// Verifies an answer or postback signature. `get` looks a field up by its documented
/// name (absent fields hash as empty). Accepts the variant with `CURRENCY_CODE` when that
/// field is present, and the variant without it always.
pub fn verify_answer<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    secret_key: &str,
) -> Result<AnswerHashVariant, SignatureError> {
    let given = get("hashDataV2")
        .or_else(|| get("hashDatav2"))
        .filter(|h| !h.trim().is_empty())
        .ok_or(SignatureError::Missing)?;
    let values: Vec<&str> = ANSWER_FIELDS.iter().map(|f| get(f).unwrap_or("")).collect();
    // Evaluate both variants before deciding, so timing does not reveal which matched.
    let with_currency =
        get("CURRENCY_CODE").is_some() && hashes_equal(&hash_v2(&values, secret_key), given);
    let without_currency = hashes_equal(&hash_v2(&values[..8], secret_key), given);
    if with_currency {
        Ok(AnswerHashVariant::WithCurrency)
    } else if without_currency {
        Ok(AnswerHashVariant::WithoutCurrency)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs answer fields the way the provider does (used by tests and tools).
pub fn sign_answer<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    secret_key: &str,
    variant: AnswerHashVariant,
) -> String {
    let values: Vec<&str> = ANSWER_FIELDS.iter().map(|f| get(f).unwrap_or("")).collect();
    match variant {
        AnswerHashVariant::WithCurrency => hash_v2(&values, secret_key),
        AnswerHashVariant::WithoutCurrency => hash_v2(&values[..8], secret_key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(serde::Deserialize)]
    struct Vectors {
        secret_key: String,
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        endpoint: String,
        fields: HashMap<String, String>,
        order: Vec<String>,
        #[serde(rename = "hashDatav2")]
        hash: String,
    }

    fn vectors() -> Vectors {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/nkolay.json");
        let text = std::fs::read_to_string(path).expect("vectors/nkolay.json in the repository");
        serde_json::from_str(&text).expect("vector file parses")
    }

    #[test]
    fn golden_vectors_sign_exactly() {
        let v = vectors();
        assert!(!v.vectors.is_empty());
        for vector in &v.vectors {
            let kind = match vector.endpoint.as_str() {
                "/Vpos/Payment/PaymentList" => SignedRequest::PaymentList,
                "/Vpos/v1/Payment" => SignedRequest::Payment,
                "/Vpos/v1/CancelRefundPayment" => SignedRequest::CancelRefund,
                "/Vpos/Payment/PfTransactionReportList" => SignedRequest::PfTransactionReportList,
                other => panic!("vector for an endpoint this client does not sign: {other}"),
            };
            // The client's own field order must be the documented one.
            assert_eq!(
                kind.fields(),
                vector.order.iter().map(String::as_str).collect::<Vec<_>>()
            );
            let values: Vec<&str> = kind
                .fields()
                .iter()
                .map(|f| vector.fields[*f].as_str())
                .collect();
            let hash = hash_v2(&values, &v.secret_key);
            assert_eq!(hash, vector.hash, "{}", vector.endpoint);
            assert_eq!(hash.len(), 88);
            assert!(hashes_equal(&hash, &vector.hash));
            assert!(!hashes_equal(&hash_v2(&values, "wrong"), &vector.hash));
        }
    }

    #[test]
    fn answer_variants_both_verify() {
        let fields: HashMap<&str, &str> = [
            ("MERCHANT_NO", "400000000"),
            ("REFERENCE_CODE", "IKSIRPF1234567890"),
            ("AUTH_CODE", "123456"),
            ("RESPONSE_CODE", "2"),
            ("USE_3D", "false"),
            ("RND", "29-11-2026 10:00:00"),
            ("INSTALLMENT", "1"),
            ("AUTHORIZATION_AMOUNT", "150.00"),
            ("CURRENCY_CODE", "949"),
        ]
        .into_iter()
        .collect();
        for variant in [
            AnswerHashVariant::WithCurrency,
            AnswerHashVariant::WithoutCurrency,
        ] {
            let mut signed = fields.clone();
            let hash = sign_answer(|k| fields.get(k).copied(), "secret", variant);
            signed.insert("hashDataV2", &hash);
            assert_eq!(
                verify_answer(|k| signed.get(k).copied(), "secret"),
                Ok(variant)
            );
            assert_eq!(
                verify_answer(|k| signed.get(k).copied(), "other"),
                Err(SignatureError::Mismatch)
            );
            let mut tampered = signed.clone();
            tampered.insert("AUTHORIZATION_AMOUNT", "1500.00");
            assert_eq!(
                verify_answer(|k| tampered.get(k).copied(), "secret"),
                Err(SignatureError::Mismatch)
            );
        }
        assert_eq!(
            verify_answer(|k| fields.get(k).copied(), "secret"),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn masked_text_hides_the_secret() {
        assert_eq!(hashed_text_masked(&["a", "", "c"]), "a||c|***");
    }
}

//! The bank response-code catalogue (ISO 8583 style), in Turkish and English.
//!
//! Finance staff read the bank's reason for a decline ("Yetersiz bakiye", "Kayıp kart!
//! Karta el koyunuz"), so every code the provider documents has a text in both
//! languages, and a code that is missing from the table still reads as a sentence.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A two-character bank response code (`05`, `51`). A single digit is padded (`5` → `05`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BankCode(String);

impl BankCode {
    /// One or two ASCII alphanumerics; a lone digit is padded with a leading zero.
    pub fn parse(text: &str) -> Option<BankCode> {
        let text = text.trim();
        match text.len() {
            1 if text.as_bytes()[0].is_ascii_digit() => Some(BankCode(format!("0{text}"))),
            2 if text.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Some(BankCode(text.to_ascii_uppercase()))
            }
            _ => None,
        }
    }

    /// The code as two characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `00`, the code of an approval.
    pub fn approval() -> BankCode {
        BankCode("00".to_owned())
    }

    /// `00`: approved.
    pub fn is_approval(&self) -> bool {
        self.0 == "00"
    }

    /// The texts for this code; a code missing from the catalogue gets a readable
    /// generic sentence naming it.
    pub fn message(&self) -> Message {
        match lookup(&self.0) {
            Some((tr, en)) => Message {
                tr: tr.to_owned(),
                en: en.to_owned(),
            },
            None => Message {
                tr: format!("Banka kodu {}: işlem onaylanmadı", self.0),
                en: format!("Bank code {}: transaction not approved", self.0),
            },
        }
    }

    /// Whether the catalogue knows this code.
    pub fn is_known(&self) -> bool {
        lookup(&self.0).is_some()
    }
}

impl fmt::Display for BankCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BankCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BankCode({})", self.0)
    }
}

impl TryFrom<String> for BankCode {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        BankCode::parse(&text).ok_or_else(|| "bank code must be one or two characters".into())
    }
}

impl From<BankCode> for String {
    fn from(code: BankCode) -> String {
        code.0
    }
}

/// A text in both languages of the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// The Turkish text, what a Turkish user reads (the default language).
    pub tr: String,
    /// The English text, shown when the user chose English.
    pub en: String,
}

impl Message {
    /// A message from two static texts.
    pub fn new(tr: &str, en: &str) -> Message {
        Message {
            tr: tr.to_owned(),
            en: en.to_owned(),
        }
    }
}

/// Every code the provider documents. Codes that share a meaning share a line.
const CATALOGUE: &[(&[&str], &str, &str)] = &[
    (&["00"], "Onaylandı", "Approved"),
    (
        &["01", "02"],
        "Kart bankasını arayınız",
        "Refer to card issuer",
    ),
    (
        &["03"],
        "POS tanımlarını kontrol edin (üye işyeri)",
        "Invalid merchant",
    ),
    (
        &["04", "07"],
        "Bloke edilmiş kart, karta el koyunuz",
        "Pick up card",
    ),
    (&["05", "06"], "İşlem onaylanmadı", "Do not honour"),
    (&["09", "19"], "Tekrar deneyebilirsiniz", "Retry"),
    (&["12"], "Geçersiz işlem", "Invalid transaction"),
    (&["13"], "İşlem tutarını kontrol edin", "Invalid amount"),
    (
        &["14", "56"],
        "Geçersiz kart numarası",
        "Invalid card number",
    ),
    (&["15"], "Tanımsız kart bankası", "No such issuer"),
    (
        &["21", "29"],
        "İşlem iptal edilemedi",
        "Cancellation not possible",
    ),
    (
        &["25", "28"],
        "İşlem sistemde bulunamadı",
        "Record not found",
    ),
    (&["30"], "Format hatası, tekrar deneyiniz", "Format error"),
    (
        &["33", "34", "36"],
        "Bloke edilmiş kart, karta el koyunuz",
        "Restricted card, pick up",
    ),
    (
        &["41"],
        "Kayıp kart! Karta el koyunuz",
        "Lost card, pick up",
    ),
    (
        &["43"],
        "Çalıntı kart! Karta el koyunuz",
        "Stolen card, pick up",
    ),
    (
        &["51"],
        "Yetersiz bakiye / yetersiz kart limiti",
        "Insufficient funds",
    ),
    (&["54"], "Kartın son kullanma tarihi dolmuş", "Expired card"),
    (&["55"], "Hatalı kart şifresi", "Incorrect PIN"),
    (
        &["57"],
        "Karta izin verilmeyen işlem",
        "Not permitted to cardholder",
    ),
    (
        &["58"],
        "POS tanımlarını kontrol edin",
        "Not permitted to terminal",
    ),
    (&["59"], "Şüpheli işlem", "Suspected fraud"),
    (
        &["61", "65"],
        "Kartın işlem limitleri aşıldı",
        "Exceeds limits",
    ),
    (&["62"], "Kısıtlanmış kart", "Restricted card"),
    (
        &["63"],
        "Bu işlem için yetkiniz bulunmuyor",
        "Security violation",
    ),
    (
        &["80"],
        "Kart geçerlilik tarihi hatalı",
        "Invalid expiry date",
    ),
    (&["82", "84"], "CVV hatalı", "CVV error"),
    (
        &["90"],
        "Gün sonu işlemleri yapılıyor, tekrar deneyiniz",
        "Cut-off in progress",
    ),
    (
        &["91", "92", "96"],
        "Kart bankası yanıt vermiyor",
        "Issuer unavailable",
    ),
    (
        &["93"],
        "E-ticaret işlemlerine kapalı kart",
        "Card closed to e-commerce",
    ),
    (
        &["94", "98"],
        "Çift işlem gönderme",
        "Duplicate transmission",
    ),
    (&["95"], "POS gün sonu hatası", "End-of-day error"),
    (&["99"], "Sistem hatası", "System error"),
];

fn lookup(code: &str) -> Option<(&'static str, &'static str)> {
    CATALOGUE
        .iter()
        .find(|(codes, _, _)| codes.contains(&code))
        .map(|(_, tr, en)| (*tr, *en))
}

/// Every code in the catalogue, for tests and for listing in the UI.
pub fn known_codes() -> impl Iterator<Item = BankCode> {
    CATALOGUE
        .iter()
        .flat_map(|(codes, _, _)| codes.iter())
        .map(|c| BankCode((*c).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_single_digits() {
        assert_eq!(BankCode::parse("5").unwrap().as_str(), "05");
        assert_eq!(BankCode::parse(" 51 ").unwrap().as_str(), "51");
        assert!(BankCode::parse("").is_none());
        assert!(BankCode::parse("123").is_none());
    }

    #[test]
    fn seed_messages() {
        assert_eq!(
            BankCode::parse("51").unwrap().message().tr,
            "Yetersiz bakiye / yetersiz kart limiti"
        );
        assert_eq!(
            BankCode::parse("41").unwrap().message().tr,
            "Kayıp kart! Karta el koyunuz"
        );
        assert_eq!(
            BankCode::parse("43").unwrap().message().en,
            "Stolen card, pick up"
        );
    }

    #[test]
    fn every_documented_code_has_both_texts() {
        let codes: Vec<_> = known_codes().collect();
        assert_eq!(codes.len(), 47);
        for code in codes {
            let m = code.message();
            assert!(!m.tr.is_empty() && !m.en.is_empty(), "{code}");
            assert!(!m.tr.starts_with("Banka kodu"), "{code}");
        }
    }

    #[test]
    fn unknown_codes_still_read() {
        let m = BankCode::parse("77").unwrap().message();
        assert_eq!(m.tr, "Banka kodu 77: işlem onaylanmadı");
        assert_eq!(m.en, "Bank code 77: transaction not approved");
        assert!(!BankCode::parse("77").unwrap().is_known());
    }
}

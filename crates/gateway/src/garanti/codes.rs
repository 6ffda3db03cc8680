//! Every Garanti code a person may read, in Turkish and English, and what each means for
//! the client.
//!
//! An answer's `Transaction/Response` says who refused: `Source` `HOST` carries the
//! issuer's ISO 8583 code in `Code` (read from [`sanalpos_core::BankCode`]'s catalogue),
//! `Source` `GVPS` is the gateway itself, with `Code` 92 and a four-digit `ReasonCode`.
//! The sources record three of those (0002, 0110, 0208); the rest below are the ones the
//! project's simulator answers where the sources are silent, in the bank's style, and
//! the client also recognises a credentials refusal by its words, so a live bank's own
//! numbering still lands in the right class.

use sanalpos_core::Message;

/// What a `GVPS` refusal means for the outcome of the call that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The user, password (through `SecurityData`) or `HashData` was refused: nothing
    /// was processed.
    Credentials,
    /// The bank does not allow this server's IP address: nothing was processed.
    IpNotAllowed,
    /// The request was refused as malformed before any processing.
    RequestFormat,
    /// The order id was used before: an earlier attempt reached the bank, so whether it
    /// charged must be asked, not assumed.
    DuplicateOrder,
    /// The bank looked at the request and said no.
    Refused,
}

/// One catalogue line: reason code, class, Turkish, English.
type Entry = (&'static str, ErrorClass, &'static str, &'static str);

/// `ReasonCode` 0208 on a refund: the sale cannot be refunded (yet).
pub const NOT_REFUNDABLE: &str = "0208";
/// `ReasonCode` 0110: no such transaction.
pub const NOT_FOUND: &str = "0110";
/// `ReasonCode` of a cancel after the sale's day was closed (simulator's code).
pub const CANCEL_CLOSED: &str = "0213";
/// `ReasonCode` of a refund above what is left (simulator's code).
pub const NOTHING_LEFT: &str = "0214";

const REASON_CODES: &[Entry] = &[
    (
        "0002",
        ErrorClass::RequestFormat,
        "Zorunlu bir alan eksik veya sıfır.",
        "A mandatory field is missing or zero.",
    ),
    (
        NOT_FOUND,
        ErrorClass::Refused,
        "İşlem bulunamadı.",
        "Transaction not found.",
    ),
    (
        NOT_REFUNDABLE,
        ErrorClass::Refused,
        "Satış henüz iade edilemez: aynı gün içinde iptal edin ya da gün sonundan sonra iade edin.",
        "The sale cannot be refunded yet: cancel it on its day, or refund it after the end of day.",
    ),
    (
        CANCEL_CLOSED,
        ErrorClass::Refused,
        "İptal edilebilecek satış bulunamadı: günü kapandıysa iade yapın.",
        "No sale that can be cancelled: if its day is closed, refund it instead.",
    ),
    (
        NOTHING_LEFT,
        ErrorClass::Refused,
        "İade edilecek tutar kalmadı.",
        "Nothing is left to refund.",
    ),
    (
        "0651",
        ErrorClass::Credentials,
        "Banka güvenlik doğrulamasını reddetti: kullanıcı, şifre (PROVAUT/PROVRFN) veya terminal bilgilerini kontrol edin.",
        "The bank refused the security check: check the user, the PROVAUT/PROVRFN password and the terminal.",
    ),
    (
        "0652",
        ErrorClass::IpNotAllowed,
        "Sunucunun IP adresi bankada tanımlı değil: bankaya bildirin.",
        "The bank does not allow this server's IP address: tell the bank.",
    ),
    (
        "0215",
        ErrorClass::DuplicateOrder,
        "Bu sipariş numarası daha önce kullanılmış.",
        "This order id has been used before.",
    ),
    (
        "0216",
        ErrorClass::Refused,
        "Bu taksit sayısı üye işyeri için tanımlı değil.",
        "This installment count is not allowed for the merchant.",
    ),
    (
        "0217",
        ErrorClass::DuplicateOrder,
        "Bu 3D doğrulaması daha önce bir işlemde kullanılmış.",
        "This 3D authentication has been used for a transaction before.",
    ),
    (
        "0218",
        ErrorClass::Refused,
        "3D doğrulaması bu siparişle eşleşmiyor.",
        "The 3D authentication does not match this order.",
    ),
];

/// 3D `mdstatus` values; `None` is a callback without one.
const MD_STATUS: &[(Option<&str>, &str, &str)] = &[
    (Some("1"), "3D doğrulaması tamamlandı.", "3D Secure authentication completed."),
    (
        Some("2"),
        "Kart sahibi veya bankası 3D Secure'a kayıtlı değil (yarım 3D); bu POS kabul etmiyor.",
        "Cardholder or issuer not enrolled in 3D Secure (half secure); this POS does not accept it.",
    ),
    (
        Some("3"),
        "Kartın bankası 3D Secure'a kayıtlı değil (yarım 3D); bu POS kabul etmiyor.",
        "The issuer is not enrolled in 3D Secure (half secure); this POS does not accept it.",
    ),
    (
        Some("4"),
        "Kart sahibi 3D Secure kaydını sonraya bıraktı (yarım 3D); bu POS kabul etmiyor.",
        "The cardholder chose to enrol later (half secure); this POS does not accept it.",
    ),
    (Some("5"), "3D doğrulaması yapılamadı.", "3D Secure authentication was not possible."),
    (Some("6"), "3D Secure hatası.", "3D Secure error."),
    (Some("7"), "3D sistem hatası.", "3D Secure system error."),
    (Some("8"), "Bilinmeyen kart numarası.", "Unknown card number."),
    (Some("9"), "Üye işyeri 3D Secure'a kayıtlı değil.", "The merchant is not enrolled in 3D Secure."),
    (
        Some("0"),
        "3D doğrulaması başarısız (şifre hatalı veya imza geçersiz).",
        "3D Secure authentication failed (wrong code or invalid signature).",
    ),
    (
        None,
        "Ödeme 3D doğrulamasından önce reddedildi.",
        "The payment was refused before 3D Secure authentication.",
    ),
];

/// The catalogue text of a `ReasonCode`, when known.
pub fn lookup_reason(code: &str) -> Option<Message> {
    REASON_CODES
        .iter()
        .find(|(c, ..)| *c == code.trim())
        .map(|(_, _, tr, en)| Message::new(tr, en))
}

/// What a `GVPS` refusal means: by its `ReasonCode`, else by words that only a
/// credentials or IP refusal carries.
pub fn classify(reason_code: &str, texts: &str) -> ErrorClass {
    if let Some((_, class, ..)) = REASON_CODES.iter().find(|(c, ..)| *c == reason_code.trim()) {
        return *class;
    }
    let lower = texts.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if any(&[
        "hashdata",
        "hash data",
        "securitydata",
        "provuserid",
        "şifre hatal",
        "sifre hatal",
        "password",
    ]) {
        ErrorClass::Credentials
    } else if any(&["ip adres", "ip address"]) {
        ErrorClass::IpNotAllowed
    } else {
        ErrorClass::Refused
    }
}

/// The refusal of a refund before the sale's day is closed.
pub fn day_not_closed() -> Message {
    lookup_reason(NOT_REFUNDABLE).unwrap_or_else(generic)
}

/// The refusal of a cancel after the sale's day is closed.
pub fn cancel_window_closed() -> Message {
    lookup_reason(CANCEL_CLOSED).unwrap_or_else(generic)
}

/// The refusal of a refund with nothing left to refund.
pub fn nothing_to_refund() -> Message {
    lookup_reason(NOTHING_LEFT).unwrap_or_else(generic)
}

/// A refusal without any usable code.
pub fn generic() -> Message {
    Message::new("İşlem onaylanmadı.", "Transaction not approved.")
}

/// The text of an `mdstatus` (or of its absence).
pub fn md_status_message(md_status: Option<&str>) -> Message {
    let md_status = md_status.map(str::trim).filter(|s| !s.is_empty());
    MD_STATUS
        .iter()
        .find(|(code, ..)| *code == md_status)
        .map(|(_, tr, en)| Message::new(tr, en))
        .unwrap_or_else(|| {
            Message::new(
                "3D doğrulaması başarısız.",
                "3D Secure authentication failed.",
            )
        })
}

/// Every `ReasonCode` in the catalogue (for tests and documentation).
pub fn known_reason_codes() -> impl Iterator<Item = &'static str> {
    REASON_CODES.iter().map(|(c, ..)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_has_both_languages_and_classes_hold() {
        for code in known_reason_codes() {
            let m = lookup_reason(code).unwrap();
            assert!(!m.tr.is_empty() && !m.en.is_empty(), "{code}");
        }
        for md in ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] {
            assert!(!md_status_message(Some(md)).en.is_empty());
        }
        assert_eq!(classify("0651", ""), ErrorClass::Credentials);
        assert_eq!(
            classify("9999", "HashData uyusmuyor"),
            ErrorClass::Credentials
        );
        assert_eq!(classify("0002", ""), ErrorClass::RequestFormat);
        assert_eq!(classify("0110", ""), ErrorClass::Refused);
        assert_eq!(classify("", "CVC2/4CSC HATALI"), ErrorClass::Refused);
    }
}

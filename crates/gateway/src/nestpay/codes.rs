//! Every NestPay code a person may read, in Turkish and English, and what each means for
//! the client: the `ERRORCODE`s, the `ProcReturnCode`s the protocol uses beside the ISO
//! bank codes, the 3D `mdStatus` values, and the texts of the refusals the service acts
//! on (day not closed, cancel window closed, nothing to refund).
//!
//! ISO 8583 issuer codes (`ISO8583-82`, ProcReturnCode `82`) are read from
//! [`sanalpos_core::BankCode`]'s catalogue; this file holds only what is NestPay's own.

use sanalpos_core::{BankCode, Message};

/// What an `ERRORCODE` means for the outcome of the call that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The API user, password or client id was refused: nothing was processed.
    Credentials,
    /// The bank does not allow this server's IP address: nothing was processed.
    IpNotAllowed,
    /// The request was refused as malformed before any processing.
    RequestFormat,
    /// The order id (or the 3D authentication) was used before: an earlier attempt
    /// with it reached the bank, so whether it charged must be asked, not assumed.
    DuplicateOrder,
    /// The bank processed the request and said no.
    Refused,
}

/// One catalogue line: code, class, Turkish, English.
type Entry = (&'static str, ErrorClass, &'static str, &'static str);

/// The `ERRORCODE`s of the protocol notes, then the ones a client must tell apart
/// (credentials, IP, duplicate order) from the NestPay merchant API manual's list.
const ERROR_CODES: &[Entry] = &[
    (
        "CORE-2012",
        ErrorClass::Refused,
        "Kart numarası geçerli biçimde değil.",
        "The card number is not in a valid format.",
    ),
    (
        "CORE-2603",
        ErrorClass::Refused,
        "Bu taksit sayısı üye işyeri için tanımlı değil.",
        "This installment count is not allowed for the merchant.",
    ),
    (
        "CORE-2508",
        ErrorClass::Refused,
        "Satışın günü henüz kapanmadı: bu gün içinde iptal yapılabilir, iade gün sonundan sonra.",
        "The sale's day is not closed yet: cancel it today, or refund it after the end of day.",
    ),
    (
        "CORE-2008",
        ErrorClass::Refused,
        "İptal edilebilecek satış bulunamadı: günü kapandıysa iade yapın.",
        "No sale that can be cancelled: if its day is closed, refund it instead.",
    ),
    (
        "215001",
        ErrorClass::Refused,
        "İptal edilebilecek satış bulunamadı: günü kapandıysa iade yapın.",
        "No sale that can be cancelled: if its day is closed, refund it instead.",
    ),
    (
        "215021",
        ErrorClass::Refused,
        "İade edilecek tutar kalmadı.",
        "Nothing is left to refund.",
    ),
    (
        "HPP-1001",
        ErrorClass::Refused,
        "Bankanın ödeme sayfası kart numarasını geçersiz buldu.",
        "The bank's payment page found the card number invalid.",
    ),
    (
        "3D-1007",
        ErrorClass::Refused,
        "Üye işyeri bu 3D modeli için tanımlı değil: bankayla görüşün.",
        "The merchant is not set up for this 3D model: contact the bank.",
    ),
    (
        "CORE-2201",
        ErrorClass::Credentials,
        "API kullanıcı adı veya şifresi banka tarafından reddedildi.",
        "The bank refused the API user name or password.",
    ),
    (
        "CORE-2202",
        ErrorClass::Credentials,
        "API kullanıcısının bu işlem için yetkisi yok.",
        "The API user is not permitted to do this operation.",
    ),
    (
        "CORE-1011",
        ErrorClass::Credentials,
        "API kullanıcı adı boş.",
        "The API user name is empty.",
    ),
    (
        "CORE-1013",
        ErrorClass::Credentials,
        "Mağaza numarası (ClientId) boş.",
        "The client id is empty.",
    ),
    (
        "CORE-2254",
        ErrorClass::IpNotAllowed,
        "Sunucunun IP adresi bankada tanımlı değil: bankaya bildirin.",
        "The bank does not allow this server's IP address: tell the bank.",
    ),
    (
        "CORE-2507",
        ErrorClass::DuplicateOrder,
        "Bu sipariş numarası daha önce kullanılmış.",
        "This order id has been used before.",
    ),
    // The 3D sale sent again with an authentication the bank already charged (the
    // callback posted twice after an unanswered Auth): the first Auth may have charged.
    (
        "CORE-2127",
        ErrorClass::DuplicateOrder,
        "Bu 3D doğrulaması daha önce bir işlemde kullanılmış.",
        "This 3D authentication has been used for a transaction before.",
    ),
];

/// `ProcReturnCode`s with a NestPay meaning beside the ISO codes.
const PROC_RETURN_CODES: &[(&str, &str, &str)] = &[
    ("00", "Onaylandı", "Approved"),
    (
        "99",
        "Banka sistemi işlemi reddetti.",
        "The bank's system refused the request.",
    ),
];

/// 3D `mdStatus` values; `None` is a callback without one (refused before 3D).
const MD_STATUS: &[(Option<&str>, &str, &str)] = &[
    (
        Some("1"),
        "3D doğrulaması tamamlandı.",
        "3D Secure authentication completed.",
    ),
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
    (
        Some("5"),
        "3D doğrulaması yapılamadı.",
        "3D Secure authentication was not possible.",
    ),
    (Some("6"), "3D Secure hatası.", "3D Secure error."),
    (Some("7"), "3D sistem hatası.", "3D Secure system error."),
    (Some("8"), "Bilinmeyen kart numarası.", "Unknown card number."),
    (
        Some("9"),
        "Üye işyeri 3D Secure'a kayıtlı değil.",
        "The merchant is not enrolled in 3D Secure.",
    ),
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

/// The refusal of a refund before the sale's day is closed.
pub fn day_not_closed() -> Message {
    lookup_error("CORE-2508").unwrap_or_else(generic)
}

/// The refusal of a cancel after the sale's day is closed.
pub fn cancel_window_closed() -> Message {
    lookup_error("CORE-2008").unwrap_or_else(generic)
}

/// The refusal of a refund with nothing left to refund.
pub fn nothing_to_refund() -> Message {
    lookup_error("215021").unwrap_or_else(generic)
}

/// A refusal without any code.
pub fn generic() -> Message {
    Message::new("İşlem onaylanmadı.", "Transaction not approved.")
}

/// The catalogue text of an `ERRORCODE`, when known.
pub fn lookup_error(code: &str) -> Option<Message> {
    ERROR_CODES
        .iter()
        .find(|(c, ..)| c.eq_ignore_ascii_case(code.trim()))
        .map(|(_, _, tr, en)| Message::new(tr, en))
}

/// What an `ERRORCODE` means for the outcome. `CORE-1xxx` (field validation) is a
/// format refusal; an unknown code is a refusal.
pub fn classify(code: &str) -> ErrorClass {
    let code = code.trim();
    if let Some((_, class, ..)) = ERROR_CODES
        .iter()
        .find(|(c, ..)| c.eq_ignore_ascii_case(code))
    {
        return *class;
    }
    if code.to_ascii_uppercase().starts_with("CORE-1") {
        ErrorClass::RequestFormat
    } else {
        ErrorClass::Refused
    }
}

/// The ISO bank code inside an `ERRORCODE` such as `ISO8583-82`.
pub fn iso_code(error_code: &str) -> Option<BankCode> {
    let rest = error_code.trim().strip_prefix("ISO8583-")?;
    if rest.len() <= 2 && rest.bytes().all(|b| b.is_ascii_digit()) {
        BankCode::parse(rest)
    } else {
        None
    }
}

/// The text of a `ProcReturnCode`: NestPay's own (`99`), else the ISO catalogue's.
pub fn proc_return_message(code: &str) -> Option<Message> {
    let code = code.trim();
    if let Some((_, tr, en)) = PROC_RETURN_CODES.iter().find(|(c, ..)| *c == code) {
        return Some(Message::new(tr, en));
    }
    BankCode::parse(code).map(|c| c.message())
}

/// The text of an `mdStatus` (or of its absence).
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

/// Every `ERRORCODE` in the catalogue (for tests and documentation).
pub fn known_error_codes() -> impl Iterator<Item = &'static str> {
    ERROR_CODES.iter().map(|(c, ..)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_has_both_languages() {
        for code in known_error_codes() {
            let m = lookup_error(code).unwrap();
            assert!(!m.tr.is_empty() && !m.en.is_empty(), "{code}");
        }
        for md in ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] {
            assert!(!md_status_message(Some(md)).en.is_empty());
        }
        assert!(md_status_message(None).en.contains("before"));
    }

    #[test]
    fn classes() {
        assert_eq!(classify("CORE-2201"), ErrorClass::Credentials);
        assert_eq!(classify("CORE-2254"), ErrorClass::IpNotAllowed);
        assert_eq!(classify("CORE-2507"), ErrorClass::DuplicateOrder);
        assert_eq!(classify("CORE-2127"), ErrorClass::DuplicateOrder);
        assert_eq!(classify("CORE-1019"), ErrorClass::RequestFormat);
        assert_eq!(classify("CORE-2012"), ErrorClass::Refused);
        assert_eq!(classify("ISO8583-51"), ErrorClass::Refused);
        assert_eq!(iso_code("ISO8583-82").unwrap().as_str(), "82");
        assert_eq!(iso_code("ISO8583-9999"), None);
        assert_eq!(iso_code("CORE-2012"), None);
        assert_eq!(proc_return_message("82").unwrap().en, "CVV error");
        assert!(day_not_closed().tr.contains("iade gün sonundan sonra"));
    }
}

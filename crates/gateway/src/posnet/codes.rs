//! Every PosNet code a person may read, in Turkish and English, and what each means for
//! the client.
//!
//! `respCode` is four characters. The sources record `0148` (the bank does not accept
//! this mid/tid from this server's IP: the IP whitelist), `0127` (order id used before),
//! `E216` (MAC check failed) and `0123` (no such transaction); issuer refusals come as
//! `00` + the ISO 8583 code (`0051` insufficient funds) and are read from
//! [`sanalpos_core::BankCode`]'s catalogue. The sources do not give the codes of a cancel
//! after the day's close, a refund before it, a refund above what is left, or a 3D
//! packet the bank cannot open: the ones below (`0225` to `0228`) are the project
//! simulator's own (it also answers `0229` for a malformed field and `0230` for an
//! unknown operation, read here as refusals in the bank's own words), and the client
//! also reads the IP, MAC and reused-order refusals by their words.

use sanalpos_core::{BankCode, Message};

/// What a refusal means for the outcome of the call that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The MAC (ENCKEY) was refused: nothing was processed.
    Credentials,
    /// The bank does not accept this mid/tid from this server's IP address.
    IpNotAllowed,
    /// The order id was used before: whether the earlier attempt charged must be asked.
    DuplicateOrder,
    /// The bank looked at the request and said no.
    Refused,
}

/// `0148`: "INVALID MID TID IP".
pub const IP_NOT_ALLOWED: &str = "0148";
/// `0127`: "ORDERID DAHA ONCE KULLANILMIS".
pub const DUPLICATE_ORDER: &str = "0127";
/// `E216`: "Mac Doğrulama hatalı".
pub const MAC_FAILED: &str = "E216";
/// `0123`: no such transaction.
pub const NOT_FOUND: &str = "0123";
/// Cancel after the sale's day was closed (simulator's code).
pub const CANCEL_CLOSED: &str = "0225";
/// Refund before the sale's day was closed (simulator's code).
pub const DAY_NOT_CLOSED: &str = "0226";
/// Refund above what is left (simulator's code).
pub const NOTHING_LEFT: &str = "0227";
/// 3D packets the bank cannot open or that are not this merchant's (simulator's code).
pub const BAD_PACKET: &str = "0228";

type Entry = (&'static str, ErrorClass, &'static str, &'static str);

const CODES: &[Entry] = &[
    (
        IP_NOT_ALLOWED,
        ErrorClass::IpNotAllowed,
        "Yapı Kredi bu sunucuyu tanımıyor: sunucunun IP adresi bu işyeri/terminal (mid/tid) için bankanın IP listesinde yok. Bankaya sunucunun IP adresini bildirin; mid ve tid'i de kontrol edin.",
        "Yapı Kredi does not know this server: its IP address is not on the bank's whitelist for this merchant/terminal (mid/tid). Give the bank the server's IP address; also check the mid and tid.",
    ),
    (
        DUPLICATE_ORDER,
        ErrorClass::DuplicateOrder,
        "Bu sipariş numarası daha önce kullanılmış.",
        "This order id has been used before.",
    ),
    (
        MAC_FAILED,
        ErrorClass::Credentials,
        "Banka MAC doğrulamasını reddetti: şifreleme anahtarını (ENCKEY) ve terminal numarasını kontrol edin.",
        "The bank refused the MAC: check the encryption key (ENCKEY) and the terminal id.",
    ),
    (
        NOT_FOUND,
        ErrorClass::Refused,
        "İşlem bulunamadı.",
        "Transaction not found.",
    ),
    (
        CANCEL_CLOSED,
        ErrorClass::Refused,
        "İptal edilebilecek satış bulunamadı: günü kapandıysa iade yapın.",
        "No sale that can be cancelled: if its day is closed, refund it instead.",
    ),
    (
        DAY_NOT_CLOSED,
        ErrorClass::Refused,
        "Satış henüz iade edilemez: aynı gün içinde iptal edin ya da gün sonundan sonra iade edin.",
        "The sale cannot be refunded yet: cancel it on its day, or refund it after the end of day.",
    ),
    (
        NOTHING_LEFT,
        ErrorClass::Refused,
        "İade edilecek tutar kalmadı.",
        "Nothing is left to refund.",
    ),
    (
        BAD_PACKET,
        ErrorClass::Refused,
        "Banka 3D dönüş verisini açamadı: veri bozuk ya da başka bir işyerine ait.",
        "The bank could not open the 3D return data: it is damaged or belongs to another merchant.",
    ),
];

/// The catalogue line of a `respCode`.
fn entry(code: &str) -> Option<&'static Entry> {
    CODES.iter().find(|(c, ..)| *c == code.trim())
}

/// The issuer's ISO code inside a `00xx` `respCode`.
pub fn issuer_code(code: &str) -> Option<BankCode> {
    let code = code.trim();
    match code.strip_prefix("00") {
        Some(iso) if code.len() == 4 && iso.bytes().all(|b| b.is_ascii_digit()) => {
            BankCode::parse(iso)
        }
        _ => None,
    }
}

/// What a refusal means: by its code, else by the words only such a refusal carries.
pub fn classify(code: &str, text: &str) -> ErrorClass {
    if let Some((_, class, ..)) = entry(code) {
        return *class;
    }
    let lower = text.to_lowercase();
    if lower.contains("mid tid ip") || lower.contains("hatalı ip") || lower.contains("hatali ip") {
        ErrorClass::IpNotAllowed
    } else if lower.contains("mac do") {
        ErrorClass::Credentials
    } else if lower.contains("daha once kullan") || lower.contains("daha önce kullan") {
        ErrorClass::DuplicateOrder
    } else {
        ErrorClass::Refused
    }
}

/// The text of a `respCode`: the catalogue's, the issuer code's, else the bank's own.
pub fn message(code: &str, bank_text: &str) -> Message {
    if let Some((_, _, tr, en)) = entry(code) {
        return Message::new(tr, en);
    }
    if let Some(iso) = issuer_code(code) {
        return iso.message();
    }
    if bank_text.trim().is_empty() {
        generic()
    } else {
        Message {
            tr: bank_text.trim().to_owned(),
            en: format!("Not approved by the bank: {}", bank_text.trim()),
        }
    }
}

/// A refusal without any usable code.
pub fn generic() -> Message {
    Message::new("İşlem onaylanmadı.", "Transaction not approved.")
}

/// The text of an `mdStatus` of `oosResolveMerchantDataResponse`.
pub fn md_status_message(md_status: &str) -> Message {
    let (tr, en) = match md_status.trim() {
        "1" => ("3D doğrulaması tamamlandı.", "3D Secure authentication completed."),
        "2" | "3" | "4" => (
            "Kart veya bankası 3D Secure'a kayıtlı değil (yarım 3D); bu POS kabul etmiyor.",
            "The card or its issuer is not enrolled in 3D Secure (half secure); this POS does not accept it.",
        ),
        "5" => ("3D doğrulaması yapılamadı.", "3D Secure authentication was not possible."),
        "6" => ("3D Secure hatası.", "3D Secure error."),
        "7" => ("3D sistem hatası.", "3D Secure system error."),
        "8" => ("Bilinmeyen kart numarası.", "Unknown card number."),
        "9" => (
            "3D Secure olmayan işlem: üye işyeri 3D Secure'a kayıtlı değil.",
            "Not a 3D Secure transaction: the merchant is not enrolled in 3D Secure.",
        ),
        "0" => (
            "3D doğrulaması başarısız (SMS şifresi hatalı ya da vazgeçildi).",
            "3D Secure authentication failed (wrong SMS code, or abandoned).",
        ),
        "" => (
            "Banka 3D sonucunu vermedi: işyeri bilgilerini ya da 3D tanımını kontrol edin.",
            "The bank gave no 3D result: check the merchant's credentials or 3D setup.",
        ),
        _ => ("3D doğrulaması başarısız.", "3D Secure authentication failed."),
    };
    Message::new(tr, en)
}

/// Every code in the catalogue (for tests and documentation).
pub fn known_codes() -> impl Iterator<Item = &'static str> {
    CODES.iter().map(|(c, ..)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_texts() {
        for code in known_codes() {
            let m = message(code, "");
            assert!(!m.tr.is_empty() && !m.en.is_empty(), "{code}");
        }
        assert_eq!(classify("0148", ""), ErrorClass::IpNotAllowed);
        assert_eq!(
            classify("9999", "INVALID MID TID IP. Hatalı IP:1.2.3.4"),
            ErrorClass::IpNotAllowed
        );
        assert_eq!(classify("E216", ""), ErrorClass::Credentials);
        assert_eq!(classify("0127", ""), ErrorClass::DuplicateOrder);
        assert_eq!(classify("0051", "YETERSIZ BAKIYE"), ErrorClass::Refused);
        assert_eq!(issuer_code("0051").unwrap().as_str(), "51");
        assert_eq!(
            message("0051", "").tr,
            BankCode::parse("51").unwrap().message().tr
        );
        assert!(message("0148", "").en.contains("whitelist"));
    }
}

//! The bank's refusal codes and texts.
//!
//! `CORE-xxxx` codes come from NestPay's Merchant Integration API manual error list
//! (as transcribed in public NestPay clients); the `ErrMsg` texts are the recorded
//! answers' texts where vectors/nestpay.json has one (CORE-2008, CORE-2012, CORE-2508,
//! CORE-2603, 215021, ISO8583-82). Every other text is the manual list's English
//! sentence for the code: the banks' own Turkish wording of those was not recorded, so
//! that wording is the simulator's choice, not a recorded answer.

/// A refusal of the NestPay core (`Response` Error, `ProcReturnCode` 99,
/// `Extra/ERRORCODE` `CORE-xxxx`, `NUMCODE` `99xxxx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreError {
    /// `CORE-2012`.
    pub code: &'static str,
    /// The `ErrMsg`.
    pub text: &'static str,
}

impl CoreError {
    /// `99` and the code's four digits: `CORE-2012` → `992012`.
    pub fn numcode(&self) -> String {
        format!("99{}", self.code.trim_start_matches("CORE-"))
    }
}

const fn core(code: &'static str, text: &'static str) -> CoreError {
    CoreError { code, text }
}

/// Unparsable or empty request document (the simulator's pick of the manual's "check
/// the request xml" code).
pub const BAD_XML: CoreError = core(
    "CORE-2014",
    "Invalid query request detected. Please, control the request xml.",
);
/// `Mode` other than `P` or `T`.
pub const BAD_MODE: CoreError = core(
    "CORE-1006",
    "Invalid value for 'Mode' parameter. Please check API manuals.",
);
/// `Currency` missing or not a number.
pub const BAD_CURRENCY: CoreError = core("CORE-1010", "'Currency' is unparsable value.");
/// `Name` missing.
pub const NO_USER: CoreError = core("CORE-1011", "'User Name' can not be null or empty.");
/// `ClientId` missing.
pub const NO_CLIENT: CoreError = core("CORE-1013", "'Merchant Id' can not be null or empty.");
/// `OrderId` longer than 64 characters.
pub const LONG_ORDER_ID: CoreError = core("CORE-1015", "'Order Id' field size is out of limit.");
/// `Taksit` not a count.
pub const BAD_INSTALLMENT: CoreError = core("CORE-1023", "'Installments' value is not valid.");
/// `Type` not one of the operations.
pub const BAD_TYPE: CoreError = core(
    "CORE-2001",
    "This is an invalid transaction type. Auth, PreAuth, PostAuth, Credit, Void are valid.",
);
/// Neither `OrderId` nor `TransId` for a Void (or a Credit or PostAuth without order).
pub const MISSING_REFERENCE: CoreError = core("CORE-2002", "Insufficient parameter for void.");
/// `Type` empty and no query.
pub const NO_TYPE: CoreError = core("CORE-2003", "Transaction type is empty.");
/// A required field is missing.
pub const NULL_FIELD: CoreError = core("CORE-2005", "Null field problem. Check and try again.");
/// `Total` (or `PREAMT`) not a `123.45` amount (three decimals included).
pub const BAD_AMOUNT: CoreError = core("CORE-2007", "Unparsable number usage.");
/// No voidable sale: unknown order, already voided, or its day is closed (recorded).
pub const NO_VOIDABLE: CoreError =
    core("CORE-2008", "İptal edilmeye uygun satış işlemi bulunamadı.");
/// `Total` zero for a sale or pre-authorisation.
pub const ZERO_AMOUNT: CoreError = core(
    "CORE-2009",
    "Zero (0) is not valid amount for sale and preauth transaction.",
);
/// The card's expiry is in the past.
pub const EXPIRED: CoreError = core("CORE-2010", "The credit card is expired.");
/// `Expires` not `MM/YY`.
pub const BAD_EXPIRY: CoreError = core(
    "CORE-2011",
    "The credit card expiry date is not in a valid format.",
);
/// Card number not 12–19 digits with a valid check digit (recorded text).
pub const BAD_PAN: CoreError = core("CORE-2012", "Kredi karti numarasi gecerli formatta degil.");
/// Card number missing.
pub const NO_PAN: CoreError = core("CORE-2015", "The credit card number is missing or empty.");
/// A currency outside ISO 4217 as the simulator knows it (949, 840, 978).
pub const UNKNOWN_CURRENCY: CoreError = core(
    "CORE-2106",
    "Invalid Currency type. Currency is not in ISO-4217 specification.",
);
/// A Credit in another currency than the sale.
pub const CURRENCY_MISMATCH: CoreError = core(
    "CORE-2119",
    "Currency mismatch between request and related transaction history",
);
/// The 3D fields of an Auth do not match what the 3D gate issued for the order.
pub const THREE_D_MISMATCH: CoreError = core("CORE-2121", "XID, CAVV or ECI did not match");
/// A Credit for an order with no captured sale.
pub const NO_REFUNDABLE: CoreError = core("CORE-2123", "There is no matching order to refund");
/// The same 3D authentication sent for a second charge.
pub const XID_REUSED: CoreError = core(
    "CORE-2127",
    "Same XID has been used for multiple 3D transactions.",
);
/// Wrong `Name`, `Password` or `ClientId`.
pub const NOT_AUTHENTICATED: CoreError = core(
    "CORE-2201",
    "User is not authenticated to perform this process.",
);
/// A 3D authentication whose mdStatus allows no charge (0, 5–9).
pub const BAD_MD_STATUS: CoreError = core("CORE-2206", "Invalid MD Status value.");
/// A sale without `Cvv2Val`.
pub const NO_CVV: CoreError = core(
    "CORE-2208",
    "PreAuth/Auth transactions without CVV is not allowed.",
);
/// A caller IP outside the merchant's allowlist.
pub const IP_NOT_ALLOWED: CoreError = core(
    "CORE-2254",
    "This request is not allowed by merchant IP allowance settings.",
);
/// A Credit larger than what is left to refund.
pub const REFUND_TOO_LARGE: CoreError = core("CORE-2503", "Cannot refund more than net amount.");
/// An OrderId already used by an approved sale or pre-authorisation.
pub const DUPLICATE_ORDER: CoreError =
    core("CORE-2507", "Order has already successful transaction.");
/// A Credit before the sale went through end of day (recorded).
pub const NOT_SETTLED: CoreError = core("CORE-2508", "Iade yapilamaz, siparis gunsonuna girmemis.");
/// A PostAuth without an open pre-authorisation.
pub const NO_PREAUTH: CoreError = core("CORE-2509", "Cannot post, no matching preauth.");
/// A PostAuth above the pre-authorised amount without the right `Extra/PREAMT`.
pub const OVER_PREAUTH: CoreError = core(
    "CORE-2512",
    "Not authorized to exceed pre authorization amount.",
);
/// `Cvv2Val` not 3 or 4 digits.
pub const BAD_CVV: CoreError = core("CORE-2515", "Invalid Cvv.");
/// An installment count the merchant has no plan for (recorded).
pub const INSTALLMENT_NOT_ALLOWED: CoreError =
    core("CORE-2603", "Taksit tablosu icin gecersiz deger");

/// `Extra/ERRORCODE` of a Credit with nothing left to refund (no ProcReturnCode).
pub const NET_ZERO_CODE: &str = "215021";
/// The `ErrMsg` of [`NET_ZERO_CODE`].
pub const NET_ZERO_TEXT: &str = "Net Tutar 0.";

/// The `ErrMsg` of an issuer decline with ISO code `code`. 82 is the recorded text;
/// the others are the simulator's Turkish wording of the ISO meaning.
pub fn decline_text(code: &str) -> &'static str {
    match code {
        "05" => "Red-Onaylanmadı",
        "12" => "Geçersiz işlem",
        "14" => "Geçersiz kart numarası",
        "41" => "Kayıp kart! Karta el koyunuz",
        "43" => "Çalıntı kart! Karta el koyunuz",
        "51" => "Yetersiz bakiye",
        "54" => "Vadesi dolmuş kart",
        "57" => "Kart sahibine bu işlem izni verilmemiş",
        "62" => "Kısıtlı kart",
        "82" => "CVV Hatasi veya girilen CVV gecersiz.",
        "91" => "Kart bankası yanıt vermiyor",
        "96" => "Sistem arızası",
        _ => "İşlem onaylanmadı",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numcodes() {
        assert_eq!(BAD_PAN.numcode(), "992012");
        assert_eq!(INSTALLMENT_NOT_ALLOWED.numcode(), "992603");
        assert_eq!(decline_text("51"), "Yetersiz bakiye");
    }
}

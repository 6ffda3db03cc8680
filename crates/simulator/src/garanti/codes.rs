//! The gateway's (`Source` `GVPS`) refusals the simulated bank answers, with their texts.
//!
//! The sources record three reason codes (0002, 0110, 0208, with their texts); the
//! others are this simulator's, in the bank's four-digit style, for what the sources do
//! not show an answer of: a bad hash or user, an unknown IP, a cancel after the day is
//! closed, a refund above what is left, a reused order id or 3D authentication.

/// A `GVPS` refusal: reason code, `ErrorMsg` (for people), `SysErrMsg` (technical).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GvpsError {
    /// `ReasonCode`.
    pub reason: &'static str,
    /// `ErrorMsg`.
    pub message: &'static str,
    /// `SysErrMsg`.
    pub system: &'static str,
}

const fn e(reason: &'static str, message: &'static str, system: &'static str) -> GvpsError {
    GvpsError {
        reason,
        message,
        system,
    }
}

/// A mandatory field missing or zero, or a field in the wrong shape (recorded).
pub const MANDATORY: GvpsError = e(
    "0002",
    "Giriş yaptığınız işlem tipi için zorunlu alanları kontrol ediniz",
    "ErrorId: 0002",
);
/// No such transaction (recorded).
pub const NOT_FOUND: GvpsError = e("0110", "İşlem bulunamadı", "ErrorId: 0110");
/// A refund of a sale whose day is not closed (recorded text).
pub const NOT_REFUNDABLE: GvpsError = e(
    "0208",
    "İade etmek istediğiniz işlem geçerli değil",
    "ErrorId: 0208",
);
/// A void of a transaction whose day is closed.
pub const CANCEL_CLOSED: GvpsError = e(
    "0213",
    "İptal etmek istediğiniz işlem geçerli değil: gün sonu yapılmış",
    "ErrorId: 0213",
);
/// A refund (or capture) above what is left.
pub const AMOUNT_TOO_HIGH: GvpsError = e(
    "0214",
    "İade tutarı iade edilebilir tutardan fazla",
    "ErrorId: 0214",
);
/// The order id already has an approved sale.
pub const DUPLICATE_ORDER: GvpsError = e(
    "0215",
    "Bu sipariş numarası ile daha önce başarılı işlem yapılmış",
    "ErrorId: 0215",
);
/// An installment count without a plan.
pub const INSTALLMENT: GvpsError = e(
    "0216",
    "Taksit sayısı üye işyeri için tanımlı değil",
    "ErrorId: 0216",
);
/// A 3D authentication used for a provision before.
pub const AUTH_REUSED: GvpsError = e(
    "0217",
    "Bu 3D doğrulaması daha önce kullanılmış",
    "ErrorId: 0217",
);
/// A provision whose 3D values do not match an authentication of this order.
pub const AUTH_MISMATCH: GvpsError = e(
    "0218",
    "3D doğrulama bilgileri siparişle eşleşmiyor",
    "ErrorId: 0218",
);
/// A wrong user, password (through SecurityData), HashData or terminal.
pub const SECURITY: GvpsError = e(
    "0651",
    "Güvenlik doğrulaması başarısız",
    "HashData / ProvUserID / terminal mismatch",
);
/// A caller IP the merchant has not registered.
pub const IP_NOT_ALLOWED: GvpsError = e(
    "0652",
    "IP adresi tanımlı değil",
    "Client IP address not allowed",
);

/// `SysErrMsg` of an issuer decline (`Source` `HOST`).
pub fn host_system_text(code: &str) -> String {
    match code {
        "82" => "CVC2/4CSC HATALI".to_owned(),
        "51" => "YETERSIZ BAKIYE".to_owned(),
        other => format!("RPC-{other} condition was raised"),
    }
}

/// `ErrorMsg` of every issuer decline (recorded).
pub const HOST_DECLINE_TEXT: &str = "İşleminizi gerçekleştiremiyoruz.Tekrar deneyiniz";

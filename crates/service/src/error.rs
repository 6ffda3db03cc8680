//! The service's one error type, with stable machine codes.

use sanalpos_store::StoreError;

/// Why a service call did nothing (or could not finish). Texts never contain card data,
/// credentials or database internals; [`ServiceError::Storage`] carries the internal
/// detail for the log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The request is invalid; `field` names the culprit (`card.number`, `amount`).
    #[error("{field}: {message}")]
    Validation {
        /// The field, as named in the API body (dotted for nested fields).
        field: std::borrow::Cow<'static, str>,
        /// What is wrong, in English.
        message: String,
    },
    /// No such record for this company.
    #[error("not found")]
    NotFound,
    /// The company has no active POS that can take this payment.
    #[error("no active POS can take this payment")]
    NoActivePos,
    /// The request clashes with the record's state (`not_cancellable`,
    /// `refund_exceeds_captured`, `payment_in_progress`, `cancel_not_possible`, …).
    #[error("{code}: {message}")]
    Conflict {
        /// Stable machine code.
        code: &'static str,
        /// What happened, in English.
        message: String,
    },
    /// The provider could not be used before anything was sent (bad credentials in the
    /// POS definition, client set-up failure).
    #[error("{code}: {message}")]
    Provider {
        /// Stable machine code.
        code: &'static str,
        /// What happened, in English.
        message: String,
    },
    /// Wrong username or password, or a disabled account.
    #[error("invalid credentials")]
    Unauthorized,
    /// A statement file could not be imported; nothing was stored. `bad_rows` names
    /// every row that could not be read (empty when the file as a whole is wrong).
    #[error("statement refused: {message}")]
    BadStatement {
        /// What is wrong, in English.
        message: String,
        /// Every unreadable row, in file order.
        bad_rows: Vec<StatementRow>,
    },
    /// An internal failure (database, crypto). The detail is for the log; show
    /// [`ServiceError::message`] to users.
    #[error("internal error: {0}")]
    Storage(String),
}

impl ServiceError {
    /// A stable machine code for the API's error envelope.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Validation { .. } => "validation_failed",
            ServiceError::NotFound => "not_found",
            ServiceError::NoActivePos => "no_active_pos",
            ServiceError::Conflict { code, .. } => code,
            ServiceError::Provider { code, .. } => code,
            ServiceError::Unauthorized => "unauthorized",
            ServiceError::BadStatement { .. } => "bad_statement",
            ServiceError::Storage(_) => "internal_error",
        }
    }

    /// The field at fault, for validation errors.
    pub fn field(&self) -> Option<&str> {
        match self {
            ServiceError::Validation { field, .. } => Some(field.as_ref()),
            _ => None,
        }
    }

    /// A message safe to show to API callers, in English (internal detail hidden).
    pub fn message(&self) -> String {
        match self {
            ServiceError::Validation { message, .. } => message.clone(),
            ServiceError::NotFound => "No such record.".into(),
            ServiceError::NoActivePos => {
                "No active POS definition can take this payment (check the currency and the POS state).".into()
            }
            ServiceError::Conflict { message, .. }
            | ServiceError::Provider { message, .. }
            | ServiceError::BadStatement { message, .. } => message.clone(),
            ServiceError::Unauthorized => "Invalid username or password.".into(),
            ServiceError::Storage(_) => "Internal error; please try again.".into(),
        }
    }

    /// The same message in Turkish, for the back office.
    pub fn message_tr(&self) -> String {
        match self {
            ServiceError::Validation { field, .. } => format!("Geçersiz alan: {field}"),
            ServiceError::NotFound => "Kayıt bulunamadı.".into(),
            ServiceError::NoActivePos => "Bu ödemeyi alabilecek aktif bir sanal POS yok.".into(),
            ServiceError::Conflict { code, .. } => match *code {
                "not_cancellable" => "Bu tahsilat iptal edilemez.".into(),
                "cancel_not_possible" => "Banka iptali kabul etmedi; iade yapılmalı.".into(),
                "not_refundable" => "Bu tahsilat iade edilemez.".into(),
                "refund_exceeds_captured" => "İade tutarı tahsil edilen tutarı aşıyor.".into(),
                "payment_in_progress" => "Tahsilat hâlâ işleniyor.".into(),
                _ => "İşlem kaydın durumuyla uyuşmuyor.".into(),
            },
            ServiceError::Provider { .. } => "Sağlayıcıya ulaşılamadı; işlem gönderilmedi.".into(),
            ServiceError::Unauthorized => "Kullanıcı adı veya şifre hatalı.".into(),
            ServiceError::BadStatement { .. } => {
                "Ekstre dosyası okunamadı; hiçbir satır alınmadı.".into()
            }
            ServiceError::Storage(_) => "Sistem hatası; lütfen tekrar deneyin.".into(),
        }
    }

    pub(crate) fn validation(
        field: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> ServiceError {
        ServiceError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError::Conflict {
            code,
            message: message.into(),
        }
    }
}

/// A statement row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatementRow {
    /// The 1-based line of the file (the header is line 1).
    pub line: u32,
    /// What is wrong, naming the column (never a card number: the engine reads masked
    /// numbers only), in English.
    pub reason: String,
    /// The same as data, for a page to write in its reader's language (not part of the
    /// API's answer, which keeps `reason`).
    #[serde(skip)]
    pub problem: Option<sanalpos_recon::RowProblem>,
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> ServiceError {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict { code, message } => ServiceError::Conflict { code, message },
            other => {
                tracing::error!(error = %other, code = other.code(), "store failure");
                ServiceError::Storage(other.to_string())
            }
        }
    }
}

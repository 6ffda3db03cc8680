//! From a provider's normalized answer to what we record: the attempt's result, the
//! payment's new state, the audit event and what the call says about the POS.

use serde_json::json;

use sanalpos_core::{AuthCode, BankCode, Message, ProviderRef};
use sanalpos_gateway::{FailureKind, GatewayResponse, Outcome};
use sanalpos_store::{
    AttemptOutcome, AttemptResult, FinishAttempt, NewAudit, PaymentChange, PaymentRecord,
    PaymentStatus, PosHealth,
};

/// Texts of the outcomes that carry no bank message, in the catalogue's two languages.
pub(crate) fn failure_message(kind: FailureKind) -> Message {
    match kind {
        FailureKind::Unreachable => Message::new(
            "Sağlayıcıya ulaşılamadı; işlem gönderilmedi",
            "The provider could not be reached; nothing was sent",
        ),
        FailureKind::BadCredentials => Message::new(
            "Sağlayıcı POS bilgilerini kabul etmedi",
            "The provider refused the POS credentials",
        ),
        FailureKind::IpNotAllowed => Message::new(
            "Sağlayıcı sunucu IP adresini tanımıyor",
            "The provider does not allow this server's IP address",
        ),
        FailureKind::Rejected => Message::new(
            "Sağlayıcı isteği reddetti",
            "The provider rejected the request",
        ),
        FailureKind::Invalid => Message::new("İşlem geçersiz", "The request is not valid"),
        FailureKind::Unavailable => Message::new(
            "Sağlayıcı şu anda yanıt vermiyor; işlem gönderilmedi, biraz sonra tekrar deneyin",
            "The provider is not answering right now; nothing was sent, try again shortly",
        ),
    }
}

/// The message of an outcome we cannot tell yet.
pub(crate) fn unknown_message() -> Message {
    Message::new(
        "İşlemin sonucu belirsiz; sağlayıcıdan sorgulanıyor",
        "The outcome is unclear; it is being checked with the provider",
    )
}

/// The reason a refund waits: the provider takes refunds only after its business day
/// closes.
pub(crate) fn scheduled_message() -> Message {
    Message::new(
        "Banka günü kapanınca iade edilecek",
        "Will be refunded when the bank's day closes",
    )
}

/// A scheduled refund taken back before it was carried out.
pub(crate) fn withdrawn_message() -> Message {
    Message::new(
        "Planlanan iade geri çekildi; tutar yeniden iade edilebilir",
        "The scheduled refund was withdrawn; its amount can be refunded again",
    )
}

/// The audit event of a payment reaching `status`.
pub(crate) fn payment_audit(
    payment: &PaymentRecord,
    actor: &str,
    status: PaymentStatus,
    change: &PaymentChange,
    attempt_id: &str,
) -> NewAudit {
    NewAudit {
        company_id: payment.company_id.clone(),
        kind: format!("payment.{}", status.as_str()),
        actor: actor.to_owned(),
        subject_id: payment.id.clone(),
        data: json!({
            "status": status,
            "amount": payment.amount,
            "currency": payment.currency,
            "installments": payment.installments,
            "pos_id": payment.pos_id,
            "auth_code": change.auth_code.as_ref().map(AuthCode::as_str).or(payment.auth_code.as_deref()),
            "provider_ref": change.provider_ref.as_ref().map(ProviderRef::as_str).or(payment.provider_ref.as_deref()),
            "bank_code": change.bank_code,
            "authorized_amount": change.authorized_amount,
            "attempt_id": attempt_id,
        }),
    }
}

/// Maps a sale-like answer (sale, 3D start that did not redirect, 3D finish) for a
/// payment currently in one of `expect`.
pub(crate) fn sale_finish(
    payment: &PaymentRecord,
    attempt_id: &str,
    actor: &str,
    response: &GatewayResponse,
    expect: &[PaymentStatus],
    now: i64,
) -> FinishAttempt {
    let mut change = PaymentChange::to(&payment.id, expect, PaymentStatus::Unknown);
    let mut result = AttemptResult {
        attempt_id: attempt_id.to_owned(),
        outcome: AttemptOutcome::Unknown,
        bank_code: None,
        message: None,
        http_status: response.http_status.map(i64::from),
        latency_ms: response.latency.as_millis() as i64,
        raw: response.raw.clone(),
        finished_at: now,
    };
    let mut health = PosHealth {
        company_id: payment.company_id.clone(),
        pos_id: payment.pos_id.clone(),
        error: None,
    };
    match &response.outcome {
        Outcome::Approved(approval) => {
            // A pre-authorisation's approval only blocks the amount.
            change.status = if payment.pre_auth {
                PaymentStatus::Authorized
            } else {
                PaymentStatus::Approved
            };
            change.auth_code.clone_from(&approval.auth_code);
            change.provider_ref = Some(approval.provider_ref.clone());
            change.authorized_amount = Some(approval.authorized_amount.unwrap_or(payment.amount));
            change.bank_code = Some(BankCode::approval());
            change.message = Some(if payment.pre_auth {
                authorized_message()
            } else {
                approved_message()
            });
            result.outcome = AttemptOutcome::Approved;
            result.bank_code = Some("00".into());
            result.message = Some("approved".into());
        }
        Outcome::Declined(decline) => {
            change.status = PaymentStatus::Declined;
            change.bank_code.clone_from(&decline.bank_code);
            change.message = Some(decline.message.clone());
            change.provider_ref.clone_from(&decline.provider_ref);
            result.outcome = AttemptOutcome::Declined;
            result.bank_code = change.bank_code.as_ref().map(|c| c.as_str().to_owned());
            result.message = Some(if decline.provider_text.is_empty() {
                decline.message.en.clone()
            } else {
                decline.provider_text.clone()
            });
        }
        Outcome::Failed(failure) => {
            change.status = PaymentStatus::Failed;
            change.message = Some(failure_message(failure.kind));
            result.outcome = AttemptOutcome::Failed;
            result.message = Some(failure.detail.clone());
            if matches!(
                failure.kind,
                FailureKind::Unreachable | FailureKind::BadCredentials | FailureKind::IpNotAllowed
            ) {
                health.error = Some(failure.detail.clone());
            }
        }
        Outcome::Unknown(reason) => {
            change.status = PaymentStatus::Unknown;
            change.message = Some(unknown_message());
            result.outcome = AttemptOutcome::Unknown;
            result.message = Some(reason.to_string());
            health.error = Some(reason.to_string());
        }
    }
    if payment.three_d {
        change.clear_three_d_html = true;
    }
    let audit = payment_audit(payment, actor, change.status, &change, attempt_id);
    FinishAttempt {
        result: Some(result),
        new_attempt: None,
        events: crate::events::for_change(&change),
        payment: Some(change),
        refund: None,
        audit: vec![audit],
        pos_health: Some(health),
        answer: None,
    }
}

/// "Onaylandı" / "Approved": the catalogue text of bank code 00, shown on approvals.
/// What an approved pre-authorisation says: the amount is blocked, not taken.
pub(crate) fn authorized_message() -> Message {
    Message::new(
        "Provizyon alındı: tutar kartta bloke edildi, tahsilat için provizyonu kapatın",
        "Authorised: the amount is blocked on the card; capture it to collect",
    )
}

pub(crate) fn approved_message() -> Message {
    BankCode::approval().message()
}

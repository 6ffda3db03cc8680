//! Inquiry: what the provider's PaymentList rows say about one payment attempt.

use sanalpos_core::Kurus;

use super::NkolayGateway;
use crate::types::*;
use crate::GatewayError;

impl NkolayGateway {
    pub(super) async fn inquire(&self, request: &InquiryRequest) -> Result<Inquiry, GatewayError> {
        let from = request.date.pred_opt().unwrap_or(request.date);
        let to = request.date.succ_opt().unwrap_or(request.date);
        let rows = self
            .payment_list(from, to, request.client_ref.as_str())
            .await?;
        Ok(summarize(&rows, request))
    }
}

/// What the provider's rows say about one attempt.
fn summarize(rows: &[ReportRow], request: &InquiryRequest) -> Inquiry {
    let ours = |r: &&ReportRow| r.client_ref.as_deref() == Some(request.client_ref.as_str());
    let sale = rows
        .iter()
        .filter(ours)
        .find(|r| matches!(r.kind, TransactionKind::Sale | TransactionKind::PreAuth));
    let Some(sale) = sale else {
        return Inquiry::NotFound;
    };
    match &sale.status {
        RowStatus::Success => {
            let (Some(provider_ref), Some(auth_code)) =
                (sale.provider_ref.clone(), sale.auth_code.clone())
            else {
                return Inquiry::Pending;
            };
            let authorized = sale.authorized_amount.or(sale.amount);
            if authorized.is_none_or(|a| a < request.amount) {
                // Reported as charged, but for less than we asked: a person must look.
                return Inquiry::Pending;
            }
            let reversals = rows.iter().filter(ours).filter(|r| {
                r.status == RowStatus::Success
                    && matches!(
                        r.kind,
                        TransactionKind::Cancel
                            | TransactionKind::Refund
                            | TransactionKind::PartialRefund
                    )
            });
            let mut reversed = Kurus::ZERO;
            let mut cancelled = false;
            let mut captured = None::<Kurus>;
            // A captured pre-authorisation's money is under the capture's reference: its
            // refunds and the provider's report name that one.
            let mut capture_ref = None;
            for r in rows.iter().filter(ours) {
                if r.status != RowStatus::Success {
                    continue;
                }
                match r.kind {
                    TransactionKind::Capture => {
                        capture_ref = capture_ref.or_else(|| r.provider_ref.clone());
                        let amount = r.amount.unwrap_or(Kurus::ZERO);
                        captured = Some(match captured {
                            Some(sum) => sum.checked_add(amount).unwrap_or(sum),
                            None => amount,
                        });
                    }
                    TransactionKind::Release => cancelled = true,
                    _ => {}
                }
            }
            for r in reversals {
                cancelled |= r.kind == TransactionKind::Cancel;
                reversed = reversed
                    .checked_add(r.amount.unwrap_or(Kurus::ZERO))
                    .unwrap_or(reversed);
            }
            Inquiry::Approved {
                approval: Approval {
                    auth_code: Some(auth_code),
                    provider_ref: capture_ref.unwrap_or(provider_ref),
                    authorized_amount: authorized,
                    installments: sale.installments,
                },
                reversed,
                cancelled,
                captured,
            }
        }
        RowStatus::Error => Inquiry::Declined(Decline {
            kind: DeclineKind::Refused,
            bank_code: None,
            message: sanalpos_core::Message::new("İşlem onaylanmadı", "Transaction not approved"),
            provider_text: String::new(),
            provider_ref: sale.provider_ref.clone(),
        }),
        RowStatus::New | RowStatus::Other(_) => Inquiry::Pending,
    }
}

//! The merchant's terms: the installment options for a card's BIN and amount, and the
//! commission table of every program.

use sanalpos_core::Kurus;

use super::codec::{now_istanbul, parse_amount, parse_rate_bp, Answer};
use super::transport::path;
use super::{request, NkolayGateway};
use crate::types::*;
use crate::GatewayError;

impl NkolayGateway {
    pub(super) async fn installment_options(
        &self,
        bin: &str,
        amount: Kurus,
    ) -> Result<Vec<InstallmentOption>, GatewayError> {
        if bin.len() < 6 || !bin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GatewayError::Invalid("a BIN is at least 6 digits".into()));
        }
        let bin = &bin[..bin.len().min(8)];
        let form = request::installments(&self.config.credentials, bin, amount);
        let answer = self.read_call(path::INSTALLMENTS, &form).await?;
        if answer.response_code().as_deref() != Some("2") {
            return Err(GatewayError::Rejected(
                answer.non_empty("RESPONSE_DATA").unwrap_or_default(),
            ));
        }
        let mut options: Vec<InstallmentOption> = answer
            .list("PAYMENT_BANK_LIST")
            .iter()
            .filter_map(|row| installment_option(row, amount))
            .collect();
        options.sort_by_key(|o| o.installments);
        options.dedup_by_key(|o| o.installments);
        Ok(options)
    }

    pub(super) async fn read_commission_table(&self) -> Result<CommissionTable, GatewayError> {
        let form =
            request::merchant_information(&self.config.credentials, now_istanbul().date_naive());
        let answer = self.read_call(path::MERCHANT_INFO, &form).await?;
        if answer.response_code().as_deref() != Some("2") {
            return Err(GatewayError::Rejected(
                answer.non_empty("RESPONSE_DATA").unwrap_or_default(),
            ));
        }
        let programs = answer
            .list("COMMISSION_LIST")
            .iter()
            .map(|program| ProgramCommissions {
                name: program.non_empty("CODE").unwrap_or_default(),
                code: program.non_empty("KEY").unwrap_or_default(),
                rates: program
                    .list("DATA")
                    .iter()
                    .filter_map(|rate| {
                        Some(CommissionRate {
                            installments: rate.non_empty("INSTALLMENT")?.parse().ok()?,
                            commission_bp: parse_rate_bp(&rate.non_empty("COMMISSION")?)?,
                            surcharge_bp: rate
                                .non_empty("MERCHANT_COMMISSION_RATE")
                                .and_then(|r| parse_rate_bp(&r))
                                .unwrap_or(0),
                        })
                    })
                    .collect(),
            })
            .collect();
        Ok(CommissionTable { programs })
    }
}

fn installment_option(row: &Answer, amount: Kurus) -> Option<InstallmentOption> {
    let installments: u8 = row.non_empty("INSTALLMENT")?.parse().ok()?;
    let total = row
        .non_empty("AUTHORIZATION_AMOUNT")
        .and_then(|a| parse_amount(&a))
        .unwrap_or(amount);
    let monthly = row
        .non_empty("INSTALLMENT_AMOUNT")
        .and_then(|a| parse_amount(&a))
        .or_else(|| Kurus::from_minor(total.minor() / i64::from(installments.max(1))))?;
    Some(InstallmentOption {
        installments,
        monthly,
        total,
        surcharge: total.checked_sub(amount).unwrap_or(Kurus::ZERO),
        commission: row
            .non_empty("COMMISION_AMOUNT")
            .and_then(|a| parse_amount(&a))
            .unwrap_or(Kurus::ZERO),
        commission_rate_bp: row
            .text_any(&["COMMISION", "COMMISSION"])
            .and_then(|r| parse_rate_bp(&r))
            .unwrap_or(0),
        surcharge_rate_bp: row
            .non_empty("MERCHANT_COMMISSION_RATE")
            .and_then(|r| parse_rate_bp(&r))
            .unwrap_or(0),
        program: row.non_empty("PROGRAM"),
    })
}

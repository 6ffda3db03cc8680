//! The merchant's commission table: per installment count, what the provider charges the
//! merchant, what surcharge the cardholder pays, and how many days until the money is
//! paid out (valör). Rates are integer basis points (1.79 % = 179).

use sanalpos_core::Kurus;

/// One line of the commission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TariffLine {
    /// Installment count (1 = single payment).
    pub installments: u8,
    /// What the provider charges the merchant, in basis points.
    pub commission_bp: u32,
    /// Surcharge added to the cardholder's total, in basis points.
    pub surcharge_bp: u32,
    /// Days from the business day to the value date.
    pub valor_days: u32,
}

/// The default table, the same for every merchant and card program.
pub const DEFAULT_TARIFF: &[TariffLine] = &[
    TariffLine {
        installments: 1,
        commission_bp: 179,
        surcharge_bp: 0,
        valor_days: 1,
    },
    TariffLine {
        installments: 2,
        commission_bp: 249,
        surcharge_bp: 150,
        valor_days: 30,
    },
    TariffLine {
        installments: 3,
        commission_bp: 299,
        surcharge_bp: 250,
        valor_days: 30,
    },
    TariffLine {
        installments: 6,
        commission_bp: 399,
        surcharge_bp: 450,
        valor_days: 30,
    },
    TariffLine {
        installments: 9,
        commission_bp: 499,
        surcharge_bp: 650,
        valor_days: 30,
    },
    TariffLine {
        installments: 12,
        commission_bp: 599,
        surcharge_bp: 850,
        valor_days: 30,
    },
];

/// The table line for `installments`, if the table offers it.
pub fn line(installments: u8) -> Option<TariffLine> {
    DEFAULT_TARIFF
        .iter()
        .copied()
        .find(|l| l.installments == installments)
}

/// The amounts of one payment under a table line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pricing {
    /// What the merchant asked for.
    pub amount: Kurus,
    /// The cardholder's surcharge (`MERCHANT_COMMISSION_AMOUNT`).
    pub surcharge: Kurus,
    /// What the card is charged: amount + surcharge (`AUTHORIZATION_AMOUNT`).
    pub authorization: Kurus,
    /// What the provider keeps (`COMMISION`), computed on the authorization amount,
    /// the money actually collected.
    pub commission: Kurus,
}

/// Prices `amount` under `line`, rounding each percentage half up to the kuruş.
pub fn price(amount: Kurus, line: TariffLine) -> Pricing {
    let surcharge = amount.percent_bp(line.surcharge_bp);
    let authorization = amount.checked_add(surcharge).unwrap_or(amount);
    Pricing {
        amount,
        surcharge,
        authorization,
        commission: authorization.percent_bp(line.commission_bp),
    }
}

/// A rate as the wire writes it: 249 bp → `"2.49"`.
pub fn fmt_rate(bp: u32) -> String {
    format!("{}.{:02}", bp / 100, bp % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_with_surcharge() {
        let p = price(Kurus::parse("100.00").unwrap(), line(2).unwrap());
        assert_eq!(p.surcharge.to_string(), "1.50");
        assert_eq!(p.authorization.to_string(), "101.50");
        assert_eq!(p.commission.to_string(), "2.53"); // 2.49 % of 101.50 = 2.527…
        assert_eq!(fmt_rate(179), "1.79");
        assert_eq!(fmt_rate(0), "0.00");
        assert!(line(4).is_none());
    }
}

//! The POS definitions that point at the simulators' merchants: what the demo seeds,
//! and the benchmarks, the soaks and the CLI's tests set up.

use sanalpos_core::Currency;
use sanalpos_service::{Environment, InstallmentRow, NewPos, OnboardingState, Settings};
use sanalpos_simulator::garanti::GarantiMerchant;
use sanalpos_simulator::nestpay::NestpayMerchant;
use sanalpos_simulator::posnet::PosnetMerchant;
use sanalpos_simulator::MerchantConfig;

/// An active, default N Kolay POS definition for a simulator merchant: what the demo,
/// the benchmarks and the black-box tests set up.
pub fn simulator_pos(base_url: &str, merchant: &MerchantConfig) -> NewPos {
    NewPos {
        name: "N Kolay (simülatör)".into(),
        protocol: "nkolay".into(),
        environment: Environment::Simulator,
        settings: nkolay_settings(base_url, merchant),
        currencies: vec![Currency::Try, Currency::Usd, Currency::Eur],
        installments: demo_installments(),
        onboarding_state: OnboardingState::Active,
        documents: sanalpos_store::empty_checklist(),
        is_default: true,
        pre_auth_hold_days: None,
    }
}

/// The settings of an N Kolay POS at a simulator merchant.
pub fn nkolay_settings(base_url: &str, merchant: &MerchantConfig) -> Settings {
    sanalpos_service::protocols::nkolay_settings(
        base_url,
        &merchant.sx,
        &merchant.sx_list,
        &merchant.sx_cancel,
        &merchant.secret_key,
        merchant.auto_complete,
    )
}

/// An active İş Bankası NestPay POS definition (not the default) for a simulator bank
/// merchant: what the demo gives its first company, and the crash soak too.
pub fn nestpay_pos(base_url: &str, merchant: &NestpayMerchant) -> NewPos {
    NewPos {
        name: "İş Bankası sanal POS (simülatör)".into(),
        protocol: "nestpay".into(),
        environment: Environment::Simulator,
        settings: nestpay_settings(base_url, merchant),
        currencies: vec![Currency::Try],
        installments: demo_installments(),
        onboarding_state: OnboardingState::Active,
        documents: sanalpos_store::empty_checklist(),
        is_default: false,
        pre_auth_hold_days: None,
    }
}

/// The settings of an İş Bankası NestPay POS at a simulator merchant (3D model `3d`).
pub fn nestpay_settings(base_url: &str, merchant: &NestpayMerchant) -> Settings {
    Settings::from_pairs([
        ("bank", "isbank"),
        ("api_url", base_url),
        ("gate_url", base_url),
        ("client_id", merchant.client_id.as_str()),
        ("api_user", merchant.api_user.as_str()),
        ("api_password", merchant.api_password.as_str()),
        ("store_key", merchant.store_key.as_str()),
        ("three_d_model", "3d"),
    ])
}

/// An active Garanti BBVA POS definition (not the default) for a simulator merchant:
/// what the demo gives its second company.
pub fn garanti_pos(base_url: &str, merchant: &GarantiMerchant) -> NewPos {
    NewPos {
        name: "Garanti BBVA sanal POS (simülatör)".into(),
        protocol: "garanti".into(),
        environment: Environment::Simulator,
        settings: garanti_settings(base_url, merchant),
        currencies: vec![Currency::Try],
        installments: demo_installments(),
        onboarding_state: OnboardingState::Active,
        documents: sanalpos_store::empty_checklist(),
        is_default: false,
        pre_auth_hold_days: None,
    }
}

/// The settings of a Garanti BBVA POS at a simulator merchant (3D model `3d`).
pub fn garanti_settings(base_url: &str, merchant: &GarantiMerchant) -> Settings {
    Settings::from_pairs([
        ("bank", "garanti"),
        ("api_url", base_url),
        ("gate_url", base_url),
        ("merchant_id", merchant.merchant_id.as_str()),
        ("terminal_id", merchant.terminal_id.as_str()),
        ("prov_user", merchant.prov_user.as_str()),
        ("prov_password", merchant.prov_password.as_str()),
        ("refund_user", merchant.refund_user.as_str()),
        ("refund_password", merchant.refund_password.as_str()),
        ("store_key", merchant.store_key.as_str()),
        ("three_d_model", "3d"),
    ])
}

/// An active Yapı Kredi PosNet POS definition (not the default) for a simulator
/// merchant: what the demo gives its second company beside the Garanti POS.
pub fn posnet_pos(base_url: &str, merchant: &PosnetMerchant) -> NewPos {
    NewPos {
        name: "Yapı Kredi sanal POS (simülatör)".into(),
        protocol: "posnet".into(),
        environment: Environment::Simulator,
        settings: posnet_settings(base_url, merchant),
        currencies: vec![Currency::Try],
        installments: demo_installments(),
        onboarding_state: OnboardingState::Active,
        documents: sanalpos_store::empty_checklist(),
        is_default: false,
        pre_auth_hold_days: None,
    }
}

/// The settings of a Yapı Kredi PosNet POS at a simulator merchant.
pub fn posnet_settings(base_url: &str, merchant: &PosnetMerchant) -> Settings {
    Settings::from_pairs([
        ("bank", "yapikredi"),
        ("api_url", base_url),
        ("gate_url", base_url),
        ("mid", merchant.mid.as_str()),
        ("tid", merchant.tid.as_str()),
        ("posnet_id", merchant.posnet_id.as_str()),
        ("enc_key", merchant.enc_key.as_str()),
    ])
}

/// The installment table of a demo POS (what the simulator's merchant charges).
fn demo_installments() -> Vec<InstallmentRow> {
    [
        (1, 179, 0, 1),
        (2, 249, 150, 30),
        (3, 299, 250, 30),
        (6, 399, 450, 30),
        (9, 499, 650, 30),
        (12, 599, 850, 30),
    ]
    .into_iter()
    .map(
        |(count, commission_bp, surcharge_bp, value_days)| InstallmentRow {
            count,
            commission_bp,
            surcharge_bp,
            value_days,
        },
    )
    .collect()
}

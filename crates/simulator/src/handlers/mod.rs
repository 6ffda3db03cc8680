//! The provider endpoints and the router that serves them.

pub mod answer;
pub mod card_storage;
pub mod info;
pub mod payment;
pub mod pre_auth;
pub mod refund;
pub mod report;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::state::Sim;
use crate::{acs, control};

/// Every route of the simulated provider, plus `/_sim/` when the simulator runs in test
/// mode. Unknown paths answer 404, wrong methods 405.
pub fn router(sim: Arc<Sim>) -> Router {
    let mut router = Router::new()
        .route("/Vpos/v1/Payment", post(payment::payment))
        .route("/Vpos/v1/CompletePayment", post(payment::complete))
        .route("/Vpos/v1/CancelRefundPayment", post(refund::cancel_refund))
        .route("/Vpos/Payment/PaymentList", post(report::payment_list))
        .route(
            "/Vpos/Payment/PfTransactionReportList",
            post(report::pf_report),
        )
        .route(
            "/Vpos/Payment/PreAuthorizationAprove",
            post(pre_auth::capture),
        )
        .route(
            "/Vpos/Payment/PreAuthorizationCancel",
            post(pre_auth::release),
        )
        .route("/Vpos/Payment/PreAuthorizationList", post(pre_auth::list))
        .route(
            "/Vpos/Payment/CardStorageCardRegister",
            post(card_storage::register),
        )
        .route(
            "/Vpos/Payment/CardStorageCardList",
            post(card_storage::list),
        )
        .route(
            "/Vpos/Payment/CardStorageCardDelete",
            post(card_storage::delete),
        )
        .route(
            "/Vpos/Payment/PaymentInstallments",
            post(info::installments),
        )
        .route(
            "/Vpos/Payment/GetMerchandInformation",
            post(info::merchant_information),
        )
        .route("/Vpos/acs/{token}", get(acs::page).post(acs::page))
        .route("/Vpos/acs/{token}/submit", post(acs::submit));
    if sim.test_mode {
        router = router.nest("/_sim", control::router());
    }
    router.with_state(sim)
}

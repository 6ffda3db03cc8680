//! A circuit breaker per POS: after repeated technical failures (provider unreachable,
//! no answer, connection lost, HTTP 5xx) the POS fails fast with "provider unavailable"
//! instead of making every caller wait out a timeout, and a harmless probe
//! ([`Gateway::probe`], per protocol) must succeed before payments go through again.
//!
//! States: closed (calls go through, consecutive technical failures counted), open (calls
//! refused at once until the cool-down ends), half-open (one caller probes; the others are
//! still refused). A bank decline, a refused card or any verified answer is not a
//! technical failure: it proves the provider is up and resets the count.
//!
//! Only calls that start something are guarded: sale, 3D start, cancel, refund, the
//! installment and commission queries, and the card vault's register and delete.
//! Finishing a 3D sale, inquiries, reports and the card vault's list always go through, because they settle money that may already have moved; an inquiry or a
//! report that gets an answer closes the breaker, since the provider is plainly up.
//!
//! The breaker lives in the process (each instance judges for itself) and is rebuilt with
//! the client when the POS definition changes, so a corrected endpoint starts closed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use sanalpos_core::Kurus;
use sanalpos_gateway::Card;
use sanalpos_gateway::{
    CancelRequest, CaptureRequest, CommissionTable, ExpectedSale, Failure, FailureKind, Gateway,
    GatewayError, GatewayResponse, Inquiry, InquiryRequest, InstallmentOption, Outcome, Postback,
    RefundRequest, ReleaseRequest, ReportPage, ReportQuery, ReturnUrls, SaleRequest, SaveCard,
    StoredCard, StoredCardSale, ThreeDStart, UnknownReason,
};

/// When a POS's breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive technical failures that open the breaker (default 5; 0 switches the
    /// breaker off).
    pub failures: u32,
    /// How long an open breaker refuses calls before probing (default 30 s).
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            failures: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// One probe is in flight; other calls are refused.
    HalfOpen,
}

#[derive(Debug)]
struct State {
    consecutive: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// What a caller may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permit {
    Go,
    Probe,
    Refuse { retry_in: Duration },
}

/// The failure count and state of one POS.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: Mutex::new(State {
                consecutive: 0,
                open_until: None,
                probing: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counters half-updated in a
        // way that matters: keep going with what is there.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn state(&self) -> BreakerState {
        let state = self.lock();
        match state.open_until {
            None => BreakerState::Closed,
            Some(_) if state.probing => BreakerState::HalfOpen,
            Some(until) if Instant::now() >= until => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    fn permit(&self, now: Instant) -> Permit {
        if self.config.failures == 0 {
            return Permit::Go;
        }
        let mut state = self.lock();
        match state.open_until {
            None => Permit::Go,
            Some(until) if now < until => Permit::Refuse {
                retry_in: until - now,
            },
            Some(_) if state.probing => Permit::Refuse {
                retry_in: Duration::ZERO,
            },
            Some(_) => {
                state.probing = true;
                Permit::Probe
            }
        }
    }

    /// An unguarded call (inquiry, report) got a verified answer: the provider is up, so
    /// the failure run ends and an open breaker closes. A probe in flight still counts
    /// when it ends.
    fn heard_from_provider(&self) {
        if self.config.failures == 0 {
            return;
        }
        let mut state = self.lock();
        if state.open_until.is_some() {
            tracing::info!("provider answering again: circuit breaker closed");
        }
        state.consecutive = 0;
        state.open_until = None;
    }

    /// Counts the end of a call (or of a probe).
    fn record(&self, technical_failure: bool, now: Instant) {
        if self.config.failures == 0 {
            return;
        }
        let mut state = self.lock();
        let was_probe = std::mem::take(&mut state.probing);
        if technical_failure {
            state.consecutive = state.consecutive.saturating_add(1);
            if was_probe || state.consecutive >= self.config.failures {
                state.open_until = Some(now + self.config.cooldown);
                if !was_probe {
                    tracing::warn!(
                        failures = state.consecutive,
                        cooldown_s = self.config.cooldown.as_secs(),
                        "provider failing: circuit breaker opened"
                    );
                }
            }
        } else {
            if state.open_until.is_some() {
                tracing::info!("provider answering again: circuit breaker closed");
            }
            state.consecutive = 0;
            state.open_until = None;
        }
    }
}

fn is_technical(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed(Failure {
            kind: FailureKind::Unreachable,
            ..
        }) | Outcome::Unknown(
            UnknownReason::Timeout | UnknownReason::ConnectionLost | UnknownReason::ServerError(_)
        )
    )
}

fn is_technical_error(error: &GatewayError) -> bool {
    matches!(
        error,
        GatewayError::Unreachable(_) | GatewayError::Timeout | GatewayError::BadAnswer(_)
    )
}

fn refusal_detail(retry_in: Duration) -> String {
    format!(
        "provider unavailable: the POS's recent calls failed, so this one was not sent; \
         trying again in {} s",
        retry_in.as_secs().max(1)
    )
}

fn refused(retry_in: Duration) -> GatewayResponse {
    GatewayResponse {
        outcome: Outcome::Failed(Failure {
            kind: FailureKind::Unavailable,
            detail: refusal_detail(retry_in),
        }),
        raw: None,
        http_status: None,
        latency: Duration::ZERO,
    }
}

/// A provider client behind its POS's breaker.
pub(crate) struct Guarded {
    inner: Arc<dyn Gateway>,
    breaker: Arc<Breaker>,
}

impl Guarded {
    pub(crate) fn new(inner: Arc<dyn Gateway>, breaker: Arc<Breaker>) -> Guarded {
        Guarded { inner, breaker }
    }

    /// `Ok(())` when the call may go out now (probing first when the cool-down is over);
    /// otherwise how long until the next try.
    async fn admit(&self) -> Result<(), Duration> {
        match self.breaker.permit(Instant::now()) {
            Permit::Go => Ok(()),
            Permit::Refuse { retry_in } => Err(retry_in),
            Permit::Probe => {
                let probe = self.inner.probe().await;
                let failed = probe.as_ref().is_err_and(is_technical_error);
                self.breaker.record(failed, Instant::now());
                if failed {
                    Err(self.breaker.config.cooldown)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// A call that may move money: sent only when the breaker admits it (a lazy future,
    /// so a refused call never starts), its outcome counted.
    async fn money_call(
        &self,
        call: impl std::future::Future<Output = GatewayResponse>,
    ) -> GatewayResponse {
        match self.admit().await {
            Ok(()) => self.count(call.await),
            Err(retry_in) => refused(retry_in),
        }
    }

    fn count(&self, response: GatewayResponse) -> GatewayResponse {
        self.breaker
            .record(is_technical(&response.outcome), Instant::now());
        response
    }

    /// A call that moves no money but starts something at the provider (a query, a
    /// card vault change): refused as unreachable while the breaker is open, its
    /// technical failures counted.
    async fn guarded_call<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, GatewayError> {
        match self.admit().await {
            Ok(()) => self.count_error(call.await),
            Err(retry_in) => Err(GatewayError::Unreachable(refusal_detail(retry_in))),
        }
    }

    /// A 3D start, admitted and counted: a redirect proves the provider is up.
    async fn three_d_call(
        &self,
        call: impl std::future::Future<Output = ThreeDStart>,
    ) -> ThreeDStart {
        if let Err(retry_in) = self.admit().await {
            return ThreeDStart::Finished(refused(retry_in));
        }
        match call.await {
            ThreeDStart::Finished(response) => ThreeDStart::Finished(self.count(response)),
            redirect => {
                self.breaker.record(false, Instant::now());
                redirect
            }
        }
    }

    fn count_error<T>(&self, result: Result<T, GatewayError>) -> Result<T, GatewayError> {
        let failed = result.as_ref().is_err_and(is_technical_error);
        self.breaker.record(failed, Instant::now());
        result
    }
}

#[async_trait]
impl Gateway for Guarded {
    async fn sale(&self, request: &SaleRequest) -> GatewayResponse {
        self.money_call(self.inner.sale(request)).await
    }

    async fn sale_with_stored_card(&self, request: &StoredCardSale) -> GatewayResponse {
        self.money_call(self.inner.sale_with_stored_card(request))
            .await
    }

    async fn capture(&self, request: &CaptureRequest) -> GatewayResponse {
        self.money_call(self.inner.capture(request)).await
    }

    async fn release(&self, request: &ReleaseRequest) -> GatewayResponse {
        self.money_call(self.inner.release(request)).await
    }

    async fn register_card(
        &self,
        customer_key: &str,
        card: &Card,
        alias: &str,
    ) -> Result<StoredCard, GatewayError> {
        self.guarded_call(self.inner.register_card(customer_key, card, alias))
            .await
    }

    async fn list_cards(&self, customer_key: &str) -> Result<Vec<StoredCard>, GatewayError> {
        // Read-only, like an inquiry: always sent, and an answer proves the provider up.
        let result = self.inner.list_cards(customer_key).await;
        if result.is_ok() {
            self.breaker.heard_from_provider();
        }
        result
    }

    async fn delete_card(
        &self,
        customer_key: &str,
        tran_id: &str,
        token: &str,
    ) -> Result<(), GatewayError> {
        self.guarded_call(self.inner.delete_card(customer_key, tran_id, token))
            .await
    }

    async fn start_3d(&self, request: &SaleRequest, urls: &ReturnUrls) -> ThreeDStart {
        self.three_d_call(self.inner.start_3d(request, urls)).await
    }

    async fn start_3d_saving_card(
        &self,
        request: &SaleRequest,
        urls: &ReturnUrls,
        save: &SaveCard,
    ) -> ThreeDStart {
        self.three_d_call(self.inner.start_3d_saving_card(request, urls, save))
            .await
    }

    async fn finish_3d(&self, postback: &Postback, expected: &ExpectedSale) -> GatewayResponse {
        self.inner.finish_3d(postback, expected).await
    }

    async fn cancel(&self, request: &CancelRequest) -> GatewayResponse {
        self.money_call(self.inner.cancel(request)).await
    }

    async fn refund(&self, request: &RefundRequest) -> GatewayResponse {
        self.money_call(self.inner.refund(request)).await
    }

    async fn inquiry(&self, request: &InquiryRequest) -> Result<Inquiry, GatewayError> {
        let result = self.inner.inquiry(request).await;
        if result.is_ok() {
            self.breaker.heard_from_provider();
        }
        result
    }

    async fn report(&self, query: &ReportQuery) -> Result<ReportPage, GatewayError> {
        let result = self.inner.report(query).await;
        if result.is_ok() {
            self.breaker.heard_from_provider();
        }
        result
    }

    async fn installments(
        &self,
        bin: &str,
        amount: Kurus,
    ) -> Result<Vec<InstallmentOption>, GatewayError> {
        self.guarded_call(self.inner.installments(bin, amount))
            .await
    }

    async fn probe(&self) -> Result<(), GatewayError> {
        // A probe asked for by a person ("test connection") always goes out, and its
        // result counts like any other call's.
        self.count_error(self.inner.probe().await)
    }

    async fn commission_table(&self) -> Result<CommissionTable, GatewayError> {
        self.guarded_call(self.inner.commission_table()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::NaiveDate;
    use sanalpos_core::{ClientRef, Currency, ProviderRef};
    use sanalpos_gateway::{StoredCardId, StoredCardRef};

    /// A provider that answers the calls money moves by with the call's name, so a test
    /// sees which ones reached it; the rest are never called here.
    struct Named;

    fn named(call: &str) -> GatewayResponse {
        GatewayResponse::not_supported(&format!("inner {call}"))
    }

    #[async_trait]
    impl Gateway for Named {
        async fn sale(&self, _: &SaleRequest) -> GatewayResponse {
            named("sale")
        }
        async fn sale_with_stored_card(&self, _: &StoredCardSale) -> GatewayResponse {
            named("stored card sale")
        }
        async fn register_card(
            &self,
            _: &str,
            _: &Card,
            _: &str,
        ) -> Result<StoredCard, GatewayError> {
            Err(GatewayError::Rejected("inner register_card".into()))
        }
        async fn list_cards(&self, _: &str) -> Result<Vec<StoredCard>, GatewayError> {
            Err(GatewayError::Rejected("inner list_cards".into()))
        }
        async fn delete_card(&self, _: &str, _: &str, _: &str) -> Result<(), GatewayError> {
            Err(GatewayError::Rejected("inner delete_card".into()))
        }
        async fn start_3d_saving_card(
            &self,
            _: &SaleRequest,
            _: &ReturnUrls,
            _: &SaveCard,
        ) -> ThreeDStart {
            ThreeDStart::Finished(named("start_3d_saving_card"))
        }
        async fn capture(&self, _: &CaptureRequest) -> GatewayResponse {
            named("capture")
        }
        async fn release(&self, _: &ReleaseRequest) -> GatewayResponse {
            named("release")
        }
        async fn start_3d(&self, _: &SaleRequest, _: &ReturnUrls) -> ThreeDStart {
            ThreeDStart::Finished(named("start_3d"))
        }
        async fn finish_3d(&self, _: &Postback, _: &ExpectedSale) -> GatewayResponse {
            named("finish_3d")
        }
        async fn cancel(&self, _: &CancelRequest) -> GatewayResponse {
            named("cancel")
        }
        async fn refund(&self, _: &RefundRequest) -> GatewayResponse {
            named("refund")
        }
        async fn inquiry(&self, _: &InquiryRequest) -> Result<Inquiry, GatewayError> {
            Err(GatewayError::Unsupported("inquiry"))
        }
        async fn report(&self, _: &ReportQuery) -> Result<ReportPage, GatewayError> {
            Err(GatewayError::Unsupported("report"))
        }
        async fn installments(
            &self,
            _: &str,
            _: Kurus,
        ) -> Result<Vec<InstallmentOption>, GatewayError> {
            Err(GatewayError::Unsupported("installments"))
        }
        async fn commission_table(&self) -> Result<CommissionTable, GatewayError> {
            Err(GatewayError::Unsupported("commission table"))
        }
        async fn probe(&self) -> Result<(), GatewayError> {
            Ok(())
        }
    }

    fn detail(response: &GatewayResponse) -> &str {
        match &response.outcome {
            Outcome::Failed(failure) => &failure.detail,
            other => panic!("{other:?}"),
        }
    }

    /// The guard passes every money-moving call to the provider it wraps, rather than
    /// answering "not supported" from the trait's defaults; an open breaker holds them.
    #[tokio::test]
    async fn capture_release_and_stored_card_sales_reach_the_provider() {
        let breaker = Arc::new(breaker(1));
        let guarded = Guarded::new(Arc::new(Named), breaker.clone());
        let reference = ProviderRef::parse("IKSIRPF1").unwrap_or_else(|e| panic!("{e}"));
        let client_ref = ClientRef::generate();
        let amount = Kurus::from_minor(1_000).unwrap_or(Kurus::ZERO);
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default();
        let capture = CaptureRequest {
            provider_ref: reference.clone(),
            client_ref: client_ref.clone(),
            authorized: amount,
            amount,
            currency: Currency::Try,
            pre_auth_date: day,
        };
        let release = ReleaseRequest {
            provider_ref: reference,
            client_ref: client_ref.clone(),
            pre_auth_date: day,
            authorized: amount,
            currency: Currency::Try,
        };
        let stored = StoredCardSale {
            client_ref,
            amount,
            currency: Currency::Try,
            installments: 1,
            stored_card: StoredCardRef {
                customer_key: "CARI-1".into(),
                card: StoredCardId::Token("t1".into()),
            },
            description: None,
            cardholder_ip: None,
        };
        let answer = guarded.capture(&capture).await;
        assert!(detail(&answer).starts_with("inner capture"), "{answer:?}");
        let answer = guarded.release(&release).await;
        assert!(detail(&answer).starts_with("inner release"), "{answer:?}");
        let answer = guarded.sale_with_stored_card(&stored).await;
        assert!(
            detail(&answer).starts_with("inner stored card sale"),
            "{answer:?}"
        );

        breaker.record(true, Instant::now());
        let answer = guarded.capture(&capture).await;
        assert!(!detail(&answer).starts_with("inner"), "held: {answer:?}");
    }

    /// The card vault's calls reach the provider too; while the breaker is open the
    /// list still goes out (read-only) and the delete is held.
    #[tokio::test]
    async fn card_vault_calls_reach_the_provider() {
        let breaker = Arc::new(breaker(1));
        let guarded = Guarded::new(Arc::new(Named), breaker.clone());
        let inner =
            |e: GatewayError| matches!(e, GatewayError::Rejected(t) if t.starts_with("inner"));
        assert!(inner(guarded.list_cards("CARI-1").await.unwrap_err()));
        assert!(inner(
            guarded.delete_card("CARI-1", "i1", "t1").await.unwrap_err()
        ));
        breaker.record(true, Instant::now());
        assert!(inner(guarded.list_cards("CARI-1").await.unwrap_err()));
        assert!(matches!(
            guarded.delete_card("CARI-1", "i1", "t1").await,
            Err(GatewayError::Unreachable(_))
        ));
    }

    fn breaker(failures: u32) -> Breaker {
        Breaker::new(BreakerConfig {
            failures,
            cooldown: Duration::from_secs(30),
        })
    }

    #[test]
    fn opens_after_the_configured_run_of_failures_only() {
        let b = breaker(3);
        let t = Instant::now();
        b.record(true, t);
        b.record(true, t);
        assert_eq!(b.permit(t), Permit::Go);
        // A verified answer in between resets the run.
        b.record(false, t);
        b.record(true, t);
        b.record(true, t);
        assert_eq!(b.permit(t), Permit::Go);
        b.record(true, t);
        assert_eq!(
            b.permit(t + Duration::from_secs(10)),
            Permit::Refuse {
                retry_in: Duration::from_secs(20)
            }
        );
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn one_probe_after_the_cooldown_and_it_decides() {
        let b = breaker(1);
        let t = Instant::now();
        b.record(true, t);
        let later = t + Duration::from_secs(31);
        assert_eq!(b.permit(later), Permit::Probe);
        // While the probe is out, everyone else is still refused.
        assert_eq!(
            b.permit(later),
            Permit::Refuse {
                retry_in: Duration::ZERO
            }
        );
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // A failed probe opens it for a whole new cool-down.
        b.record(true, later);
        assert!(
            matches!(b.permit(later), Permit::Refuse { retry_in } if retry_in == Duration::from_secs(30))
        );
        let much_later = later + Duration::from_secs(31);
        assert_eq!(b.permit(much_later), Permit::Probe);
        b.record(false, much_later);
        assert_eq!(b.permit(much_later), Permit::Go);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn an_answer_to_an_unguarded_call_closes_it() {
        let b = breaker(2);
        let t = Instant::now();
        b.record(true, t);
        b.record(true, t);
        assert_eq!(b.state(), BreakerState::Open);
        b.heard_from_provider();
        assert_eq!(b.permit(t), Permit::Go);
        // And the run starts from zero again.
        b.record(true, t);
        assert_eq!(b.permit(t), Permit::Go);
    }

    #[test]
    fn zero_failures_switches_it_off() {
        let b = breaker(0);
        let t = Instant::now();
        for _ in 0..10 {
            b.record(true, t);
        }
        assert_eq!(b.permit(t), Permit::Go);
    }

    #[test]
    fn only_technical_failures_count() {
        assert!(is_technical(&Outcome::Unknown(UnknownReason::Timeout)));
        assert!(is_technical(&Outcome::Unknown(UnknownReason::ServerError(
            502
        ))));
        assert!(!is_technical(&Outcome::Unknown(
            UnknownReason::SignatureInvalid
        )));
        assert!(!is_technical(&Outcome::Failed(Failure {
            kind: FailureKind::BadCredentials,
            detail: String::new(),
        })));
    }
}

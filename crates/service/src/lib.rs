//! The sanalpos payment service: the business logic every front end calls.
//!
//! [`PaymentService`] validates a payment request, picks the company's POS, writes the
//! payment and its attempt (as `dispatched`) and commits *before* calling the provider,
//! then records the outcome, the payment's new state and the audit event in one
//! transaction. It runs the 3D Secure round trip (the page that takes the browser to the
//! bank, and the postback that finishes the sale), cancels, refunds (never above what
//! was captured) and reversals, and its janitor resolves what a crash or a timeout left
//! open by *inquiry*, never by sending a sale again. It is HTTP-free: the server crate
//! maps it to routes, the CLI to commands.
//!
//! Card numbers and CVVs live only in memory during [`PaymentService::create_payment`];
//! the database gets the masked PAN and a keyed fingerprint. POS credentials are
//! decrypted only to build a provider client.

mod abuse;
mod admin;
mod backoffice;
mod breaker;
mod card_forms;
mod checkout;
mod end_of_day;
mod error;
mod events;
mod export;
mod gateways;
mod idempotency;
mod janitor;
mod labels;
mod links;
mod names;
mod outcome;
mod payments;
mod pos_choice;
mod pre_auth;
mod recon;
mod reports;
mod reversals;
mod scheduled_refunds;
mod settings_cache;
mod sign_in;
mod statement_profiles;
mod stored_card_payments;
mod stored_cards;
mod three_d;
mod time;
mod types;
mod webhooks;

use std::sync::Arc;

use chrono::NaiveDate;
use sanalpos_core::Kurus;
use sanalpos_store::{Crypto, Store};

pub use abuse::{AbuseLimits, BlockReason};
pub use backoffice::{ConnectionCheck, InstallmentChoice};
pub use breaker::{BreakerConfig, BreakerState};
pub use checkout::{
    return_signature, CheckoutSessionView, HostedPayment, HostedSession, NewCheckoutSession,
    SignedReturn,
};
pub use end_of_day::{EndOfDayReport, END_OF_DAY_ACTOR};
pub use error::{ServiceError, StatementRow};
pub use export::{payment_export_headers, ExportFormat, MAX_EXPORT_ROWS};
pub use idempotency::{Claim, ClaimedPayment, CreatedOnce, KeyAnswerFn, WAIT_FOR_FIRST};
pub use janitor::MAX_INQUIRIES;
pub use labels::{block_message, channel_label, status_label};
pub use links::{LinkFilter, LinkMail, LinkPage, LINK_STATUSES};
pub use names::{EventName, ReconResolutionName, ReconSource};
pub use pre_auth::MAX_RELEASE_REFUSALS;
pub use pre_auth::{DEFAULT_HOLD_DAYS as PRE_AUTH_DEFAULT_DAYS, HOLD_DAYS as PRE_AUTH_HOLD_DAYS};
pub use recon::{
    recon_class_label, recon_export_headers, recon_reason_label, EntryDetails, ItemsQuery,
    MatchCandidate, ReconCounts, ReconItemView, ReconRunEntry, ReconRunView, RejectCause,
    RejectedRow, Resolution, StatementFile,
};
pub use reports::{
    payment_cursor, AuditEventView, CurrencyTotals, DashboardView, DayTotals, DeclineReason,
    PaymentTotals,
};
pub use sanalpos_gateway::protocol::{
    self as protocols, Capabilities, FieldKind, FieldSpec, Label, ProtocolInfo, Settings,
    ThreeDModel,
};
pub use sanalpos_gateway::InstallmentOption;
pub use sanalpos_recon::{
    Class as ReconClass, ClassTotals, Column, Difference, Field, Flag, NumberStyle, Profile,
    ProviderRow, RowKind, RowState, Summary,
};
/// What is wrong with a provider row, as data (from the reconciliation engine).
pub use sanalpos_recon::{ExpectedValue, RowProblem};
pub use sanalpos_store::{
    Channel, Company, DocumentItem, Environment, InstallmentRow, KeyClaim, OnboardingState,
    PaymentStatus, RateHit, RefundKind, RefundStatus, Role, SessionPurpose, StoredCardState,
    WEBHOOK_EVENTS,
};
pub use sign_in::{session_token_hash, SignIn, SignedIn, SESSION_SECS};
pub use statement_profiles::StatementProfileView;
pub use stored_cards::{CardDeletionReport, RegisterCard, StoredCardView};
pub use time::{business_date, istanbul_today};
pub use types::*;
pub use webhooks::{
    verify_webhook_signature, webhook_signature, DeliveryTryView, DeliveryView,
    WebhookEndpointView, WebhookPass, WebhookWorkerConfig, SIGNATURE_HEADER,
};

/// The payment service. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct PaymentService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    crypto: Crypto,
    config: ServiceConfig,
    gateways: gateways::GatewayCache,
    card_forms: card_forms::CardForms,
    blocked: abuse::BlockCounters,
    successes: gateways::SuccessMarks,
    settings: settings_cache::SettingsCache,
}

impl std::fmt::Debug for PaymentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentService")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl PaymentService {
    /// A service over a store, with the master key's crypto.
    pub fn new(store: Store, crypto: Crypto, config: ServiceConfig) -> PaymentService {
        PaymentService {
            inner: Arc::new(Inner {
                store,
                crypto,
                config,
                gateways: gateways::GatewayCache::default(),
                card_forms: card_forms::CardForms::default(),
                blocked: abuse::BlockCounters::default(),
                successes: gateways::SuccessMarks::default(),
                settings: settings_cache::SettingsCache::default(),
            }),
        }
    }

    /// A service over a store, after moving any POS stored before settings documents
    /// into its document (migration 7; needs the master key). What `serve` and the
    /// operator commands use.
    pub async fn start(
        store: Store,
        crypto: Crypto,
        config: ServiceConfig,
    ) -> Result<PaymentService, ServiceError> {
        gateways::move_legacy_pos(&store, &crypto).await?;
        Ok(PaymentService::new(store, crypto, config))
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// Now, in Unix milliseconds, from the configured clock: every time the service
    /// decides by (grace periods, leases, windows, timestamps it writes) is read here.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.config.clock.now_ms()
    }

    // ----- companies, POS definitions, keys, users -------------------------------------

    /// Creates a company.
    pub async fn create_company(&self, name: &str, actor: &str) -> Result<Company, ServiceError> {
        admin::create_company(self, name, actor).await
    }

    /// Every company, by name.
    pub async fn list_companies(&self) -> Result<Vec<Company>, ServiceError> {
        Ok(self.inner.store.list_companies().await?)
    }

    /// Adds a POS definition; the credentials are encrypted before they are stored.
    pub async fn create_pos(
        &self,
        company_id: &str,
        new: NewPos,
        actor: &str,
    ) -> Result<PosView, ServiceError> {
        admin::create_pos(self, company_id, new, actor).await
    }

    /// Changes a POS definition; it takes effect on the next payment, everywhere.
    pub async fn update_pos(
        &self,
        company_id: &str,
        pos_id: &str,
        change: PosChange,
        actor: &str,
    ) -> Result<PosView, ServiceError> {
        admin::update_pos(self, company_id, pos_id, change, actor).await
    }

    /// Where the circuit breaker of a POS stands in this instance; `None` before the
    /// POS's first provider call here.
    pub fn breaker_state(&self, pos_id: &str) -> Option<BreakerState> {
        self.inner.gateways.breaker_state(pos_id)
    }

    /// One POS definition, credentials masked.
    pub async fn get_pos(&self, company_id: &str, pos_id: &str) -> Result<PosView, ServiceError> {
        let pos = self.inner.store.get_pos(company_id, pos_id).await?;
        admin::pos_view(self, &pos)
    }

    /// A company's POS definitions, credentials masked.
    pub async fn list_pos(&self, company_id: &str) -> Result<Vec<PosView>, ServiceError> {
        let all = self.inner.store.list_pos(company_id).await?;
        all.iter().map(|p| admin::pos_view(self, p)).collect()
    }

    /// Creates an API key: `sk_live_` + 32 base62 characters, returned once and stored
    /// only as a SHA-256 hash.
    pub async fn create_api_key(
        &self,
        company_id: &str,
        name: &str,
        actor: &str,
    ) -> Result<(ApiKeyView, String), ServiceError> {
        admin::create_api_key(self, company_id, name, actor).await
    }

    /// A company's API keys (never the keys themselves).
    pub async fn list_api_keys(&self, company_id: &str) -> Result<Vec<ApiKeyView>, ServiceError> {
        let keys = self.inner.store.list_api_keys(company_id).await?;
        Ok(keys.iter().map(ApiKeyView::from).collect())
    }

    /// Revokes a key of the company.
    pub async fn revoke_api_key(
        &self,
        company_id: &str,
        key_id: &str,
        actor: &str,
    ) -> Result<(), ServiceError> {
        admin::revoke_api_key(self, company_id, key_id, actor).await
    }

    /// Group commits the database writer rolled back and ran again one write at a time
    /// since start (for `/metrics`; see `Store::groups_undone`).
    pub fn write_groups_undone(&self) -> u64 {
        self.inner.store.groups_undone()
    }

    /// How busy the database writer has been since start (for `/metrics` and `sanalpos
    /// bench`; see `Store::writer_load`).
    pub fn writer_load(&self) -> sanalpos_store::WriterLoad {
        self.inner.store.writer_load()
    }

    /// The company and key behind an API key; `None` for an unknown, malformed or
    /// revoked key.
    pub async fn authenticate(&self, api_key: &str) -> Result<Option<ApiCaller>, ServiceError> {
        admin::authenticate(self, api_key).await
    }

    /// The caller of a sale through the API: like [`PaymentService::authenticate`], but
    /// from the keys this instance keeps when the key is among them, with no read. The
    /// sale ([`PaymentService::create_payment_claiming`]) confirms it before writing;
    /// an answer that comes without a sale confirms it with
    /// [`PaymentService::confirm_sale_caller`].
    pub async fn authenticate_sale(
        &self,
        api_key: &str,
    ) -> Result<Option<SaleCaller>, ServiceError> {
        admin::authenticate_sale(self, api_key).await
    }

    /// Whether a sale's caller still holds: `Ok(())`, or
    /// [`ServiceError::Unauthorized`] for a key revoked since it was kept.
    pub async fn confirm_sale_caller(&self, caller: &SaleCaller) -> Result<(), ServiceError> {
        let epoch = self.inner.store.settings_epoch().await?;
        admin::confirm_sale_caller(self, caller, epoch).await
    }

    /// Creates a user (argon2id password hash).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        company_ids: &[String],
        actor: &str,
    ) -> Result<UserView, ServiceError> {
        admin::create_user(self, username, password, role, company_ids, actor).await
    }

    /// Gives the active user `username` a new password (at least 10 characters): their
    /// back-office sessions end and a lockout from wrong passwords is lifted.
    /// [`ServiceError::NotFound`] for an unknown or disabled user.
    pub async fn set_user_password(
        &self,
        username: &str,
        password: &str,
        actor: &str,
    ) -> Result<UserView, ServiceError> {
        admin::set_password(self, username, password, actor).await
    }

    /// Checks a username and password; [`ServiceError::Unauthorized`] when wrong.
    pub async fn login(&self, username: &str, password: &str) -> Result<UserView, ServiceError> {
        admin::login(self, username, password).await
    }

    // ----- payments ---------------------------------------------------------------------

    /// Validates and makes a payment (non-3D sale, or 3D start). Answers with the
    /// payment whatever the outcome once an attempt was made; an error means nothing
    /// was attempted.
    pub async fn create_payment(
        &self,
        caller: &Actor,
        request: CreatePayment,
    ) -> Result<PaymentView, ServiceError> {
        payments::create_payment(self, caller, request, None).await
    }

    /// [`PaymentService::create_payment`] under an idempotency key: the key is linked to
    /// the payment in the transaction that creates it, so a request that takes the key
    /// over after the first one died (its lock expired) gets that payment as it stands
    /// now, never a second sale. `answer` turns the payment into the key's answer, which
    /// is stored in the transaction that records the payment's outcome
    /// ([`CreatedOnce::answer_kept`]), so a sale costs the key no commit of its own.
    pub async fn create_payment_once(
        &self,
        caller: &Actor,
        key: &str,
        request: CreatePayment,
        answer: KeyAnswerFn,
    ) -> Result<CreatedOnce, ServiceError> {
        payments::create_payment_once(self, caller, key, request, answer).await
    }

    /// [`PaymentService::create_payment_once`] for a key not claimed yet: the key is
    /// claimed, the request counted against `claim`'s rate limits, and the payment
    /// written, in one transaction, so a sale commits twice (before and after the
    /// provider call) and nothing else. When the key is not free, or a limit is
    /// reached, nothing is sent ([`ClaimedPayment`]). The caller, taken from the kept
    /// keys, is confirmed before anything is written: [`ServiceError::Unauthorized`]
    /// when its key was revoked since.
    pub async fn create_payment_claiming(
        &self,
        caller: &SaleCaller,
        claim: &KeyClaim,
        request: CreatePayment,
        answer: KeyAnswerFn,
    ) -> Result<ClaimedPayment, ServiceError> {
        payments::create_payment_claiming(self, caller, claim, request, answer).await
    }

    /// A payment of the company with its attempts and refunds.
    pub async fn get_payment(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<PaymentDetail, ServiceError> {
        payments::get_payment(self, company_id, id).await
    }

    /// A page of the company's payments, newest first.
    pub async fn list_payments(
        &self,
        company_id: &str,
        filter: PaymentFilter,
    ) -> Result<PaymentPage, ServiceError> {
        payments::list_payments(self, company_id, filter).await
    }

    /// Captures a pre-authorisation: all of the held amount when `amount` is `None`,
    /// or part of it (the provider frees the rest). Audited; `payment.captured`.
    pub async fn capture_payment(
        &self,
        caller: &Actor,
        company_id: &str,
        id: &str,
        amount: Option<Kurus>,
    ) -> Result<PaymentView, ServiceError> {
        pre_auth::capture(self, caller, company_id, id, amount).await
    }

    /// Releases a pre-authorisation: the block is freed, nothing is charged. Audited;
    /// `payment.released`.
    pub async fn release_payment(
        &self,
        caller: &Actor,
        company_id: &str,
        id: &str,
    ) -> Result<PaymentView, ServiceError> {
        pre_auth::release(self, caller, company_id, id).await
    }

    /// Cancels (voids) an approved payment without refunds.
    pub async fn cancel_payment(
        &self,
        caller: &Actor,
        company_id: &str,
        id: &str,
    ) -> Result<PaymentView, ServiceError> {
        reversals::cancel(self, caller, company_id, id)
            .await
            .map(|a| a.payment)
    }

    /// Refunds part or all of what was captured: see [`PaymentService::request_refund`];
    /// answers the payment only.
    pub async fn refund_payment(
        &self,
        caller: &Actor,
        company_id: &str,
        id: &str,
        amount: Kurus,
    ) -> Result<PaymentView, ServiceError> {
        reversals::refund(self, caller, company_id, id, amount)
            .await
            .map(|a| a.payment)
    }

    /// Refunds part or all of what was captured. The whole sale on its business day is
    /// cancelled instead. A refund the provider cannot take yet (its business day is
    /// still open) is kept as `scheduled`: it counts against the refundable amount at
    /// once and is carried out by the janitor / end-of-day job after the close.
    pub async fn request_refund(
        &self,
        caller: &Actor,
        company_id: &str,
        id: &str,
        amount: Kurus,
    ) -> Result<RefundAnswer, ServiceError> {
        reversals::refund(self, caller, company_id, id, amount).await
    }

    /// Withdraws a scheduled refund before it is carried out; its amount can be
    /// refunded again. Conflict `not_withdrawable` when it is no longer scheduled.
    pub async fn withdraw_refund(
        &self,
        caller: &Actor,
        company_id: &str,
        payment_id: &str,
        refund_id: &str,
    ) -> Result<PaymentDetail, ServiceError> {
        reversals::withdraw(self, caller, company_id, payment_id, refund_id).await
    }

    /// Takes the whole payment back: a cancel on the sale's business day, a refund of
    /// what remains after it (or when the bank refuses the cancel with 21/29).
    pub async fn reverse_payment(
        &self,
        caller: &Actor,
        company_id: &str,
        id: &str,
    ) -> Result<PaymentView, ServiceError> {
        reversals::reverse(self, caller, company_id, id).await
    }

    /// The HTML that takes the cardholder's browser to the bank (`GET /3d/{token}`).
    pub async fn three_d_page(&self, token: &str) -> Result<String, ServiceError> {
        three_d::page(self, token).await
    }

    /// Handles the browser's postback (`POST /3d/{token}/return`) and says where to
    /// send it.
    pub async fn three_d_return(
        &self,
        token: &str,
        form_body: &[u8],
    ) -> Result<ThreeDReturn, ServiceError> {
        three_d::finish(self, token, form_body).await
    }

    // ----- reconciliation ---------------------------------------------------------------

    /// Reconciles a POS's period (`YYYY-MM-DD`, both inclusive) against the provider's
    /// report API: every page of every window is read, rows that cannot be used are
    /// listed in the run, and the run is stored with its items and audited.
    pub async fn run_reconciliation(
        &self,
        actor: &Actor,
        company_id: &str,
        pos_id: &str,
        from: &str,
        to: &str,
    ) -> Result<ReconRunView, ServiceError> {
        recon::run_pull(self, actor, company_id, pos_id, from, to).await
    }

    /// Reconciles a POS's period against a statement file (the simulator's layout when
    /// `profile` is `None`). A file with a bad row stores nothing and answers
    /// [`ServiceError::BadStatement`] with every bad line, unless `skip_bad_rows` says
    /// a person has seen them and decided: then the good rows are reconciled and the
    /// bad ones are listed in the run's rejected rows (a file with no good row is still
    /// refused). The file is read a block at a time as it is parsed (see
    /// [`StatementFile`]); a file that cannot be read to its end imports nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_statement(
        &self,
        actor: &Actor,
        company_id: &str,
        pos_id: &str,
        from: &str,
        to: &str,
        file: impl Into<StatementFile>,
        profile: Option<Profile>,
        skip_bad_rows: bool,
    ) -> Result<ReconRunView, ServiceError> {
        recon::run_import(
            self,
            actor,
            company_id,
            pos_id,
            from,
            to,
            file.into(),
            profile,
            skip_bad_rows,
        )
        .await
    }

    /// A run of the company with a page of its items (all, its exceptions or one
    /// class, as `items` asks).
    pub async fn get_reconciliation(
        &self,
        company_id: &str,
        run_id: &str,
        items: &ItemsQuery,
    ) -> Result<ReconRunView, ServiceError> {
        recon::get_run(self, company_id, run_id, items).await
    }

    /// One item of a run of the company.
    pub async fn get_reconciliation_item(
        &self,
        company_id: &str,
        run_id: &str,
        item_id: &str,
    ) -> Result<ReconItemView, ServiceError> {
        let record = self
            .inner
            .store
            .get_recon_item(company_id, run_id, item_id)
            .await?;
        recon::item_view(record)
    }

    /// The cursor of the page of a run's items that starts with item `item_id` (`None`
    /// for the first page); `NotFound` when the item is not the company's.
    pub async fn reconciliation_cursor_at(
        &self,
        company_id: &str,
        run_id: &str,
        item_id: &str,
    ) -> Result<Option<String>, ServiceError> {
        recon::cursor_at(self, company_id, run_id, item_id).await
    }

    /// The company's latest runs (at most `limit`, up to 200), newest first.
    pub async fn list_reconciliations(
        &self,
        company_id: &str,
        limit: u32,
    ) -> Result<Vec<ReconRunEntry>, ServiceError> {
        recon::list_runs(self, company_id, limit).await
    }

    /// The payments each open exception of a run may be force-matched with, by item
    /// id: the item's own first, then the POS's payments of the provider row's amount,
    /// card and day (give or take one) that nothing in the run has matched.
    pub async fn match_candidates(
        &self,
        company_id: &str,
        run_id: &str,
    ) -> Result<std::collections::BTreeMap<String, Vec<MatchCandidate>>, ServiceError> {
        recon::match_candidates(self, company_id, run_id, None).await
    }

    /// [`Self::match_candidates`] of only the named items (those of them that are open
    /// exceptions of the run).
    pub async fn match_candidates_of(
        &self,
        company_id: &str,
        run_id: &str,
        item_ids: &[&str],
    ) -> Result<std::collections::BTreeMap<String, Vec<MatchCandidate>>, ServiceError> {
        recon::match_candidates(self, company_id, run_id, Some(item_ids)).await
    }

    /// The customer references the company's payments already carry, distinct and in
    /// order, those starting with `prefix` (all when empty), at most `limit` (up to 200).
    pub async fn customer_refs(
        &self,
        company_id: &str,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<String>, ServiceError> {
        Ok(self
            .inner
            .store
            .customer_refs(company_id, prefix.trim(), limit.clamp(1, 200))
            .await?)
    }

    /// Decides an exception of a run (audited with the state before).
    pub async fn resolve_item(
        &self,
        actor: &Actor,
        company_id: &str,
        run_id: &str,
        item_id: &str,
        resolution: Resolution,
    ) -> Result<ReconItemView, ServiceError> {
        recon::resolve(self, actor, company_id, run_id, item_id, resolution).await
    }

    /// One janitor pass: resolves stale payments and refunds by inquiry, expires
    /// abandoned 3D payments, purges old idempotency keys.
    pub async fn run_janitor_once(&self) -> Result<JanitorReport, ServiceError> {
        janitor::run_once(self).await
    }

    /// Runs the janitor now and every `janitor_interval` until `shutdown` turns true.
    pub fn spawn_janitor(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        janitor::spawn(self.clone(), shutdown)
    }

    /// Reconciles business day `day` for every active POS of every company, once: a POS
    /// leased by another instance or already reconciled for `day` by this job is skipped.
    pub async fn run_end_of_day_once(
        &self,
        day: NaiveDate,
    ) -> Result<EndOfDayReport, ServiceError> {
        end_of_day::run_once(self, day).await
    }

    /// Once a day after [`ServiceConfig::end_of_day`] (Istanbul time), reconciles the
    /// previous business day, until `shutdown` turns true. Does nothing when it is off.
    pub fn spawn_end_of_day(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        end_of_day::spawn(self.clone(), shutdown)
    }
}

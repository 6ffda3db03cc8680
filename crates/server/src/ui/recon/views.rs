//! The reconciliation pages' markup: the list of runs with the new run forms, and a
//! run's page with its summary, items and the decisions on its open exceptions. The
//! handlers in the parent module load what these show.

use std::collections::BTreeMap;

use maud::{html, Markup};

use sanalpos_service::{
    MatchCandidate, PaymentStatus, PosView, ProviderRow, ReconItemView, ReconRunEntry,
    ReconRunView, RowKind, RowState, StatementProfileView, StatementRow,
};

use super::text::{flag_text, money, row_time, signed_money};
use super::{ResolveForm, RunForm};
use crate::ui::format::day;
use crate::ui::layout::{csrf, notice, page, Nav};
use crate::ui::listing::{paging, query_string};
use crate::ui::session::{Ctx, Perm};
use sanalpos_service::ReconClass;

/// The outcome of a refused new run, shown above the list.
pub(super) enum Refusal {
    /// A message.
    Message(String),
    /// A statement with bad rows: nothing was imported. The user may upload the same
    /// file (its SHA-256 here) again to take its readable rows.
    BadRows {
        rows: Vec<StatementRow>,
        file_sha256: String,
    },
}

fn today() -> String {
    sanalpos_service::istanbul_today().to_string()
}

/// The hidden fields that carry a refused upload's choices to the decision form.
fn upload_choices(ctx: &Ctx, sent: &RunForm) -> Markup {
    html! {
        (csrf(ctx))
        input type="hidden" name="pos_id" value=(sent.pos_id);
        input type="hidden" name="from" value=(sent.from);
        input type="hidden" name="to" value=(sent.to);
        input type="hidden" name="profile_id" value=(sent.profile_id);
    }
}

fn pos_name(pos: &[PosView], id: &str) -> String {
    pos.iter()
        .find(|p| p.id == id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| id.to_owned())
}

fn new_run_forms(
    ctx: &Ctx,
    pos: &[PosView],
    profiles: &[(String, StatementProfileView)],
    sent: &RunForm,
) -> Markup {
    let t = ctx.t();
    let from = if sent.from.is_empty() {
        today()
    } else {
        sent.from.clone()
    };
    let to = if sent.to.is_empty() {
        today()
    } else {
        sent.to.clone()
    };
    let pos_select = |id: &str| {
        html! {
            label { (t.pos)
                select id=(id) name="pos_id" required {
                    @for p in pos {
                        option value=(p.id) selected[sent.pos_id == p.id] { (p.name) }
                    }
                }
            }
        }
    };
    html! {
        section.new-run {
            h2 { (t.recon_new_pull) }
            p.hint { (t.recon_pull_hint) }
            form #pull-form.filters method="post" action="/ui/reconciliations" {
                (csrf(ctx))
                (pos_select("pull-pos"))
                label { (t.date_from) input #pull-from type="date" name="from" required value=(from); }
                label { (t.date_to) input #pull-to type="date" name="to" required value=(to); }
                button #pull-submit type="submit" { (t.recon_start) }
            }
            h2 { (t.recon_upload) }
            p.hint { (t.recon_upload_hint) }
            form #upload-form.filters method="post" action="/ui/reconciliations/import" enctype="multipart/form-data" {
                (csrf(ctx))
                (pos_select("upload-pos"))
                label { (t.date_from) input #upload-from type="date" name="from" required value=(from); }
                label { (t.date_to) input #upload-to type="date" name="to" required value=(to); }
                label { (t.recon_profile)
                    select #upload-profile name="profile_id" {
                        option value="" { (t.recon_profile_builtin) }
                        @for (pos_name, p) in profiles {
                            option value=(p.id) data-pos=(p.pos_id) selected[sent.profile_id == p.id] { (pos_name) " · " (p.name) }
                        }
                    }
                }
                label { (t.recon_file) input #upload-file type="file" name="file" required accept=".csv,.txt,.xlsx"; }
                button #upload-submit type="submit" { (t.recon_import) }
            }
        }
    }
}

/// The list page: a refused new run's reason (and a bad statement's rows with the
/// form to take the readable ones), the new run forms, and the runs.
pub(super) fn list_page(
    ctx: &Ctx,
    pos: &[PosView],
    runs: &[ReconRunEntry],
    profiles: &[(String, StatementProfileView)],
    sent: &RunForm,
    refusal: Option<Refusal>,
) -> Markup {
    let t = ctx.t();
    let body = html! {
        @match &refusal {
            Some(Refusal::Message(text)) => { (notice("error", text)) }
            Some(Refusal::BadRows { rows, file_sha256 }) => {
                (notice("error", t.recon_bad_file))
                table #bad-rows.dense {
                    thead { tr { th.num { (t.recon_line) } th { (t.reason) } } }
                    tbody {
                        @for row in rows {
                            tr data-line=(row.line) { td.num { (row.line) } td.bad-reason { (crate::ui::reject_reason::bad_row_reason(ctx.lang, row)) } }
                        }
                    }
                }
                h2 { (t.recon_skip_title) }
                p.hint { (t.recon_skip_hint) }
                form #skip-form.filters method="post" action="/ui/reconciliations/import" enctype="multipart/form-data" {
                    (upload_choices(ctx, sent))
                    input type="hidden" name="skip_sha256" value=(file_sha256);
                    label { (t.recon_same_file) input #skip-file type="file" name="file" required accept=".csv,.txt,.xlsx"; }
                    label.check { input #skip-confirm type="checkbox" name="confirm" required; (t.recon_skip_confirm) " (" (rows.len()) ")" }
                    button #skip-submit type="submit" { (t.recon_skip_submit) }
                }
            }
            None => {}
        }
        @if ctx.can(Perm::Reconcile) { (new_run_forms(ctx, pos, profiles, sent)) }
        h2 { (t.recon_runs) }
        div.table-wrap {
            table #runs.dense {
                thead { tr {
                    th { (t.created_at) } th { (t.pos) } th { (t.recon_period) } th { (t.recon_source) }
                    th { (t.status) }
                    @for class in ReconClass::ALL { th.num { (t.recon_class(class.as_str())) } }
                    th { (t.recon_started_by) }
                } }
                tbody {
                    @for run in runs {
                        tr data-id=(run.id) data-source=(run.source) {
                            td { a href=(format!("/ui/reconciliations/{}", run.id)) { (ctx.lang.datetime(run.created_at)) } }
                            td { (pos_name(pos, &run.pos_id)) }
                            td { (day(ctx.lang, &run.from)) " – " (day(ctx.lang, &run.to)) }
                            td { (t.recon_source(&run.source)) }
                            td { @if run.status == "completed" { (t.recon_completed) } @else { (run.status) } }
                            @for class in ReconClass::ALL {
                                td.num data-class=(class.as_str()) { (run.summary.of(class)) }
                            }
                            td { (run.created_by) }
                        }
                    }
                    @if runs.is_empty() { tr { td colspan="12" { (t.no_data) } } }
                }
            }
        }
    };
    page(ctx, t.nav_recon, Nav::Recon, body)
}

fn summary_table(ctx: &Ctx, run: &ReconRunView) -> Markup {
    let t = ctx.t();
    html! {
        table #summary.dense {
            thead { tr {
                th { (t.recon_class) } th.num { (t.count) } th.num { (t.recon_ours) } th.num { (t.recon_theirs) }
                th.num { (t.recon_difference) } th.num { (t.recon_ours_reversed) } th.num { (t.recon_theirs_reversed) }
            } }
            tbody {
                @for class in ReconClass::ALL {
                    @let totals = run.totals.get(class);
                    tr data-class=(class.as_str()) {
                        td { a href=(format!("/ui/reconciliations/{}?class={}", run.id, class.as_str())) { (t.recon_class(class.as_str())) } }
                        td.num.count { (run.summary.of(class)) }
                        td.num.ours { (money(ctx.lang, totals.ours)) }
                        td.num.theirs { (money(ctx.lang, totals.theirs)) }
                        td.num.difference { (signed_money(ctx.lang, totals.difference)) }
                        td.num { (money(ctx.lang, totals.ours_reversed)) }
                        td.num { (money(ctx.lang, totals.theirs_reversed)) }
                    }
                }
            }
        }
    }
}

fn provider_rows(ctx: &Ctx, rows: &[ProviderRow]) -> Markup {
    let t = ctx.t();
    html! {
        @for row in rows {
            div.provider-row {
                @let kind = match row.kind {
                    RowKind::Sale => t.op_sale,
                    RowKind::Cancel => t.op_cancel,
                    RowKind::Refund | RowKind::PartialRefund => t.op_refund,
                };
                @let status = match row.status {
                    RowState::Success => t.st_approved,
                    RowState::Error => t.st_declined,
                    RowState::New => t.st_pending,
                };
                (kind) " · " (status) " · " (money(ctx.lang, row.amount))
                @if let Some(r) = &row.provider_ref { " · " span.mono { (r.as_str()) } }
                @if let Some(a) = &row.auth_code { " · " (t.auth_code) " " (a.as_str()) }
                @if let Some(m) = &row.masked_pan { " · " (m.as_str()) }
                @let time = row_time(ctx.lang, row.time);
                @if !time.is_empty() { " · " (time) }
                @if let Some(line) = row.line { " · " (t.recon_line) " " (line) }
            }
        }
    }
}

fn confirm_box(ctx: &Ctx) -> Markup {
    html! { label.check { input type="checkbox" name="confirm"; (ctx.t().confirm_box) } }
}

/// What the page needs to offer the decisions: the customer references the company
/// already uses, and each open item's force-match candidates.
#[derive(Default)]
pub(super) struct Offers {
    pub(super) customer_refs: Vec<String>,
    pub(super) candidates: BTreeMap<String, Vec<MatchCandidate>>,
    /// A refused decision's item and what was sent, shown again open and filled in.
    pub(super) refused: Option<(String, ResolveForm)>,
}

/// The id of the page's one list of customer references.
const CUSTOMER_REFS_LIST: &str = "customer-refs";

/// One candidate payment as a choice.
fn candidate_choice(ctx: &Ctx, item: &ReconItemView, c: &MatchCandidate, checked: bool) -> Markup {
    let t = ctx.t();
    let status = PaymentStatus::parse(&c.status)
        .map(|s| t.status(s))
        .unwrap_or(c.status.as_str());
    html! {
        label.check.candidate data-payment=(c.payment_id) {
            input type="radio" name="payment_id" value=(c.payment_id) checked[checked];
            span {
                (ctx.lang.datetime(c.created_at)) " · " b { (ctx.lang.money(c.amount, c.currency)) }
                @if !c.masked_pan.is_empty() { " · " span.masked { (c.masked_pan) } }
                " · " (status)
                @if let Some(r) = &c.customer_ref { " · " (t.customer_ref) " " b { (r) } }
                @if let Some(r) = &c.order_ref { " · " (t.order_ref) " " (r) }
                " · " a.mono href=(format!("/ui/payments/{}", c.payment_id)) { (c.payment_id) }
                @if item.proposal.as_ref() == Some(&c.payment_id) {
                    " (" (t.recon_proposal) ")"
                } @else if c.of_item {
                    " (" (t.recon_candidate_of_item) ")"
                }
            }
        }
    }
}

/// The decisions of an open exception, in a disclosure on a row of their own below the
/// item so that the table keeps its width.
fn item_actions(ctx: &Ctx, run: &ReconRunView, item: &ReconItemView, offers: &Offers) -> Markup {
    let t = ctx.t();
    let base = format!("/ui/reconciliations/{}/items/{}", run.id, item.id);
    let candidates = offers
        .candidates
        .get(&item.id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let sale = item
        .provider_rows
        .iter()
        .find(|r| r.kind == RowKind::Sale && r.status == RowState::Success);
    let sent = offers
        .refused
        .as_ref()
        .filter(|(id, _)| *id == item.id)
        .map(|(_, form)| form);
    html! {
        details.item-actions open[sent.is_some()] {
            summary { (t.recon_decide) }
            div.decision-forms {
                @if item.class == ReconClass::ProviderOnly {
                    @if let Some(row) = sale {
                        @let description = match (sent, row.provider_ref.as_ref().map(|r| r.as_str())) {
                            (Some(form), _) => form.description.clone(),
                            (None, Some(r)) => format!("{} ({r})", t.recon_entry_description),
                            (None, None) => t.recon_entry_description.to_owned(),
                        };
                        @let order = match sent {
                            Some(form) => Some(form.order_ref.clone()),
                            None => row.client_ref.as_deref().map(str::to_owned),
                        };
                        form.enter-form.decision-form method="post" action=(format!("{base}/enter")) {
                            (csrf(ctx))
                            h3 { (t.recon_enter) }
                            p.hint {
                                (t.recon_enter_hint) ": " (money(ctx.lang, row.amount))
                                @if let Some(m) = &row.masked_pan { ", " (m.as_str()) }
                                @if let Some(a) = &row.auth_code { ", " (t.auth_code) " " (a.as_str()) }
                                @if let Some(r) = &row.provider_ref { ", " (t.provider_ref) " " (r.as_str()) }
                                @let time = row_time(ctx.lang, row.time);
                                @if !time.is_empty() { ", " (time) }
                            }
                            label { (t.customer_ref)
                                input name="customer_ref" required maxlength="100" list=(CUSTOMER_REFS_LIST) data-suggest="/ui/api/customer-refs" autocomplete="off" value=[sent.map(|f| f.customer_ref.as_str())];
                            }
                            p.hint { (t.recon_customer_hint) }
                            label { (t.order_ref)
                                input name="order_ref" maxlength="100" value=[order];
                            }
                            label { (t.description)
                                input name="description" maxlength="500" value=(description);
                            }
                            label { (t.reason) input name="reason" maxlength="500" value=[sent.map(|f| f.reason.as_str())]; }
                            (confirm_box(ctx))
                            button type="submit" { (t.recon_enter) }
                        }
                    }
                }
                form.force-form.decision-form method="post" action=(format!("{base}/force-match")) {
                    (csrf(ctx))
                    h3 { (t.recon_force_match) }
                    fieldset.candidates {
                        legend { (t.recon_candidates) }
                        @for (i, c) in candidates.iter().enumerate() {
                            (candidate_choice(ctx, item, c, i == 0 && candidates.len() == 1))
                        }
                        @if candidates.is_empty() { p.hint.no-candidates { (t.recon_no_candidates) } }
                    }
                    label { (t.recon_other_payment) input name="other_payment_id" maxlength="64" autocomplete="off"; }
                    label { (t.reason) input name="reason" maxlength="500"; }
                    (confirm_box(ctx))
                    button type="submit" { (t.recon_force_match) }
                }
                form.dismiss-form.decision-form method="post" action=(format!("{base}/dismiss")) {
                    (csrf(ctx))
                    h3 { (t.recon_dismiss) }
                    label { (t.reason) input name="reason" required maxlength="500"; }
                    (confirm_box(ctx))
                    button type="submit" { (t.recon_dismiss) }
                }
            }
        }
    }
}

/// The run's page of items (the service read only those the filter lets through).
fn items_table(ctx: &Ctx, run: &ReconRunView, offers: &Offers) -> Markup {
    let t = ctx.t();
    let items = &run.items;
    let decide = ctx.can(Perm::Reconcile);
    html! {
        div.table-wrap {
            table #items.dense {
                thead { tr {
                    th { (t.recon_class) } th { (t.reason) } th { (t.recon_payments) } th { (t.recon_provider_row) }
                    th.num { (t.recon_ours) } th.num { (t.recon_theirs) } th { (t.recon_decision) }
                } }
                tbody {
                    @for item in items {
                        @let open = item.resolution.is_none() && item.class != ReconClass::Matched && decide;
                        tr data-id=(item.id) data-class=(item.class.as_str()) data-resolution=(item.resolution.as_deref().unwrap_or("")) {
                            td { span class=(format!("badge {}", item.class.as_str())) { (t.recon_class(item.class.as_str())) } }
                            td.reason-cell {
                                span.reason data-reason=(item.reason) { (t.recon_reason(&item.reason)) }
                                @if let Some(k) = &item.match_key { " (" (t.recon_match_key(k)) ")" }
                                @for flag in &item.flags {
                                    br; span.flag { (flag_text(ctx.lang, flag)) }
                                }
                            }
                            td {
                                @for id in &item.payment_ids {
                                    a.mono href=(format!("/ui/payments/{id}")) { (id) } br;
                                }
                                @if let Some(p) = &item.proposal {
                                    (t.recon_proposal) ": " a.mono href=(format!("/ui/payments/{p}")) { (p) }
                                }
                            }
                            td.provider-rows { (provider_rows(ctx, &item.provider_rows)) }
                            td.num { (money(ctx.lang, item.ours)) }
                            td.num { (money(ctx.lang, item.theirs)) }
                            td.decision {
                                @if let Some(resolution) = &item.resolution {
                                    b.resolution { (t.recon_resolution(resolution)) }
                                    @if let Some(p) = &item.resolution_payment_id {
                                        " → " a.mono href=(format!("/ui/payments/{p}")) { (p) }
                                    }
                                    br;
                                    span.resolved-by { (t.recon_decided_by) ": " (item.resolved_by.as_deref().unwrap_or("")) }
                                    @if let Some(at) = item.resolved_at { br; span.resolved-at { (t.recon_decided_at) ": " (ctx.lang.datetime(at)) } }
                                    @if let Some(r) = &item.resolution_reason { br; span.resolution-reason { (t.reason) ": " (r) } }
                                } @else if open {
                                    span.open-item { (t.recon_open_item) " ↓" }
                                }
                            }
                        }
                        @if open {
                            tr.item-actions-row data-actions-for=(item.id) {
                                td colspan="7" { (item_actions(ctx, run, item, offers)) }
                            }
                        }
                    }
                    @if items.is_empty() { tr { td colspan="7" { (t.no_data) } } }
                }
            }
        }
        @if decide {
            datalist id=(CUSTOMER_REFS_LIST) {
                @for r in &offers.customer_refs { option value=(r) {} }
            }
        }
    }
}

/// A run's page: its facts, the summary per class, the rows the import rejected, a
/// page of its items (those `filter` lets through) with the decisions `offers` allow
/// and the links to the pages around it, and the exports.
pub(super) fn detail_page(
    ctx: &Ctx,
    run: &ReconRunView,
    pos_name: &str,
    filter: Option<&str>,
    on_later_page: bool,
    offers: &Offers,
    message: Option<(&str, String)>,
) -> Markup {
    let t = ctx.t();
    let export_class = filter.filter(|c| *c != "all").unwrap_or("");
    let export_qs = if export_class.is_empty() {
        String::new()
    } else {
        format!("&class={export_class}")
    };
    let body = html! {
        @if let Some((kind, text)) = &message { (notice(kind, text)) }
        table.kv #run-detail {
            tr { th { "ID" } td #run-id { (run.id) } }
            tr { th { (t.pos) } td { (pos_name) } }
            tr { th { (t.recon_period) } td { (day(ctx.lang, &run.from)) " – " (day(ctx.lang, &run.to)) } }
            tr { th { (t.recon_source) } td { (t.recon_source(&run.source)) } }
            tr { th { (t.status) } td { @if run.status == "completed" { (t.recon_completed) } @else { (run.status) } } }
            tr { th { (t.recon_open) } td #open-exceptions { (run.open_exceptions) } }
            tr { th { (t.created_at) } td { (ctx.lang.datetime(run.created_at)) } }
            tr { th { (t.recon_started_by) } td { (run.created_by) } }
        }
        h2 { (t.recon_summary) }
        (summary_table(ctx, run))
        @if !run.rejected_rows.is_empty() {
            h2 { (t.recon_rejected_rows) }
            table #rejected.dense {
                thead { tr { th { (t.provider_ref) } th { (t.reason) } } }
                tbody { @for r in &run.rejected_rows { tr { td { (r.reference) } td.reject-reason data-reason=(r.reason) { (crate::ui::reject_reason::reject_reason(ctx.lang, r)) } } } }
            }
        }
        h2 { (t.recon_items) }
        form #class-filter.filters method="get" action=(format!("/ui/reconciliations/{}", run.id)) {
            label { (t.recon_class)
                select #f-class name="class" {
                    option value="" selected[filter.is_none()] { (t.recon_exceptions_only) }
                    option value="all" selected[filter == Some("all")] { (t.all) }
                    @for c in ReconClass::ALL.map(ReconClass::as_str) { option value=(c) selected[filter == Some(c)] { (t.recon_class(c)) } }
                }
            }
            button #f-search type="submit" { (t.search) }
        }
        (items_table(ctx, run, offers))
        (paging(
            t,
            &format!("/ui/reconciliations/{}", run.id),
            &query_string(&[("class", &filter.unwrap_or("").to_owned())]),
            on_later_page,
            run.next_cursor.as_deref(),
        ))
        p.exports {
            a #export-csv.button href=(format!("/ui/reconciliations/{}/export?format=csv{export_qs}", run.id)) { (t.export_csv) } " "
            a #export-xlsx.button href=(format!("/ui/reconciliations/{}/export?format=xlsx{export_qs}", run.id)) { (t.export_xlsx) }
        }
        p { a href="/ui/reconciliations" { (t.back) } }
    };
    page(ctx, t.recon_run_title, Nav::Recon, body)
}

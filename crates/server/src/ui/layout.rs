//! The page shell: header with company switch, language switch and sign-out; the menu
//! of what the role may open.

use maud::{html, Markup, DOCTYPE};

use super::session::{Ctx, Perm, CSRF_FIELD};

/// The hidden CSRF field every form carries.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token); }
}

/// Which menu entry is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Gösterge paneli.
    Dashboard,
    /// Online Tahsilat.
    Collect,
    /// Kredi Kartı Tahsilatları.
    Payments,
    /// Ödeme Linkleri.
    Links,
    /// Sanal POS Tanımları.
    Pos,
    /// Mutabakat.
    Recon,
    /// Şirketler.
    Companies,
    /// Kullanıcılar.
    Users,
    /// API anahtarları.
    Keys,
    /// Denetim kaydı.
    Audit,
    /// Webhook'lar.
    Webhooks,
}

/// A whole page.
pub fn page(ctx: &Ctx, title: &str, nav: Nav, body: Markup) -> Markup {
    let t = ctx.t();
    let entries: Vec<(Nav, &str, &str, Perm)> = vec![
        (
            Nav::Dashboard,
            "/ui/dashboard",
            t.nav_dashboard,
            Perm::ViewPayments,
        ),
        (Nav::Collect, "/ui/collect", t.nav_collect, Perm::Collect),
        (
            Nav::Payments,
            "/ui/payments",
            t.nav_payments,
            Perm::ViewPayments,
        ),
        (Nav::Links, "/ui/links", t.nav_links, Perm::Collect),
        (Nav::Pos, "/ui/pos", t.nav_pos, Perm::ViewPos),
        (
            Nav::Recon,
            "/ui/reconciliations",
            t.nav_recon,
            Perm::ViewRecon,
        ),
        (
            Nav::Companies,
            "/ui/admin/companies",
            t.nav_companies,
            Perm::Admin,
        ),
        (Nav::Users, "/ui/admin/users", t.nav_users, Perm::Admin),
        (Nav::Keys, "/ui/admin/keys", t.nav_keys, Perm::Admin),
        (Nav::Webhooks, "/ui/webhooks", t.nav_webhooks, Perm::Admin),
        (Nav::Audit, "/ui/admin/audit", t.nav_audit, Perm::Admin),
    ];
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (ctx.company_name()) " · " (t.app_name) }
                link rel="stylesheet" href="/ui/static/app.css";
                script src="/ui/static/app.js" defer {}
            }
            body {
                header.top {
                    span.brand { (t.app_name) }
                    form.company-switch method="post" action="/ui/company" {
                        (csrf(ctx))
                        label for="company-select" { (t.company) ": " }
                        select #company-select name="company_id" {
                            @for c in &ctx.companies {
                                option value=(c.id) selected[c.id == ctx.session.company_id] { (c.name) }
                            }
                        }
                        button type="submit" { (t.switch_company) }
                    }
                    span.user { (t.signed_in_as) ": " b #current-user { (ctx.session.username) } " (" (t.role(ctx.session.role)) ")" }
                    span.langs {
                        a href="/ui/lang?l=tr" { "TR" } " | " a href="/ui/lang?l=en" { "EN" }
                    }
                    form.logout method="post" action="/ui/logout" {
                        (csrf(ctx))
                        button type="submit" #sign-out { (t.sign_out) }
                    }
                }
                nav.menu {
                    @for (entry, href, label, perm) in &entries {
                        @if ctx.can(*perm) {
                            a href=(href) class=[(*entry == nav).then_some("active")] { (label) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A notice box.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { div class=(format!("notice {kind}")) role="status" { (text) } }
}

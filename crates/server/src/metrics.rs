//! Prometheus text metrics, kept as plain atomic counters: a handful of numbers an
//! operator graphs, without a metrics framework.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use sanalpos_store::WriterLoad;

/// Counters of one server instance.
#[derive(Debug, Default)]
pub struct Metrics {
    http_requests: AtomicU64,
    http_server_errors: AtomicU64,
    payments_created: AtomicU64,
    idempotent_replays: AtomicU64,
    outcomes: [AtomicU64; OUTCOMES.len()],
    rate_limited: [AtomicU64; RATE_SCOPES.len()],
}

/// The rate-limit scopes counted when they refuse a request, in exposition order.
pub const RATE_SCOPES: [&str; 5] = [
    "api_payment_key",
    "api_payment_company",
    "api_request_key",
    "api_request_company",
    "ui_collect_user",
];

/// The payment statuses counted on creation, in exposition order.
const OUTCOMES: [&str; 7] = [
    "approved",
    "declined",
    "failed",
    "unknown",
    "pending_3ds",
    "blocked",
    "other",
];

impl Metrics {
    /// One HTTP request answered with `status`.
    pub fn http_request(&self, status: u16) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            self.http_server_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One payment created, ending (for now) in `status`.
    pub fn payment_created(&self, status: &str) {
        self.payments_created.fetch_add(1, Ordering::Relaxed);
        let index = OUTCOMES
            .iter()
            .position(|o| *o == status)
            .unwrap_or(OUTCOMES.len() - 1);
        self.outcomes[index].fetch_add(1, Ordering::Relaxed);
    }

    /// One answer replayed from the idempotency store.
    pub fn idempotent_replay(&self) {
        self.idempotent_replays.fetch_add(1, Ordering::Relaxed);
    }

    /// One request refused by the rate limit of `scope`.
    pub fn rate_limited(&self, scope: &str) {
        if let Some(index) = RATE_SCOPES.iter().position(|s| *s == scope) {
            self.rate_limited[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition, with the service's counts of attempts refused
    /// by an abuse limit (`blocked`: reason and count), the database writer's group
    /// commits rolled back and run again write by write (`groups_undone`) and how busy
    /// that writer has been (`writer`).
    pub fn render_with(
        &self,
        blocked: &[(&str, u64)],
        groups_undone: u64,
        writer: &WriterLoad,
    ) -> String {
        let mut out = self.render();
        let _ = writeln!(
            out,
            "# HELP sanalpos_db_groups_undone_total Group commits rolled back and run again one write at a time (a refused write, a lost race, a deadlock); a steady rise means writes contend.\n# TYPE sanalpos_db_groups_undone_total counter\nsanalpos_db_groups_undone_total {groups_undone}"
        );
        let writer_figures = [
            (
                "sanalpos_db_writer_groups_total",
                "Groups of writes the database writer took, each in one transaction.",
                writer.groups.to_string(),
            ),
            (
                "sanalpos_db_writer_writes_total",
                "Writes the database writer ran in them.",
                writer.writes.to_string(),
            ),
            (
                "sanalpos_db_writer_busy_seconds_total",
                "Time the database writer spent on its groups; its rate near 1 means every write of this instance queues behind the others.",
                writer.busy.as_secs_f64().to_string(),
            ),
            (
                "sanalpos_db_writer_ending_seconds_total",
                "Of that time, the ends of the groups that committed (audit events, answers, the commit).",
                writer.ending.as_secs_f64().to_string(),
            ),
        ];
        for (name, help, value) in writer_figures {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP sanalpos_blocked_attempts_total Attempts refused before the provider by an abuse limit, by reason.\n# TYPE sanalpos_blocked_attempts_total counter"
        );
        for (reason, value) in blocked {
            let _ = writeln!(
                out,
                "sanalpos_blocked_attempts_total{{reason=\"{reason}\"}} {value}"
            );
        }
        out
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        counter(
            "sanalpos_http_requests_total",
            "HTTP requests answered.",
            get(&self.http_requests),
        );
        counter(
            "sanalpos_http_server_errors_total",
            "HTTP requests answered with a 5xx status.",
            get(&self.http_server_errors),
        );
        counter(
            "sanalpos_payments_created_total",
            "Payments created through the API.",
            get(&self.payments_created),
        );
        counter(
            "sanalpos_idempotent_replays_total",
            "Answers replayed for a repeated Idempotency-Key.",
            get(&self.idempotent_replays),
        );
        let _ = writeln!(
            out,
            "# HELP sanalpos_payment_outcomes_total Payments by status right after creation.\n# TYPE sanalpos_payment_outcomes_total counter"
        );
        for (name, value) in OUTCOMES.iter().zip(&self.outcomes) {
            let _ = writeln!(
                out,
                "sanalpos_payment_outcomes_total{{status=\"{name}\"}} {}",
                get(value)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sanalpos_rate_limited_total Requests refused by a rate limit, by scope.\n# TYPE sanalpos_rate_limited_total counter"
        );
        for (scope, value) in RATE_SCOPES.iter().zip(&self.rate_limited) {
            let _ = writeln!(
                out,
                "sanalpos_rate_limited_total{{scope=\"{scope}\"}} {}",
                get(value)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.http_request(200);
        m.http_request(503);
        m.payment_created("approved");
        m.payment_created("weird");
        m.rate_limited("api_payment_key");
        m.rate_limited("api_payment_key");
        m.rate_limited("no_such_scope");
        let text = m.render();
        assert!(text.contains("sanalpos_http_requests_total 2"));
        assert!(text.contains("sanalpos_http_server_errors_total 1"));
        assert!(text.contains("sanalpos_payment_outcomes_total{status=\"approved\"} 1"));
        assert!(text.contains("sanalpos_payment_outcomes_total{status=\"other\"} 1"));
        assert!(text.contains("sanalpos_rate_limited_total{scope=\"api_payment_key\"} 2"));
        assert!(text.contains("sanalpos_rate_limited_total{scope=\"ui_collect_user\"} 0"));
        m.payment_created("blocked");
        let writer = WriterLoad {
            groups: 7,
            writes: 12,
            busy: std::time::Duration::from_millis(1_500),
            ending: std::time::Duration::from_millis(250),
        };
        let text = m.render_with(&[("velocity_card", 4), ("session_locked", 0)], 3, &writer);
        assert!(text.contains("sanalpos_db_groups_undone_total 3"));
        assert!(text.contains("# TYPE sanalpos_db_writer_busy_seconds_total counter"));
        assert!(text.contains("\nsanalpos_db_writer_groups_total 7\n"));
        assert!(text.contains("\nsanalpos_db_writer_writes_total 12\n"));
        assert!(text.contains("\nsanalpos_db_writer_busy_seconds_total 1.5\n"));
        assert!(text.contains("\nsanalpos_db_writer_ending_seconds_total 0.25\n"));
        assert!(text.contains("sanalpos_payment_outcomes_total{status=\"blocked\"} 1"));
        assert!(text.contains("# TYPE sanalpos_blocked_attempts_total counter"));
        assert!(text.contains("sanalpos_blocked_attempts_total{reason=\"velocity_card\"} 4"));
        assert!(text.contains("sanalpos_blocked_attempts_total{reason=\"session_locked\"} 0"));
    }
}

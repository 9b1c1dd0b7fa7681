//! A channel's health in one word, from what the store knows of its polls,
//! webhooks and pushes. Pure: the status page gathers the signals, this
//! decides; a quiet shop is not an alarm, a failing or stuck one is.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Webhooks waiting longer than this to be applied make a channel late
/// (the inbox worker applies a delivery within a second or so).
const BACKLOG_LATE: Duration = Duration::from_secs(60);

/// What the store knows of one channel.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Its usual time between polls; `None` for a channel without a poll.
    pub poll_every: Option<Duration>,
    /// How the last poll ended, if one has.
    pub last_poll_ok: Option<bool>,
    pub last_poll_error: Option<String>,
    pub last_poll_ok_at: Option<DateTime<Utc>>,
    pub last_poll_started_at: Option<DateTime<Utc>>,
    /// Whether the channel sends webhooks at all.
    pub webhooks: bool,
    pub last_webhook_at: Option<DateTime<Utc>>,
    /// Deliveries stored but not applied yet, and when the oldest arrived.
    pub backlog: i64,
    pub backlog_oldest_at: Option<DateTime<Utc>>,
    pub dead_letters: i64,
}

/// From fine to worst; the worst finding is the channel's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Working; for a webhook-only channel, also when it has been quiet.
    Ok,
    /// Started, first poll not finished yet.
    Starting,
    /// Pushes the channel refused for good: dead letters to look at.
    Attention,
    /// The last poll failed, but one succeeded recently; it is retried.
    Retrying,
    /// No successful poll for several intervals, or webhooks waiting.
    Late,
    /// Polls keep failing.
    Error,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Starting => "starting",
            Health::Attention => "attention",
            Health::Retrying => "retrying",
            Health::Late => "late",
            Health::Error => "error",
        }
    }

    /// Whether a merchant should look at the channel.
    pub fn needs_a_look(self) -> bool {
        self > Health::Starting
    }
}

/// The channel's health and a short note saying why.
pub fn health(s: &Signals, now: DateTime<Utc>) -> (Health, String) {
    let age = |t: DateTime<Utc>| (now - t).to_std().unwrap_or_default();
    let mut findings: Vec<(Health, String)> = Vec::new();
    if let Some(every) = s.poll_every {
        let late_after = every * 3 + Duration::from_secs(30);
        let since_ok = s.last_poll_ok_at.map(age);
        let error = s.last_poll_error.as_deref().unwrap_or("unknown error");
        match (s.last_poll_ok, since_ok) {
            (Some(false), Some(a)) if a <= late_after => findings.push((
                Health::Retrying,
                format!("last poll failed ({error}); last success {}", ago(a)),
            )),
            (Some(false), Some(a)) => findings.push((
                Health::Error,
                format!("polls failing ({error}); last success {}", ago(a)),
            )),
            (Some(false), None) => findings.push((
                Health::Error,
                format!("polls failing ({error}); none has succeeded yet"),
            )),
            (_, Some(a)) if a > late_after => {
                findings.push((Health::Late, format!("no successful poll for {}", span(a))))
            }
            (None, None) => match s.last_poll_started_at.map(age) {
                Some(a) if a > late_after => {
                    findings.push((Health::Late, format!("first poll running for {}", span(a))))
                }
                _ => findings.push((Health::Starting, "first poll not finished yet".into())),
            },
            _ => {}
        }
    }
    if s.backlog > 0 {
        if let Some(a) = s.backlog_oldest_at.map(age).filter(|a| *a > BACKLOG_LATE) {
            findings.push((
                Health::Late,
                format!(
                    "{} waiting to be applied, the oldest for {}",
                    plural(s.backlog, "webhook", "webhooks"),
                    span(a)
                ),
            ));
        }
    }
    if s.dead_letters > 0 {
        findings.push((
            Health::Attention,
            format!(
                "{} refused by the channel; see dead letters",
                plural(s.dead_letters, "push", "pushes")
            ),
        ));
    }
    // The first of the worst findings.
    if let Some(worst) = findings.iter().map(|f| f.0).max() {
        if let Some(f) = findings.into_iter().find(|f| f.0 == worst) {
            return f;
        }
    }
    let note = match (s.poll_every, s.last_poll_ok_at, s.last_webhook_at) {
        (Some(_), Some(t), _) => format!("polled {}", ago(age(t))),
        (None, _, Some(t)) => format!("last webhook {}", ago(age(t))),
        (None, _, None) if s.webhooks => "no webhook received yet".into(),
        _ => "working".into(),
    };
    (Health::Ok, note)
}

/// `n` and the word for it.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration the way a person says it: "40 s", "5 min", "3 h", "2 d".
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=89 => format!("{s} s"),
        90..=5_399 => format!("{} min", (s + 30) / 60),
        5_400..=172_799 => format!("{} h", (s + 1_800) / 3_600),
        _ => format!("{} d", (s + 43_200) / 86_400),
    }
}

/// How long ago: "just now", "40 s ago", "5 min ago".
pub fn ago(d: Duration) -> String {
    if d < Duration::from_secs(2) {
        "just now".into()
    } else {
        format!("{} ago", span(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    fn before(secs: i64) -> Option<DateTime<Utc>> {
        Some(now() - chrono::Duration::seconds(secs))
    }

    fn polled(every: u64) -> Signals {
        Signals {
            poll_every: Some(Duration::from_secs(every)),
            last_poll_ok: Some(true),
            last_poll_ok_at: before(5),
            ..Signals::default()
        }
    }

    fn check(s: Signals, want: Health, note: &str) {
        let (h, n) = health(&s, now());
        assert_eq!((h, n.as_str()), (want, note), "{s:?}");
    }

    #[test]
    fn health_from_polls_webhooks_and_dead_letters() {
        check(polled(60), Health::Ok, "polled 5 s ago");
        // Late only after three intervals and a margin.
        let mut s = polled(60);
        s.last_poll_ok_at = before(200);
        check(s.clone(), Health::Ok, "polled 3 min ago");
        s.last_poll_ok_at = before(300);
        check(s, Health::Late, "no successful poll for 5 min");
        // One failure after a recent success is retried, not an error.
        let mut s = polled(60);
        s.last_poll_ok = Some(false);
        s.last_poll_error = Some("HTTP 503".into());
        s.last_poll_ok_at = before(70);
        check(
            s.clone(),
            Health::Retrying,
            "last poll failed (HTTP 503); last success 70 s ago",
        );
        s.last_poll_ok_at = before(3_600);
        check(
            s.clone(),
            Health::Error,
            "polls failing (HTTP 503); last success 60 min ago",
        );
        s.last_poll_ok_at = None;
        check(
            s,
            Health::Error,
            "polls failing (HTTP 503); none has succeeded yet",
        );
        // Before the first poll ends.
        let mut s = polled(60);
        s.last_poll_ok = None;
        s.last_poll_ok_at = None;
        check(s.clone(), Health::Starting, "first poll not finished yet");
        s.last_poll_started_at = before(600);
        check(s, Health::Late, "first poll running for 10 min");
        // A quiet webhook-only shop is fine, however long the quiet.
        let quiet = Signals {
            webhooks: true,
            last_webhook_at: before(3 * 86_400),
            ..Signals::default()
        };
        check(quiet.clone(), Health::Ok, "last webhook 3 d ago");
        check(
            Signals {
                webhooks: true,
                ..Signals::default()
            },
            Health::Ok,
            "no webhook received yet",
        );
        // Deliveries stuck in the inbox are late; fresh ones are not.
        let mut s = quiet.clone();
        s.backlog = 3;
        s.backlog_oldest_at = before(10);
        check(s.clone(), Health::Ok, "last webhook 3 d ago");
        s.backlog_oldest_at = before(120);
        check(
            s,
            Health::Late,
            "3 webhooks waiting to be applied, the oldest for 2 min",
        );
        // Dead letters ask for attention, below a failing poll.
        let mut s = polled(60);
        s.dead_letters = 1;
        check(
            s.clone(),
            Health::Attention,
            "1 push refused by the channel; see dead letters",
        );
        s.last_poll_ok = Some(false);
        s.last_poll_error = Some("timeout".into());
        s.last_poll_ok_at = None;
        check(
            s,
            Health::Error,
            "polls failing (timeout); none has succeeded yet",
        );
    }

    #[test]
    fn spans_read_like_a_person_says_them() {
        for (secs, want) in [
            (0, "just now"),
            (1, "just now"),
            (45, "45 s ago"),
            (89, "89 s ago"),
            (90, "2 min ago"),
            (3_599, "60 min ago"),
            (5_400, "2 h ago"),
            (86_400, "24 h ago"),
            (172_800, "2 d ago"),
        ] {
            assert_eq!(ago(Duration::from_secs(secs)), want, "{secs}");
        }
    }
}

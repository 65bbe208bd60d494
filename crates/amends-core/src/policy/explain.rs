//! Explanations: why a decision is what it is, stored with every decision and printed by
//! `amends policy explain`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// How each rule fared, what was offered and why, and where the message goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Explanation {
    /// Content hash of the policy that decided.
    pub policy_version: String,
    /// The kind of the rule that matched (`apology`, `update`, `follow_up`; empty when none did).
    pub kind: String,
    /// Every rule evaluated, in order, up to the one that matched.
    pub rules: Vec<RuleTrace>,
    /// The order's recent history and what it meant.
    pub frequency: String,
    /// The offers resolved, reduced or dropped, one line each.
    pub offers: Vec<String>,
    /// What applies when the offer does not fit the budget.
    pub fallback: String,
    /// How the budgets were applied (filled in when the decision is recorded or explained).
    pub budget: Vec<String>,
    /// Each channel considered: used, or skipped and why.
    pub channels: Vec<String>,
    /// Earlier incidents of the order whose waiting messages this one replaces (filled in when
    /// the decision is recorded or explained).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
    /// When each channel's message goes out, and why (filled in when the decision is recorded or
    /// explained).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timing: Vec<String>,
    /// Why a person should follow up, when they should.
    pub escalation: Option<String>,
    /// What else the message may say: "again", a promised update.
    pub notes: Vec<String>,
}

/// One rule's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTrace {
    /// The rule's name.
    pub rule: String,
    /// Its line in the policy file.
    pub line: usize,
    /// Its kind (`apology`, `update`, `follow_up`).
    pub kind: String,
    /// The condition as written (`true` for a rule without one).
    pub condition: String,
    /// `matched`, `not matched`, `not tried: …` (the rule's kind or promotion rules it out) or
    /// `error: …`.
    pub outcome: String,
    /// The values the condition read.
    pub seen: BTreeMap<String, serde_json::Value>,
}

impl Explanation {
    /// The explanation as text for a person, one fact per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "policy version {}", short(&self.policy_version));
        out.push_str("rules:\n");
        for trace in &self.rules {
            let mark = if trace.outcome == "matched" {
                "✔"
            } else {
                "✘"
            };
            // Apologies are most rules: only the other kinds are named.
            let kind = match trace.kind.as_str() {
                "" | "apology" => String::new(),
                kind => format!(", {kind}"),
            };
            let _ = writeln!(
                out,
                "  {mark} {} (line {}{kind}): {}",
                trace.rule, trace.line, trace.outcome
            );
            let _ = writeln!(out, "      when {}", trace.condition);
            if !trace.seen.is_empty() {
                let seen: Vec<String> = trace
                    .seen
                    .iter()
                    .map(|(path, value)| format!("{path} = {value}"))
                    .collect();
                let _ = writeln!(out, "      saw {}", seen.join(", "));
            }
        }
        for line in &self.superseded {
            let _ = writeln!(out, "supersedes: {line}");
        }
        let _ = writeln!(out, "frequency: {}", self.frequency);
        if self.offers.is_empty() {
            out.push_str("offers: none\n");
        } else {
            out.push_str("offers:\n");
            for line in &self.offers {
                let _ = writeln!(out, "  - {line}");
            }
        }
        if !self.fallback.is_empty() {
            let _ = writeln!(out, "over budget: {}", self.fallback);
        }
        for line in &self.budget {
            let _ = writeln!(out, "budget: {line}");
        }
        out.push_str("channels:\n");
        for line in &self.channels {
            let _ = writeln!(out, "  - {line}");
        }
        if !self.timing.is_empty() {
            out.push_str("timing:\n");
            for line in &self.timing {
                let _ = writeln!(out, "  - {line}");
            }
        }
        match &self.escalation {
            Some(why) => {
                let _ = writeln!(out, "escalation: {why}");
            }
            None => out.push_str("escalation: none\n"),
        }
        for line in &self.notes {
            let _ = writeln!(out, "note: {line}");
        }
        out
    }
}

/// The first 12 characters of a hash, as people quote them.
pub fn short(version: &str) -> &str {
    &version[..version.len().min(12)]
}

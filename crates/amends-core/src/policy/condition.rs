//! A rule's condition: a CEL expression over [`Facts`], compiled once and checked against the
//! shape of the facts so a typo is caught by `amends policy check`, not by a customer.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::{Context, Env, Program, Value};

use super::facts::Facts;

/// The variables a condition may name.
pub const VARIABLES: [&str; 4] = ["incident", "order", "customer", "history"];

/// A compiled condition.
pub struct Condition {
    source: String,
    program: Program,
    /// Dotted paths the expression reads (`incident.delay_days`), for explanations.
    paths: Vec<String>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.source)
            .finish()
    }
}

/// The outcome of evaluating a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The condition could not be evaluated (counted as not matching).
    Error(String),
}

/// CEL's standard environment, built once: building it registers every standard function, too
/// much to repeat for each rule of each event.
fn env() -> Arc<Env> {
    static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));
    ENV.clone()
}

impl Condition {
    /// Compiles `source` and checks every path it reads against `shape` (facts as JSON).
    pub fn compile(source: &str, shape: &serde_json::Value) -> Result<Condition, String> {
        let program = env().compile(source).map_err(|e| {
            // cel reports `ERROR: <input>:L:C: message` plus a snippet; keep the first line.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            first.trim_start_matches("ERROR: <input>:").to_owned()
        })?;
        let mut paths = BTreeSet::new();
        let mut locals = Vec::new();
        collect_paths(program.expression(), &mut locals, &mut paths);
        for path in &paths {
            let mut parts = path.split('.');
            let root = parts.next().unwrap_or_default();
            if !VARIABLES.contains(&root) {
                return Err(format!(
                    "unknown variable `{root}` (a condition can use {})",
                    VARIABLES.join(", ")
                ));
            }
            let mut at = &shape[root];
            let mut walked = root.to_owned();
            for part in parts {
                match at.get(part) {
                    Some(next) => at = next,
                    None if at.is_object() => {
                        let known: Vec<&str> = at
                            .as_object()
                            .map(|o| o.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        return Err(format!(
                            "`{walked}` has no field `{part}` (it has {})",
                            known.join(", ")
                        ));
                    }
                    None => return Err(format!("`{walked}` is not an object, it has no `{part}`")),
                }
                walked.push('.');
                walked.push_str(part);
            }
        }
        Ok(Condition {
            source: source.to_owned(),
            program,
            paths: paths.into_iter().collect(),
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `facts`.
    pub fn evaluate(&self, facts: &Facts) -> Verdict {
        let mut context = Context::with_env(env());
        let added = context
            .add_variable("incident", &facts.incident)
            .and_then(|()| context.add_variable("order", &facts.order))
            .and_then(|()| context.add_variable("customer", &facts.customer))
            .and_then(|()| context.add_variable("history", &facts.history));
        if let Err(e) = added {
            return Verdict::Error(format!("cannot pass the facts: {e}"));
        }
        match self.program.execute(&context) {
            Ok(Value::Bool(true)) => Verdict::True,
            Ok(Value::Bool(false)) => Verdict::False,
            Ok(other) => Verdict::Error(format!(
                "the condition gives {}, not true or false",
                other.type_of()
            )),
            Err(e) => Verdict::Error(hint(e.to_string())),
        }
    }

    /// The values of every path the condition reads, in `facts` (for "why did this not match").
    pub fn seen(&self, facts: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
        self.paths
            .iter()
            .filter_map(|path| {
                let value = path.split('.').try_fold(facts, |at, part| at.get(part))?;
                // Whole objects (`customer.consent`) say little; their leaves are listed if read.
                (!value.is_object()).then(|| (path.clone(), value.clone()))
            })
            .collect()
    }
}

/// Adds the usual cause to CEL's overload message: numbers of different kinds.
fn hint(message: String) -> String {
    if message.contains("no matching overload") && message.contains("float") {
        format!("{message} (write amounts with a decimal point: 100.0, not 100)")
    } else {
        message
    }
}

/// Dotted paths read by `expr` whose root is not a comprehension's own variable.
fn collect_paths(expr: &IdedExpr, locals: &mut Vec<String>, out: &mut BTreeSet<String>) {
    match &expr.expr {
        Expr::Ident(name) => {
            if !locals.iter().any(|l| l == name) {
                out.insert(name.clone());
            }
        }
        Expr::Select(select) => match dotted(expr) {
            Some(path) if !select.test => {
                let root = path.split('.').next().unwrap_or_default();
                if !locals.iter().any(|l| l == root) {
                    out.insert(path);
                }
            }
            _ => collect_paths(&select.operand, locals, out),
        },
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                collect_paths(target, locals, out);
            }
            for arg in &call.args {
                collect_paths(arg, locals, out);
            }
        }
        Expr::Comprehension(c) => {
            collect_paths(&c.iter_range, locals, out);
            let pushed = 2 + usize::from(c.iter_var2.is_some());
            locals.push(c.iter_var.clone());
            locals.push(c.accu_var.clone());
            if let Some(second) = &c.iter_var2 {
                locals.push(second.clone());
            }
            for part in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                collect_paths(part, locals, out);
            }
            locals.truncate(locals.len() - pushed);
        }
        Expr::List(list) => {
            for element in &list.elements {
                collect_paths(element, locals, out);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(e) = &entry.expr {
                    collect_paths(&e.key, locals, out);
                    collect_paths(&e.value, locals, out);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    collect_paths(&f.value, locals, out);
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// `a.b.c` when `expr` is a chain of field selections on an identifier.
fn dotted(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => {
            dotted(&select.operand).map(|base| format!("{base}.{}", select.field))
        }
        _ => None,
    }
}

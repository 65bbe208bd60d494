//! The shape of the code, checked: no cycle between the modules of either crate, and each
//! module imports only what `docs/architecture.md` says it may. A module's imports are read from
//! its files' `crate::…` paths (comments aside).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core crate: each module and what it may import.
const CORE: &[(&str, &[&str])] = &[
    ("incident", &[]),
    ("timing", &[]),
    ("policy", &["incident", "timing"]),
    ("templates", &["incident", "policy"]),
];

/// The daemon crate, in flow order: each module and what it may import, beside the core.
const DAEMON: &[(&str, &[&str])] = &[
    ("signature", &[]),
    ("store", &[]),
    ("clock", &[]),
    ("config", &["signature"]),
    ("telemetry", &["config"]),
    ("health", &["telemetry"]),
    ("broker", &["config"]),
    ("editor", &["config", "store"]),
    ("reload", &["editor", "store", "telemetry"]),
    ("record", &["clock", "config", "reload", "store"]),
    ("dead_letters", &["broker", "config"]),
    ("retention", &["clock", "store"]),
    (
        "gauges",
        &["broker", "clock", "reload", "store", "telemetry"],
    ),
    (
        "deliver",
        &["broker", "clock", "config", "health", "store", "telemetry"],
    ),
    (
        "watch",
        &[
            "clock",
            "config",
            "deliver",
            "record",
            "reload",
            "store",
            "telemetry",
        ],
    ),
    (
        "ingest",
        &[
            "broker",
            "clock",
            "config",
            "deliver",
            "health",
            "record",
            "reload",
            "store",
            "telemetry",
            "watch",
        ],
    ),
    (
        "http",
        &[
            "broker",
            "clock",
            "config",
            "dead_letters",
            "deliver",
            "editor",
            "health",
            "reload",
            "signature",
            "store",
            "telemetry",
        ],
    ),
    (
        "app",
        &[
            "clock",
            "config",
            "deliver",
            "editor",
            "gauges",
            "health",
            "http",
            "ingest",
            "reload",
            "retention",
            "signature",
            "store",
            "telemetry",
            "watch",
        ],
    ),
    (
        "cli",
        &[
            "app",
            "broker",
            "clock",
            "config",
            "dead_letters",
            "deliver",
            "editor",
            "http",
            "store",
            "telemetry",
        ],
    ),
];

/// The core's modules, which every module of the daemon may import.
const CORE_NAMES: [&str; 4] = ["incident", "policy", "templates", "timing"];

/// The crates that do I/O, which the core may not depend on.
const IO_CRATES: [&str; 6] = ["sqlx", "lapin", "axum", "reqwest", "lettre", "tokio"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level modules named by `crate::…` paths in `text`, comments aside: `crate::a::b`
/// names `a`; `crate::{a::x, b}` names `a` and `b`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        // `amends_core::…` or `my_crate::…` is not `crate::…`.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 1 => break,
                    '}' => depth -= 1,
                    ',' if depth == 1 => items.push(std::mem::take(&mut item)),
                    _ if depth == 1 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            names.extend(items.iter().filter_map(|i| first_ident(i)));
        } else if let Some(name) = first_ident(rest) {
            names.insert(name);
        }
    }
    names
}

fn first_ident(text: &str) -> Option<String> {
    let name: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Module → the other top-level modules of its crate it imports, for the crate at `src`.
fn imports(src: &Path, modules: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if !modules.contains(&module) {
            continue; // lib.rs, main.rs
        }
        let text = std::fs::read_to_string(&file).expect("a source file");
        let uses: Vec<String> = crate_paths(&text)
            .into_iter()
            .filter(|m| *m != module && modules.contains(m))
            .collect();
        graph.entry(module).or_default().extend(uses);
    }
    graph
}

/// One cycle of `graph`, as the path that closes it, if there is any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// Checks the crate at `src` against `rules`; every problem, one line each.
fn check(src: &Path, rules: &[(&str, &[&str])], also: &[&str]) -> Vec<String> {
    let modules: BTreeSet<String> = rules.iter().map(|(m, _)| m.to_string()).collect();
    let graph = imports(src, &modules);
    let mut problems = Vec::new();
    if let Some(cycle) = find_cycle(&graph) {
        problems.push(format!("a cycle: {}", cycle.join(" → ")));
    }
    for (module, uses) in &graph {
        let allowed = rules
            .iter()
            .find(|(m, _)| m == module)
            .map(|(_, a)| *a)
            .unwrap_or_default();
        for used in uses {
            if !allowed.contains(&used.as_str()) && !also.contains(&used.as_str()) {
                problems.push(format!(
                    "{module} imports {used}, which docs/architecture.md does not allow"
                ));
            }
        }
    }
    // A module on disk that the rules do not know is a module nobody placed.
    for entry in std::fs::read_dir(src).expect("src") {
        let name = entry
            .expect("an entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let module = name.trim_end_matches(".rs");
        if !["lib", "main"].contains(&module) && !modules.contains(module) {
            problems.push(format!("{module} is not placed in docs/architecture.md"));
        }
    }
    problems
}

#[test]
fn the_core_has_no_cycle_and_imports_only_down() {
    let problems = check(&root().join("crates/amends-core/src"), CORE, &[]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_daemon_has_no_cycle_and_imports_only_down() {
    let problems = check(&root().join("src"), DAEMON, &CORE_NAMES);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_core_depends_on_no_io_crate() {
    let manifest = std::fs::read_to_string(root().join("crates/amends-core/Cargo.toml"))
        .expect("the core's manifest");
    let manifest: toml::Table = manifest.parse().expect("TOML");
    for section in ["dependencies", "dev-dependencies"] {
        let Some(deps) = manifest.get(section).and_then(|d| d.as_table()) else {
            continue;
        };
        for io in IO_CRATES {
            assert!(!deps.contains_key(io), "the core's {section} name {io}");
        }
    }
}

#[test]
fn the_checker_sees_grouped_and_nested_paths_and_skips_comments() {
    let text = "use crate::{config::Config, store::{Store, StoreError}};\n\
                // see crate::http\n\
                let x = crate::deliver::test_message(m);\n\
                use amends_core::incident;";
    let found: Vec<String> = crate_paths(text).into_iter().collect();
    assert_eq!(found, ["config", "deliver", "store"]);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), ["b".to_owned()].into()),
        ("b".to_owned(), ["a".to_owned()].into()),
    ]
    .into();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "a"]);
}

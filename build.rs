//! Build-time inputs the compiler cannot see by itself: the migrations `sqlx::migrate!` embeds,
//! the console's files, whose table is generated here so that a new file is served without
//! being listed by hand, and the commit the binary is built from (`amends_build_info`).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // A new or changed migration must rebuild the binary that embeds them.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=src/http/assets");
    if let Err(e) = console_assets() {
        panic!("cannot generate the console's asset table: {e}");
    }
    println!("cargo:rustc-env=AMENDS_COMMIT={}", commit());
}

/// `AMENDS_COMMIT` when the build sets it (an image built without `.git`), else git's short
/// hash of HEAD, else `unknown`.
fn commit() -> String {
    println!("cargo:rerun-if-env-changed=AMENDS_COMMIT");
    if let Some(commit) = std::env::var("AMENDS_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
    {
        return commit.trim().to_owned();
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    // A new commit changes HEAD or the branch it points to: either reruns this script.
    for path in ["HEAD"]
        .into_iter()
        .map(str::to_owned)
        .chain(git(&["symbolic-ref", "-q", "HEAD"]))
    {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", &path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
}

/// Writes `$OUT_DIR/console_assets.rs`: every script and stylesheet under `src/http/assets`,
/// as `(name, text)`, sorted by name.
fn console_assets() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR")?).join("src/http/assets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".js") || name.ends_with(".css"))
        .collect();
    names.sort();
    let mut table = String::from("&[\n");
    for name in &names {
        // The path is the compiling checkout's, not this script's: a build directory shared by
        // two checkouts must never serve one's files from the other.
        writeln!(
            table,
            "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/src/http/assets/{name}\"))),"
        )?;
    }
    table.push(']');
    let out = Path::new(&std::env::var("OUT_DIR")?).join("console_assets.rs");
    std::fs::write(out, table)?;
    Ok(())
}

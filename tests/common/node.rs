//! Node.js for the interop tests (real Better Auth, playwright-core): whether
//! it is here (required in CI, a loud skip elsewhere), and a pinned `npm ci`
//! run once per package folder.

use std::path::Path;
use std::process::Command;

/// Whether `node` runs (and, for `needs`, that file exists); panics in CI without it.
pub fn available(test: &str, needs: Option<&str>) -> bool {
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let found = node && needs.is_none_or(|path| Path::new(path).exists());
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    assert!(
        found || !in_ci,
        "Node.js{} is required for the {test} in CI",
        needs.map_or(String::new(), |n| format!(" and {n}"))
    );
    if !found {
        super::loud(&format!(
            "*** SKIPPED: {test} (needs node{}) ***",
            needs.map_or(String::new(), |n| format!(" and {n}"))
        ));
    }
    found
}

/// `npm ci` in `dir` unless `node_modules/{package}` is there; concurrent tests wait on a lock file.
pub fn install(dir: &str, package: &str) {
    let lock_name = format!("todo-api-npm-{}.lock", package.replace('/', "-"));
    let lock = std::fs::File::create(std::env::temp_dir().join(lock_name)).unwrap();
    lock.lock().unwrap();
    if !Path::new(dir).join("node_modules").join(package).join("package.json").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci failed in {dir}");
    }
}

//! Helpers for tests and benchmarks that load real plugin libraries built from a cargo workspace.
//!
//! Test executables live in `<target>/<profile>/deps/`, and `cargo build` puts a `cdylib` at
//! `<target>/<profile>/lib<crate>.so`. [`build_cdylibs`] runs `cargo build -p …` for the same profile and target
//! directory (using the `CARGO` variable cargo sets for tests), so a clean `cargo test --workspace` works, then
//! returns where the libraries are.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The profile directory (`<target>/<profile>`) of the running test or bench executable, and whether it is
/// below a `--target <triple>` directory (returned as the triple).
fn profile_dir() -> Result<(PathBuf, Option<String>), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the running executable: {e}"))?;
    let mut dir = exe.parent().ok_or("the executable has no directory")?.to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().ok_or("`deps` has no parent")?.to_path_buf();
    }
    let parent = dir.parent().ok_or("the profile directory has no parent")?;
    let triple = if parent.join("CACHEDIR.TAG").exists() || parent.parent().is_none() {
        None
    } else {
        parent.file_name().map(|n| n.to_string_lossy().into_owned())
    };
    Ok((dir, triple))
}

/// The file name cargo gives the `cdylib` of `package`.
pub fn cdylib_file_name(package: &str) -> String {
    format!("{}{}{}", std::env::consts::DLL_PREFIX, package.replace('-', "_"), std::env::consts::DLL_SUFFIX)
}

/// Build the `cdylib`s of `packages` with the profile and target directory of the running executable (a no-op
/// when they are fresh) and return their paths, in order. Call it from a test or bench whose working directory is
/// inside the workspace. Falls back to already-built files when cargo is unavailable.
pub fn build_cdylibs(packages: &[&str]) -> Result<Vec<PathBuf>, String> {
    let (dir, triple) = profile_dir()?;
    let paths: Vec<PathBuf> = packages.iter().map(|p| dir.join(cdylib_file_name(p))).collect();
    let profile = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let target_dir = match triple {
        Some(_) => dir.parent().and_then(Path::parent),
        None => dir.parent(),
    }
    .ok_or("cannot find the target directory")?;
    let Some(cargo) = std::env::var_os("CARGO") else {
        return existing(paths, "the CARGO variable is not set (not run by cargo)");
    };
    let mut cmd = Command::new(cargo);
    cmd.arg("build").arg("--quiet").env("CARGO_TARGET_DIR", target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    if let Some(t) = triple {
        cmd.args(["--target", &t]);
    }
    match cmd.status() {
        Ok(s) if s.success() => existing(paths, "cargo build succeeded"),
        Ok(s) => existing(paths, &format!("`cargo build` failed ({s})")),
        Err(e) => existing(paths, &format!("cannot run cargo: {e}")),
    }
}

fn existing(paths: Vec<PathBuf>, why: &str) -> Result<Vec<PathBuf>, String> {
    match paths.iter().find(|p| !p.is_file()) {
        Some(missing) => Err(format!("plugin library `{}` is not built ({why})", missing.display())),
        None => Ok(paths),
    }
}

//! `herald plugins new NAME`: write a plugin crate that builds without warnings and passes its own tests.
//!
//! The crate (`<dir>/<name>/`) speaks ABI 2 through the `herald-plugin` SDK: an adapter with typed settings, a
//! deliver that stays inside the attempt's deadline, a `confirm_delivery` (so herald can treat it as
//! exactly-once), and unit tests that run without herald. Inside a herald checkout it also gets herald's
//! `Cargo.lock`, so it builds with the exact dependency versions herald was tested with.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::NewPluginArgs;

const CARGO_TOML: &str = include_str!("scaffold/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("scaffold/lib.rs.tmpl");

/// `my-platform` → `MyPlatform`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Lower-case ASCII letters, digits and single dashes, starting with a letter.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !ok {
        bail!("`{name}` is not a plugin name: use lower-case letters, digits and dashes, starting with a letter (e.g. `my-platform`)");
    }
    Ok(())
}

/// The herald checkout above `start` (the directory whose `crates/herald-plugin/Cargo.toml` exists).
fn herald_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join("crates/herald-plugin/Cargo.toml").is_file()).map(Path::to_path_buf)
}

/// `to` relative to `from` (both absolute), with `/` separators for Cargo.toml.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), from.len() - common).collect();
    parts.extend(to[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// The files of a new plugin crate named `name`, depending on the SDK at `sdk` (as written in Cargo.toml).
pub fn render(name: &str, sdk: &str) -> Vec<(&'static str, String)> {
    let krate = format!("herald-{name}");
    let fill = |template: &str| {
        template
            .replace("{{crate}}", &krate)
            .replace("{{lib}}", &krate.replace('-', "_"))
            .replace("{{kind}}", &name.replace('-', "_"))
            .replace("{{Type}}", &type_name(name))
            .replace("{{name}}", name)
            .replace("{{sdk}}", sdk)
    };
    vec![("Cargo.toml", fill(CARGO_TOML)), ("src/lib.rs", fill(LIB_RS))]
}

/// `herald plugins new NAME [--dir DIR] [--sdk-path PATH]`.
pub fn new(args: &NewPluginArgs) -> anyhow::Result<ExitCode> {
    check_name(&args.name)?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let target = cwd.join(&args.dir).join(&args.name);
    if target.exists() {
        bail!("{} already exists; choose another name or remove it", target.display());
    }
    let root = herald_root(&cwd);
    let sdk = match (&args.sdk_path, &root) {
        (Some(p), _) => p.display().to_string(),
        (None, Some(root)) => relative(&target, &root.join("crates/herald-plugin")),
        (None, None) => {
            bail!("not inside a herald checkout: pass --sdk-path with the path of herald's `crates/herald-plugin`")
        }
    };
    for (file, text) in render(&args.name, &sdk) {
        let path = target.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(lock) = root.map(|r| r.join("Cargo.lock")).filter(|l| l.is_file()) {
        std::fs::copy(&lock, target.join("Cargo.lock")).with_context(|| format!("cannot copy {}", lock.display()))?;
    }
    let kind = args.name.replace('-', "_");
    println!("created {} (kind `{kind}`)", target.display());
    println!("  cd {} && cargo test && cargo build --release", target.display());
    println!("  then copy the library into [plugins] dir and configure: plugin = \"{kind}\"");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(type_name("my-platform2"), "MyPlatform2");
        assert!(check_name("my-platform").is_ok());
        for bad in ["My", "-x", "x-", "a--b", "a_b", "1a", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            relative(Path::new("/w/plugins/x"), Path::new("/w/crates/herald-plugin")),
            "../../crates/herald-plugin"
        );
        let files = render("my-platform", "../sdk");
        assert!(files[0].1.contains("name = \"herald-my-platform\"") && files[0].1.contains("path = \"../sdk\""));
        assert!(files[1].1.contains("const KIND: &'static str = \"my_platform\";"));
        assert!(!files.iter().any(|(_, text)| text.contains("{{")), "a placeholder was left");
    }
}

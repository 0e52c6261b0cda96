//! `herald plugins list` against the built plugin libraries: each usable library is listed with the exact config
//! line that selects it (`plugin = "<kind>"`), its ABI version and delivery guarantee (an ABI 1 plugin as
//! "at-least-once, no inbound", with its limits), and broken libraries are refused with a reason and exit 1.

mod plugins_support;

use std::process::Command;

use plugins_support::plugins_dir;

#[test]
fn plugins_list_prints_the_config_line_abi_and_guarantee() {
    let dir = plugins_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["plugins", "list", "--dir"])
        .arg(&dir)
        .output()
        .expect("run herald");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |kind: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("plugin = \"{kind}\"")))
            .unwrap_or_else(|| panic!("no line for {kind}:\n{stdout}"))
            .to_string()
    };
    let om = line("open_messaging");
    assert!(om.contains("ABI 2") && om.contains("exactly-once, inbound HTTP"), "{om}");
    let abi1 = line("test_abi1");
    assert!(abi1.contains("ABI 1") && abi1.contains("at-least-once, no inbound"), "{abi1}");
    assert!(abi1.contains("no confirm_delivery"), "{abi1}");
    let abi2 = line("test_abi2");
    assert!(abi2.contains("exactly-once, inbound HTTP, presence"), "{abi2}");
    let behaviour = line("test_behaviour");
    assert!(behaviour.contains("ABI 2") && behaviour.contains("at-least-once, no inbound"), "{behaviour}");
    assert!(stdout.contains("refused: ") && stdout.contains("ABI version 999"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "a refused library makes the listing fail");
    assert!(stdout.contains("kind = \"webhook\""), "{stdout}");
}

//! A TOML syntax error as a config problem that says where: the line, the column, and the table and key it was in
//! (with the key path the other problems use, e.g. `integration[1].settings.app_id`).

use herald_core::ConfigProblem;

/// Where an error is in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The table header in force (`[integration.settings]`), `None` at the top level.
    pub table: Option<String>,
    /// Its key path (`integration[1].settings`), empty at the top level.
    pub table_path: String,
    /// The key being defined on the error line, when the line has one.
    pub key: Option<String>,
}

/// Locate byte offset `at` of `text`.
pub fn locate(text: &str, at: usize) -> Location {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text.get(line_start..at).map_or(1, |s| s.chars().count() + 1);
    let mut table = None;
    let mut table_path = String::new();
    let mut arrays: Vec<(String, usize)> = Vec::new();
    for l in text.lines().take(line - 1) {
        let t = l.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = match arrays.iter_mut().find(|(a, _)| *a == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    arrays.push((name.clone(), 0));
                    0
                }
            };
            table_path = format!("{}[{n}]", with_indexes(&name, &arrays, &name));
            table = Some(format!("[[{name}]]"));
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            let name = name.trim().to_string();
            table_path = with_indexes(&name, &arrays, "");
            table = Some(format!("[{name}]"));
        }
    }
    let current = text.get(line_start..).and_then(|s| s.lines().next()).unwrap_or_default();
    let key = current
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('[') && !k.starts_with('#'));
    Location { line, column, table, table_path, key }
}

/// `a.b.c` with the index of the newest `[[a]]` / `[[a.b]]` inserted (`a[1].b.c`); `skip` is the array being
/// opened itself (its index is added by the caller).
fn with_indexes(name: &str, arrays: &[(String, usize)], skip: &str) -> String {
    let parts: Vec<&str> = name.split('.').map(str::trim).collect();
    let mut out = Vec::new();
    for i in 0..parts.len() {
        let prefix = parts[..=i].join(".");
        let part = parts[i].to_string();
        match arrays.iter().find(|(a, _)| *a == prefix).filter(|_| prefix != skip) {
            Some((_, n)) => out.push(format!("{part}[{n}]")),
            None => out.push(part),
        }
    }
    out.join(".")
}

/// The problem for a TOML syntax error in `text`.
pub fn problem(text: &str, e: &toml::de::Error) -> ConfigProblem {
    let msg = e.message().trim().to_string();
    let Some(span) = e.span() else { return ConfigProblem::new("(syntax)", msg) };
    let loc = locate(text, span.start);
    let mut path = loc.table_path.clone();
    if let Some(k) = &loc.key {
        path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
    }
    let table = loc.table.as_deref().map_or("the top level".to_string(), |t| format!("table `{t}`"));
    let key = loc.key.as_deref().map(|k| format!(", key `{k}`")).unwrap_or_default();
    let where_ = format!("line {}, column {} (in {table}{key})", loc.line, loc.column);
    ConfigProblem::new(
        if path.is_empty() { "(syntax)".to_string() } else { path },
        format!("TOML syntax error at {where_}: {msg}"),
    )
}
